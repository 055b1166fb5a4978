"""Optimistic budgets on PostgreSQL: a single event reads a campaign budget without
locking it and draws on it with a conditional UPDATE at commit. Another member's draw
in between is interleaved deterministically (from inside the first unit, on a second
connection): the budget is never overspent, and a decision the draw would change is
made again with the budget locked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event

from punchcard.engine import Engine
from punchcard.plugins.sql.store import SqlStore

LIMIT = Decimal(1000)  # budget-race: 60 bonus points an event, 1000 in all


def purchase(member: str, event_id: str) -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": "2026-03-02T08:00:00", "amount": "1"}


def _interleave(store: SqlStore, during) -> list[bool]:
    """Run ``during()`` right after the first unit read its budgets; returns, per unit
    opened, whether it was contended."""
    real = store.unit_of_work
    opened: list[bool] = []

    def unit_of_work(member_id, *, contended=False, **expected):
        unit = real(member_id, contended=contended, **expected)
        opened.append(contended)
        read = unit.budgets_used

        def budgets_used(rules):
            used = read(rules)
            if len(opened) == 1:
                during()
            return used

        unit.budgets_used = budgets_used
        return unit

    store.unit_of_work = unit_of_work
    return opened


def _impatient(store: SqlStore) -> SqlStore:
    """Waiting more than two seconds for a lock is an error: a block is seen, not hung on."""
    def connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        dbapi_connection.commit()

    sa_event.listen(store.engine, "connect", connect)
    store.engine.dispose()
    return store


@pytest.fixture
def pg(store_urls, budget_race):
    url = store_urls.new("postgresql")
    first, second = SqlStore(url), _impatient(SqlStore(url))
    yield Engine(budget_race, store=first), Engine(budget_race, store=second)
    first.close()
    second.close()


def _warm_up(engine: Engine, events: int) -> None:
    engine.process_many([purchase(f"early-{i}", f"w-{i}") for i in range(events)])


def test_the_first_draw_on_a_budget_creates_its_row_locked(pg):
    engine, _ = pg
    opened = _interleave(engine.store, lambda: None)
    assert engine.process(purchase("ann", "a-1")).points == Decimal(61)
    assert opened == [False, True]  # no row to draw on without a lock: run again, contended
    assert engine.store.budgets()["launch-bonus"] == Decimal(60)


def test_a_draw_meanwhile_that_leaves_room_costs_no_retry(pg):
    engine, other = pg
    _warm_up(engine, 1)
    opened = _interleave(engine.store, lambda: other.process(purchase("bob", "b-1")))
    decision = engine.process(purchase("ann", "a-1"))
    assert opened == [False]  # read without a lock, drawn at commit, once
    assert decision.points == Decimal(61)
    assert engine.store.budgets()["launch-bonus"] == Decimal(180)
    assert engine.store.audit().ok


def test_a_draw_meanwhile_that_matters_makes_the_event_run_again_locked(pg):
    engine, other = pg
    _warm_up(engine, 15)  # 900 used: room for 100 more
    opened = _interleave(engine.store, lambda: other.process(purchase("bob", "b-1")))
    decision = engine.process(purchase("ann", "a-1"))  # read 900 and drew 60; bob took 960 meanwhile
    assert opened == [False, True]
    assert decision.points == Decimal(41)  # 1 base point and the 40 the budget had left
    assert any(e.kind == "budget" and e.detail == {"rule": "launch-bonus", "clipped": True} for e in decision.effects)
    assert engine.store.budgets()["launch-bonus"] == LIMIT
    assert engine.store.audit().ok


def test_a_decision_the_budget_cut_stands_only_on_the_exact_budget(pg):
    engine, other = pg
    _warm_up(engine, 16)  # 960 used: the next decision is cut to 40
    opened = _interleave(engine.store, lambda: other.process(purchase("bob", "b-1")))  # takes the 40
    decision = engine.process(purchase("ann", "a-1"))
    assert opened == [False, True]
    assert decision.points == Decimal(1)  # the budget is spent: base points only
    assert engine.store.budgets()["launch-bonus"] == LIMIT
    assert engine.store.audit().ok


def test_members_do_not_wait_for_each_other_on_a_budget(pg):
    engine, other = pg
    _warm_up(engine, 1)
    with engine.store.unit_of_work("ann") as unit:  # a budget read, held open
        assert unit.processed("a-1") is None
        unit.budgets_used({"launch-bonus": LIMIT})
        assert other.process(purchase("bob", "b-1")).points == Decimal(61)  # would wait on a locked row
