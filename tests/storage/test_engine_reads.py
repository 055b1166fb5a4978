"""Reading a member by an id no event could carry (a NUL or another control character) is
an answer, not a store failure: on every store the engine says there is no such member,
without asking the store (PostgreSQL would refuse even to look the id up)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

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
