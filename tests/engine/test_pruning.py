"""State grows with members, not events: orders and redemptions are forgotten once the
refund window (plus a quarter, so they go in batches) has passed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine.compile import compile_ruleset
from punchcard.engine.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[2]
COFFEE = compile_ruleset(ROOT / "rulesets/coffee-club.yaml")


def purchases(days: list[int]) -> list[dict]:
    start = dt.datetime(2026, 1, 5, 12, 0)
    return [{"type": "purchase", "id": f"p{i}", "member": "m", "time": (start + dt.timedelta(days=d)).isoformat(),
             "amount": "100", "category": "food"} for i, d in enumerate(days)]


def replay(events: list[dict], owned: bool):
    state = None
    for event in events:
        _, state = evaluate(COFFEE, state, event, owned=owned)
    return state


def test_orders_older_than_the_window_and_a_quarter_are_forgotten():
    events = purchases(list(range(0, 3 * 365, 7)))  # weekly for three years
    state = replay(events, owned=True)
    last = dt.datetime.fromisoformat(events[-1]["time"]).replace(tzinfo=COFFEE.tz)
    horizon = last - dt.timedelta(days=365 + 92 + 31)  # window, the quarter, and a month's slack
    assert state.orders, "recent orders are kept for refunds"
    assert min(o.time for o in state.orders.values()) > horizon
    assert len(state.orders) < len(events) // 2


def test_a_refund_of_a_forgotten_order_is_refused_for_the_window_not_for_pruning():
    events = purchases([0, 400])
    refund = {"type": "refund", "id": "f", "member": "m", "time": events[-1]["time"], "order": "p0", "amount": "1"}
    decision, _ = evaluate(COFFEE, replay(events, owned=True), refund)
    assert decision.outcome == "rejected" and "refund window" in decision.reason


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 1200), min_size=1, max_size=60))
def test_pruning_does_not_depend_on_how_the_state_is_held(days):
    events = purchases(sorted(days))
    assert replay(events, owned=True) == replay(events, owned=False)
