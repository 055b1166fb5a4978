"""Housekeeping's shortcuts and pruning.

State grows with members, not events: orders and redemptions are forgotten once the
refund window (plus a quarter, so they go in batches) has passed. The shortcuts that
let housekeeping skip most lots, and pruning's schedule, never change a decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine.compiler.stages import compile_ruleset
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


# -- the shortcuts housekeeping takes must never change a decision ----------------------
PATHS = [ROOT / "rulesets/retail-tiers.yaml", ROOT / "rulesets/coffee-club.yaml"] + [
    ROOT / f"tests/engine/rulesets/{name}.yaml" for name in ("inactivity", "refunds", "stars-expiry", "streaks")]
_COMPILED = {path: compile_ruleset(path) for path in PATHS}
_BY_NAME = {path.stem: path for path in PATHS}


@st.composite
def histories(draw):
    path = draw(st.sampled_from(PATHS))
    compiled = _COMPILED[path]
    fields = compiled.model.schema_.events["purchase"]
    moment, events, orders, redemptions = dt.datetime(2026, 1, 5, 9, 0), [], [], []
    for i in range(draw(st.integers(1, 40))):
        moment += dt.timedelta(days=draw(st.integers(0, 120)), hours=draw(st.integers(0, 23)))
        event = {"id": f"e{i}", "member": "m", "time": moment.isoformat()}
        kind = draw(st.sampled_from(["purchase", "purchase", "purchase", "redeem", "refund", "reversal", "tick"]))
        if kind == "purchase":
            event.update(type="purchase", amount=str(draw(st.integers(0, 3000))),
                         **({"category": draw(st.sampled_from(["coffee", "food", "gift_card"]))}
                            if "category" in fields else {}))
            orders.append(event["id"])
        elif kind == "redeem":
            event.update(type="redeem", points=str(draw(st.integers(1, 200))))
            redemptions.append(event["id"])
        elif kind == "refund" and orders:
            event.update(type="refund", order=draw(st.sampled_from(orders)), amount=str(draw(st.integers(1, 500))))
        elif kind == "reversal" and redemptions:
            event.update(type="redeem_reversal", redemption=draw(st.sampled_from(redemptions)))
        else:
            event.update(type="tick")
        events.append(event)
    return path.stem, events


def _forget_lot_shortcuts(state):
    state.quiet_until, state.pending_from = None, 0


def _forget_all_shortcuts(state):
    _forget_lot_shortcuts(state)
    state.oldest_record = state.forget_on = None


def _replay(compiled, events, forget=None):
    state, decisions = None, []
    for event in events:
        if state is not None and forget is not None:
            forget(state)
        decision, state = evaluate(compiled, state, event, owned=True)
        decisions.append(decision.to_dict())
    return decisions, state


@settings(max_examples=120, deadline=None, print_blob=True)
@given(histories())
def test_the_lot_shortcut_equals_a_full_pass_every_time(history):
    compiled, events = _COMPILED[_BY_NAME[history[0]]], history[1]
    fast, fast_state = _replay(compiled, events)
    full, full_state = _replay(compiled, events, _forget_lot_shortcuts)
    assert fast == full
    assert fast_state == full_state


@settings(max_examples=60, deadline=None)
@given(histories())
def test_a_state_with_no_remembered_shortcuts_decides_the_same(history):
    """As after loading from storage, where the shortcuts are not kept: the same decisions,
    and the same state (pruning included) afterwards."""
    compiled, events = _COMPILED[_BY_NAME[history[0]]], history[1]
    assert _replay(compiled, events) == _replay(compiled, events, _forget_all_shortcuts)
