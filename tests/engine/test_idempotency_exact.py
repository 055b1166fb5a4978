"""Idempotency compares exact bodies: an id sent again with any other number is a conflict.

Equal numbers written differently ("10", "10.0", 10) are the same body; numbers that
differ anywhere, down to the last digit a field may carry, are not.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.events import canonical_json

RULESET = compile_ruleset("""
punchcard: 1
ruleset: exact-ids
version: 1.0.0
currency: USD
rounding: {mode: floor, scope: event, step: 0.01}
schema:
  events:
    purchase: {amount: money}
    reading: {value: number}
earning:
  base: {on: purchase, points: event.amount}
""")
TIME = "2026-03-02T08:15:00+00:00"


def _event(kind: str, value, event_id: str = "e1") -> dict:
    name = "amount" if kind == "purchase" else "value"
    return {"type": kind, "id": event_id, "member": "m1", "time": TIME, name: value}


def test_an_amount_that_differs_in_its_last_digit_is_a_conflict():
    engine = Engine(RULESET, MemoryStore())
    assert engine.process(_event("purchase", "10.00")).outcome == "applied"
    again = engine.process(_event("purchase", "10.01"))
    assert again.outcome == "rejected" and again.reason.startswith("conflict")
    assert engine.member("m1").total() == Decimal("10.00")


def test_a_long_decimal_differing_only_in_a_far_digit_is_a_conflict():
    engine = Engine(RULESET, MemoryStore())
    first = "123456789012345678.123456789012345671"
    assert engine.process(_event("reading", first)).outcome == "applied"
    again = engine.process(_event("reading", first[:-1] + "2"))
    assert again.outcome == "rejected" and again.reason.startswith("conflict"), again.reason


def test_an_amount_with_digits_past_the_minor_unit_is_never_a_duplicate():
    engine = Engine(RULESET, MemoryStore())
    assert engine.process(_event("purchase", "10.00")).outcome == "applied"
    again = engine.process(_event("purchase", "10.000000000000000000000000000001"))
    assert again.outcome == "rejected" and "decimal places" in again.reason


def test_the_same_number_written_another_way_is_a_duplicate():
    engine = Engine(RULESET, MemoryStore())
    assert engine.process(_event("purchase", "10.50")).outcome == "applied"
    for same in ("10.5", Decimal("10.500"), 10.5, "1.05e1"):
        assert engine.process(_event("purchase", same)).outcome == "duplicate"


readings = st.decimals(min_value=Decimal("-1e17"), max_value=Decimal("1e17"), places=18, allow_nan=False,
                       allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(first=readings, second=readings)
def test_the_digest_tells_two_numbers_apart_exactly(first, second):
    schema = RULESET.schema
    a, b = schema.parse(_event("reading", str(first))), schema.parse(_event("reading", str(second)))
    assert (a.digest == b.digest) == (first == second)
    assert (canonical_json(a.body) == canonical_json(b.body)) == (first == second)
