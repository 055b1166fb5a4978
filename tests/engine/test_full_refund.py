"""A refund of everything still refundable takes back all the order earned, without asking
its rules what an order of 0 would have earned: a rule that divides by the amount, or a
flat bonus, must neither reject the refund nor keep points for an order that is gone."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset

RULESET = """punchcard: 1
ruleset: full-refund
version: 1.0.0
timezone: UTC
currency: USD
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - {id: per-basket, on: purchase, bonus: 1000 / event.amount}
    - {id: flat, on: purchase, bonus: 7}
  stacking: {multipliers: add, groups: best}
points:
  refunds: {clawback: proportional, negative_balance: refuse}
"""
COMPILED = compile_ruleset(RULESET)


def _event(kind: str, event_id: str, day: int, **fields) -> dict:
    return {"type": kind, "id": event_id, "member": "m", "time": f"2026-05-{day:02d}T10:00:00",
            **{k: str(v) for k, v in fields.items()}}


def test_a_full_refund_takes_back_everything_and_is_not_rejected():
    engine = Engine(COMPILED)
    bought = engine.process(_event("purchase", "o-1", 1, amount=200))
    assert bought.outcome == "applied" and bought.balance > 0
    refunded = engine.process(_event("refund", "f-1", 2, order="o-1", amount=200))
    assert refunded.outcome == "applied", refunded.reason
    assert refunded.points == -bought.points
    assert refunded.balance == 0


@settings(max_examples=60, deadline=None)
@given(amount=st.integers(1, 10_000), splits=st.lists(st.integers(1, 100), min_size=1, max_size=4))
def test_refunds_that_add_up_to_the_order_leave_nothing(amount, splits):
    """However a refund is split, once the whole amount is back the order has earned 0."""
    engine = Engine(COMPILED)
    earned = engine.process(_event("purchase", "o-1", 1, amount=amount)).points
    parts = [max(1, amount * s // sum(splits)) for s in splits]
    parts = [p for p in parts if p > 0]
    refunded, last = 0, None
    for i, share in enumerate(parts):
        part = min(share, amount - refunded)
        if part <= 0:
            break
        last = engine.process(_event("refund", f"f-{i}", 2 + i, order="o-1", amount=part))
        assert last.outcome == "applied", last.reason
        refunded += part
    if refunded < amount:
        last = engine.process(_event("refund", "f-last", 9, order="o-1", amount=amount - refunded))
        assert last.outcome == "applied", last.reason
    assert last is not None and last.balance == Decimal(0)
    assert engine.member("m").total() == 0 and earned > 0
