"""Concurrency on PostgreSQL and SQLite, with real processes: racing redemptions,
replays in different orders, and members racing for the end of a budget."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from ledger_scenarios import purchases
from ledger_workers import redeem_at_barrier, replay, start_all

from punchcard.engine import Engine, MemoryStore
from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow


def test_twenty_tills_redeeming_one_balance_let_exactly_one_through(sql_url, coffee, fork):
    url = sql_url()
    store = SqlStore(url)
    seed = Engine(coffee, store=store).process(
        {"type": "purchase", "id": "seed", "member": "masha", "time": "2026-03-02T12:00:00", "amount": "420",
         "category": "food"})
    balance = seed.balance
    assert balance == Decimal(420)
    barrier, out = fork.Barrier(20), fork.Queue()
    args = [(url, coffee, "masha", balance, i, "2026-03-03T12:00:00", barrier, out) for i in range(20)]
    codes = start_all(fork, redeem_at_barrier, args)
    results = [out.get(timeout=60) for _ in range(20)]
    assert codes == [0] * 20
    outcomes = Counter(outcome for _, outcome, _ in results)
    assert outcomes == {"applied": 1, "rejected": 19}
    assert all("not enough points: 0 available" in reason for _, outcome, reason in results if outcome == "rejected")
    assert store.member("masha").total() == Decimal(0)
    assert store.audit().ok


def _sequential_balances(compiled, events) -> dict[str, Decimal]:
    engine = Engine(compiled, store=MemoryStore())
    for event in events:
        engine.process(event)
    return {m: engine.store.member(m).total() for m in {e["member"] for e in events}}


def test_eight_replays_in_different_orders_apply_each_event_once(sql_url, coffee, fork, tmp_path):
    url = sql_url()
    events = purchases(seed=11, count=1000, members=30)
    orders = [random.Random(i).sample(events, len(events)) for i in range(8)]
    barrier = fork.Barrier(8)
    outs = [tmp_path / f"replay-{i}.json" for i in range(8)]
    # Half batch (different transaction sizes), half one transaction per event.
    args = [(url, coffee, orders[i], [100, 1, 37, 1, 500, 1, 64, 1][i], barrier, str(outs[i])) for i in range(8)]
    assert start_all(fork, replay, args) == [0] * 8
    seen = defaultdict(list)
    for out in outs:
        for event_id, outcome, _points in json.loads(out.read_text()):
            seen[event_id].append(outcome)
    assert len(seen) == 1000
    assert all(sorted(o) == ["applied"] + ["duplicate"] * 7 for o in seen.values())
    store = SqlStore(url)
    expected = _sequential_balances(coffee, events)
    assert {m: store.member(m).total() for m in expected} == expected
    report = store.audit()
    assert report.ok and report.entries == 1000


RACERS = 12


def test_members_racing_for_the_last_hundred_points_never_overspend(sql_url, budget_race, fork, tmp_path):
    url = sql_url()
    store = SqlStore(url)
    warmup = [{"type": "purchase", "id": f"w-{i}", "member": f"early-{i}", "time": "2026-03-01T08:00:00",
               "amount": "1"} for i in range(15)]
    Engine(budget_race, store=store).process_many(warmup)  # 15 x 60: 100 points of the budget are left
    assert store.budgets()["launch-bonus"] == Decimal(900)
    barrier = fork.Barrier(RACERS)
    outs = [tmp_path / f"racer-{i}.json" for i in range(RACERS)]
    args = [(url, budget_race, [{"type": "purchase", "id": f"race-{i}-{j}", "member": f"racer-{i}",
                                 "time": "2026-03-02T08:00:00", "amount": "1"} for j in range(3)],
             1 if i % 2 else 3, barrier, str(outs[i])) for i in range(RACERS)]
    assert start_all(fork, replay, args) == [0] * RACERS
    earned = sum(Decimal(points) for out in outs for _, _, points in json.loads(out.read_text()))
    assert earned == RACERS * 3 * 1 + 100  # every base point, and exactly the 100 bonus points left
    assert store.budgets()["launch-bonus"] == Decimal(1000)
    assert store.audit().ok
