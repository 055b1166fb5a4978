"""Reading a member by an id no event could carry (a NUL or another control character) is
an answer, not a store failure: on every store the engine says there is no such member,
without asking the store (PostgreSQL would refuse even to look the id up)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from punchcard.engine import Engine, compile_ruleset

COFFEE = compile_ruleset(Path(__file__).resolve().parents[2] / "rulesets/coffee-club.yaml")
UNREADABLE = ["a\x00b", "\x00", "tab\tin", "bell\x07", "line\nbreak"]


@pytest.mark.parametrize("member_id", UNREADABLE)
def test_an_id_no_event_could_carry_has_no_member(store_factory, member_id):
    engine = Engine(COFFEE, store_factory())
    engine.process({"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00",
                    "amount": "150", "category": "coffee"})
    at = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    assert engine.member(member_id) is None
    assert engine.member_at(member_id, at)[0] is None
    assert engine.offers(member_id, at) == engine.offers("nobody-yet", at)  # as for a member never seen
    assert engine.member("masha") is not None  # the store still answers for a real one


@pytest.mark.parametrize("at", [dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                                dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
                                dt.datetime(9000, 1, 1)])
def test_a_moment_outside_the_years_an_event_may_have_is_a_clear_error(at):
    engine = Engine(COFFEE)
    for read in (engine.member_at, engine.offers):
        with pytest.raises(ValueError, match="outside the supported range"):
            read("masha", at)


def test_a_member_read_alone_on_postgresql_is_the_member_read_with_others(store_urls):
    """One member's child rows come in one statement (children.py); several members' in a
    statement per table. Lots, records, tier windows, streaks and history read back the
    same either way, and as the memory store holds them."""
    from punchcard.engine import MemoryStore
    from punchcard.plugins.sql.models import Member
    from punchcard.plugins.sql.repository import load_members
    from punchcard.plugins.sql.store import SqlStore

    retail = compile_ruleset(Path(__file__).resolve().parents[2] / "rulesets/retail-tiers.yaml")
    store = SqlStore(store_urls.new("postgresql"))
    engines = [Engine(retail, store), Engine(retail, MemoryStore())]
    for day in range(1, 9):
        for member in ("masha", "dasha"):
            time = f"2026-03-{day:02d}T0{day % 9}:15:00"
            events = [{"type": "check_in", "id": f"c-{member}-{day}", "member": member, "time": time},
                      {"type": "purchase", "id": f"o-{member}-{day}", "member": member, "time": time,
                       "amount": str(40 * day), "category": "shoes"}]
            for engine in engines:
                engine.process_many(events)
    with store.engine.connect() as conn:
        rows = list(conn.execute(select(Member.__table__).order_by(Member.__table__.c.member_id)))
        alone = {row.member_id: load_members(conn, [row])[row.member_id].state for row in rows}
        together = {member: loaded.state for member, loaded in load_members(conn, rows).items()}
    held = engines[1].store
    assert alone == together == {member: held.member(member) for member in ("dasha", "masha")}
    masha = alone["masha"]
    assert masha.lots and masha.orders and masha.streaks and masha.history and masha.tier.metric
    store.close()
