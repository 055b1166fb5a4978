"""A catalogue reward's stock on PostgreSQL and SQLite, with real processes racing for the
last units: the stock never goes negative, no more units are sold than there were, each
redemption is applied once however often it is sent, and a reversed sale puts its unit back."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from ledger_workers import BARRIER_SECONDS, start_all

import punchcard
from punchcard.engine import Engine
from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow

STOCK = 3
RACERS = 12
RULESET = f"""
punchcard: 1
ruleset: stock-race
version: 1.0.0
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
rewards:
  - {{id: lamp, name: Desk lamp, points: 100, stock: {STOCK}}}
"""


@pytest.fixture(scope="module")
def stock_race(tmp_path_factory):
    path = tmp_path_factory.mktemp("stock") / "stock-race.yaml"
    path.write_text(RULESET, encoding="utf-8")
    return punchcard.compile(str(path))


def _redeem(member: str, event_id: str, minute: int = 0) -> dict:
    return {"type": "redeem", "id": event_id, "member": member, "time": f"2026-03-03T12:{minute:02d}:00",
            "reward": "lamp"}


def _seeded(url: str, compiled) -> SqlStore:
    store = SqlStore(url)
    engine = Engine(compiled, store=store)
    for i in range(RACERS):
        engine.process({"type": "purchase", "id": f"seed-{i}", "member": f"m-{i}", "time": "2026-03-02T12:00:00",
                        "amount": "250"})
    return store


def buy_at_barrier(url, compiled, events, batch, barrier, out) -> None:
    """Send ``events`` once the barrier opens, one by one or as one batch."""
    engine = Engine(compiled, store=SqlStore(url, batch_size=max(batch, 1)))
    engine.store.member(events[0]["member"])  # connected and warm before the race starts
    barrier.wait(BARRIER_SECONDS)
    decisions = engine.process_many(events) if batch > 1 else [engine.process(e) for e in events]
    for decision in decisions:
        out.put((decision.event_id, decision.member_id, str(decision.outcome), decision.reason))
    engine.store.close()


def _race(fork, url, compiled, work: list[tuple[list[dict], int]]) -> list[tuple]:
    barrier, out = fork.Barrier(len(work)), fork.Queue()
    codes = start_all(fork, buy_at_barrier, [(url, compiled, events, batch, barrier, out) for events, batch in work])
    results = [out.get(timeout=120) for _ in range(sum(len(events) for events, _ in work))]
    assert codes == [0] * len(work)
    return results


def test_racing_members_buy_exactly_the_stock(sql_url, stock_race, fork):
    url = sql_url()
    store = _seeded(url, stock_race)
    # half the tills send one event per transaction, half a batch of one member's two tries
    work = [([_redeem(f"m-{i}", f"buy-{i}")], 1) for i in range(0, RACERS, 2)]
    work += [([_redeem(f"m-{i}", f"buy-{i}"), _redeem(f"m-{i}", f"again-{i}", 1)], 2) for i in range(1, RACERS, 2)]
    results = _race(fork, url, stock_race, work)
    sold = [r for r in results if r[2] == "applied"]
    assert len(sold) == STOCK
    assert all("out of stock" in (reason or "") for *_, outcome, reason in results if outcome == "rejected")
    assert store.budgets()["reward:lamp"] == Decimal(STOCK)
    balances = {f"m-{i}": store.member(f"m-{i}").total() for i in range(RACERS)}
    bought = Counter(member for _, member, *_ in sold)
    assert balances == {m: Decimal(250 - 100 * bought[m]) for m in balances}
    assert store.audit().ok
    store.close()


def test_the_same_redemption_sent_by_many_tills_is_sold_once(sql_url, stock_race, fork):
    url = sql_url()
    store = _seeded(url, stock_race)
    results = _race(fork, url, stock_race, [([_redeem("m-0", "buy-once")], 1) for _ in range(8)])
    outcomes = Counter(outcome for _, _, outcome, _ in results)
    assert outcomes == {"applied": 1, "duplicate": 7}
    assert store.budgets()["reward:lamp"] == Decimal(1)
    assert store.member("m-0").total() == Decimal(150)
    assert store.audit().ok
    store.close()


def test_a_reversed_sale_puts_its_unit_back_for_the_next_buyer(sql_url, stock_race):
    url = sql_url()
    store = _seeded(url, stock_race)
    engine = Engine(stock_race, store=store)
    outcomes = [engine.process(_redeem(f"m-{i}", f"buy-{i}", i)).outcome for i in range(STOCK + 1)]
    assert outcomes == ["applied"] * STOCK + ["rejected"]
    undo = {"type": "redeem_reversal", "id": "undo-0", "member": "m-0", "time": "2026-03-03T13:00:00",
            "redemption": "buy-0"}
    assert engine.process(undo).points == Decimal(100)
    assert store.budgets()["reward:lamp"] == Decimal(STOCK - 1)
    assert engine.process(_redeem("m-9", "buy-late", 30)).outcome == "applied"
    assert engine.process(_redeem("m-10", "buy-later", 31)).reason == "reward lamp is out of stock"
    assert store.budgets()["reward:lamp"] == Decimal(STOCK)
    assert store.audit().ok
    store.close()
