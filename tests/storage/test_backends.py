"""Every backend behaves like the in-memory reference: same decisions, same state."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ledger_scenarios import mixed_events

from punchcard.engine import Engine, MemoryStore

PURCHASE = {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00", "amount": "150",
            "category": "coffee"}


def reference(compiled, events):
    engine = Engine(compiled, store=MemoryStore())
    return engine, [engine.process(e) for e in events]


def test_a_purchase_is_stored_and_read_back(store_factory, coffee):
    store = store_factory()
    decision = Engine(coffee, store=store).process(PURCHASE)
    assert (decision.outcome, decision.points, decision.balance) == ("applied", Decimal(300), Decimal(300))
    state = store.member("masha")
    assert state.total() == Decimal(300) and [lot.id for lot in state.lots] == ["o-1"]
    assert [d.event_id for d in store.decisions("masha")] == ["o-1"]
    assert store.member("nobody") is None


def test_a_fresh_store_is_empty(store_factory):
    first, second = store_factory(), store_factory()
    Engine_ = Engine
    assert first is not second
    assert first.member("masha") is None and second.decisions("masha") == []
    assert isinstance(Engine_, type)


def test_decisions_are_newest_first_and_limited(store_factory, coffee):
    store = store_factory()
    engine = Engine(coffee, store=store)
    for day in range(1, 6):
        engine.process({**PURCHASE, "id": f"o-{day}", "time": f"2026-03-0{day + 1}T08:15:00"})
    assert [d.event_id for d in store.decisions("masha", limit=3)] == ["o-5", "o-4", "o-3"]


@pytest.mark.parametrize("seed", [1, 7])
def test_every_event_type_gives_the_reference_decisions_and_state(store_factory, everything, seed):
    events = mixed_events(seed, 250)
    ref_engine, expected = reference(everything, events)
    store = store_factory()
    engine = Engine(everything, store=store)
    got = [engine.process(e) for e in events]
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    for member in {e["member"] for e in events}:
        assert store.member(member) == ref_engine.store.member(member), member


@pytest.mark.parametrize("seed", [3])
def test_process_many_decides_exactly_what_one_by_one_does(store_factory, everything, seed, caplog):
    caplog.set_level("INFO", logger="punchcard.store.sql")
    events = mixed_events(seed, 400)
    ref_engine, expected = reference(everything, events)
    store = store_factory()
    if hasattr(store, "batch_size"):
        store.batch_size = 64  # several transactions, members spread across them
    engine = Engine(everything, store=store)
    got = engine.process_many(events)
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    for member in {e["member"] for e in events}:
        assert store.member(member) == ref_engine.store.member(member), member
    assert [d.outcome for d in engine.process_many(events[:50])] == ["duplicate"] * 50
    assert not [r.message for r in caplog.records if "batch of" in r.message]  # no retries, no fallback


def test_an_invalid_event_in_a_batch_shows_the_balance_after_the_events_before_it(store_factory, everything):
    """As one by one: its member's balance after the batch's earlier events, not before them."""
    events = []
    for index, event in enumerate(mixed_events(5, 300)):
        events.append(event)
        if index % 6 == 5:  # the same member, a moment later, with a time that is not one
            events.append({**event, "id": f"bad-{index}", "time": "not a time"})
    _, expected = reference(everything, events)
    store = store_factory()
    if hasattr(store, "batch_size"):
        store.batch_size = 64
    got = Engine(everything, store=store).process_many(events)
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    rejected = [d for d in got if d.event_id.startswith("bad-")]
    assert len(rejected) == 50 and any(d.balance for d in rejected)


def test_budget_totals_match_the_reference(store_factory, budget_race):
    events = [{"type": "purchase", "id": f"b-{i}", "member": f"m{i % 5}", "time": "2026-03-02T08:00:00",
               "amount": "10"} for i in range(20)]
    ref_engine, expected = reference(budget_race, events)
    store = store_factory()
    got = Engine(budget_race, store=store).process_many(events)
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    assert store.budgets()["launch-bonus"] == Decimal(1000) == ref_engine.store.budgets()["launch-bonus"]


@pytest.mark.parametrize(("batch", "members"), [(False, 4), (True, 4), (True, 40)])
def test_every_event_reads_its_member_back_from_the_database(sql_url, everything, batch, members, monkeypatch):
    """With the member cache off, each event's state comes from the rows alone. Forty
    members a chunk write their rows on PostgreSQL through the temporary table."""
    from punchcard.plugins.sql import writes
    from punchcard.plugins.sql.store import SqlStore

    copied, real = [], writes._copied_members

    def counted(conn, rows):
        copied.append(len(rows))
        return real(conn, rows)

    monkeypatch.setattr(writes, "_copied_members", counted)
    events = mixed_events(11, 250 if members < 16 else 600, members)
    ref_engine, expected = reference(everything, events)
    store = SqlStore(sql_url(), cache_size=0, batch_size=16 if members < 16 else 200)
    engine = Engine(everything, store=store)
    got = engine.process_many(events) if batch else [engine.process(e) for e in events]
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    for member in {e["member"] for e in events}:
        assert store.member(member) == ref_engine.store.member(member), member
    assert bool(copied) == (members >= writes.COPY_FROM and store.dialect.postgres)


def test_the_member_cache_never_serves_a_stale_member(sql_url, coffee):
    """Two stores on one database: each sees the other's writes (the version moved)."""
    from punchcard.plugins.sql.store import SqlStore

    url = sql_url()
    first, second = Engine(coffee, store=SqlStore(url)), Engine(coffee, store=SqlStore(url))
    first.process(PURCHASE)
    second.process({**PURCHASE, "id": "o-2", "time": "2026-03-03T08:15:00"})
    third = first.process({**PURCHASE, "id": "o-3", "time": "2026-03-04T08:15:00"})
    assert third.balance == Decimal(900)


FRACTIONS = """\
punchcard: 1
ruleset: fractions
version: 1.0.0
timezone: UTC
rounding: {mode: floor, scope: rule, step: 0.01}
schema:
  events:
    purchase: {amount: money}
earning:
  base:
    on: purchase
    points: event.amount / 10
  rules:
    - {id: tenth, on: purchase, bonus: 0.1}
  stacking: {multipliers: add, groups: best}
  budgets:
    - {rule: tenth, max_points: 1000}
"""


@pytest.mark.parametrize("batch", [False, True])
def test_fractional_points_stay_exact(store_factory, batch):
    import punchcard

    compiled = punchcard.compile(FRACTIONS)
    events = [{"type": "purchase", "id": f"f-{i}", "member": f"m{i % 2}", "time": "2026-03-02T08:00:00",
               "amount": "0.7"} for i in range(3)]
    store = store_factory()
    engine = Engine(compiled, store=store)
    decisions = engine.process_many(events) if batch else [engine.process(e) for e in events]
    assert [d.points for d in decisions] == [Decimal("0.17")] * 3
    assert store.budgets()["tenth"] == Decimal("0.3")
    assert store.member("m0").total() == Decimal("0.34")
    if hasattr(store, "audit"):
        assert store.audit().ok



@pytest.fixture
def role_without_temporary_tables(postgres_url):
    """A migrated database whose own role may not create temporary tables (making the role
    and the database needs a superuser, as the throwaway cluster's)."""
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from punchcard.plugins.sql import migrate
    from punchcard.plugins.sql.connect import create_sql_engine

    name = f"punchcard_notemp_{os.getpid()}"
    server = make_url(postgres_url).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    drop = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{name}"']
    with admin.connect() as conn:
        for statement in [*drop, f'CREATE ROLE "{name}" LOGIN', f'CREATE DATABASE "{name}" OWNER "{name}"',
                          f'REVOKE TEMPORARY ON DATABASE "{name}" FROM PUBLIC, "{name}"']:
            conn.execute(text(statement))
    url = server.set(username=name, database=name).render_as_string(hide_password=False)
    migration = create_sql_engine(url)
    migrate.upgrade(migration)
    migration.dispose()
    yield url
    with admin.connect() as conn:
        for statement in drop:
            conn.execute(text(statement))
    admin.dispose()


def test_a_role_without_temporary_tables_still_stores_batches(role_without_temporary_tables, everything, caplog):
    """A hardened database may revoke TEMPORARY: a batch's member rows then go one UPDATE
    each, with a warning, and the batch decides and stores exactly what one-by-one does."""
    from punchcard.plugins.sql.store import SqlStore

    events = mixed_events(5, 400, 40)
    ref_engine, expected = reference(everything, events)
    store = SqlStore(role_without_temporary_tables, cache_size=0, batch_size=200)
    got = Engine(everything, store=store).process_many(events)
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    for member in {e["member"] for e in events}:
        assert store.member(member) == ref_engine.store.member(member), member
    assert store.audit().ok
    assert any("may not create temporary tables" in r.getMessage() for r in caplog.records)
    store.close()
