"""How a rule's arithmetic is computed (docs/expressions.md, "How arithmetic is computed").

Every `+`, `-`, `*` and `/` gives its exact result when that has at most P significant
digits, P = 46 + the rounding step's decimal places; otherwise the result is rounded half
to even to P significant digits. The event's points are then rounded once to the step.
The expected values here are worked out with fractions and integers, not with Decimal.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.numbers import precision

STEP = Decimal("0.000001")
P = 52  # 46 + 6 decimal places of the step


def _ruleset(expression: str, step: str = "0.000001"):
    return compile_ruleset(f"""
punchcard: 1
ruleset: arithmetic
version: 1.0.0
currency: USD
rounding: {{mode: floor, scope: event, step: {step}}}
schema:
  events:
    purchase: {{amount: money}}
    reading: {{x: number, y: number, z: number}}
earning:
  base: {{on: {"purchase" if "amount" in expression else "reading"}, points: "{expression}"}}
""")


def _points(compiled, **fields) -> Decimal:
    kind = "purchase" if "amount" in fields else "reading"
    decision = Engine(compiled, MemoryStore()).process(
        {"type": kind, "id": "e1", "member": "m", "time": "2026-03-02T12:00:00", **fields})
    assert decision.outcome in ("applied", "rejected"), decision
    return decision.points if decision.outcome == "applied" else None


def round_significant(value: Fraction, digits: int) -> Fraction:
    """``value`` rounded half to even to ``digits`` significant digits, in integers."""
    if value == 0:
        return value
    exponent = math.floor(math.log10(abs(value)))  # a first guess, corrected below
    while abs(value) >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while abs(value) < Fraction(10) ** exponent:
        exponent -= 1
    unit = Fraction(10) ** (exponent - digits + 1)
    scaled = value / unit
    whole = math.floor(scaled)
    rest = scaled - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    return whole * unit


def _floor_to_step(value: Fraction, step: Fraction) -> Fraction:
    return math.floor(value / step) * step


def test_the_precision_is_46_digits_plus_the_steps_places():
    assert precision(Decimal(1)) == 46 and precision(Decimal("0.01")) == 48 and precision(STEP) == P


def test_a_sum_within_the_precision_is_exact_and_past_it_rounds():
    tiny = "0.000000000000001"
    two = _ruleset(f"event.amount - {tiny} * {tiny}", step="1")  # 1299.999...9, 34 digits: exact
    assert _points(two, amount="1300") == Decimal(1299)
    four = _ruleset(f"event.amount - {tiny} * {tiny} * {tiny} * {tiny}", step="1")  # 64 digits: rounds
    assert _points(four, amount="1300") == Decimal(1300)


def test_a_division_rounds_to_the_precision_then_once_to_the_step():
    third = _ruleset("event.amount / 3 * 3", step="1")
    assert _points(third, amount="100") == Decimal(99)  # 33.33...3 (46 digits) * 3 = 99.99...9


positive = st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("9999999"), places=18,
                       allow_nan=False, allow_infinity=False)
OPS = {"+": lambda a, b: a + b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
COMPILED = {op: _ruleset(f"event.x {op} event.y * event.z" if op == "+" else f"event.x {op} event.y {op} event.z")
            for op in OPS}


@settings(max_examples=150, deadline=None)
@given(op=st.sampled_from(sorted(OPS)), x=positive, y=positive, z=positive)
def test_each_operation_rounds_to_p_digits_and_the_total_once_to_the_step(op, x, y, z):
    fx, fy, fz = Fraction(x), Fraction(y), Fraction(z)
    apply = OPS[op]
    if op == "+":  # x + y * z: the product first
        expected = round_significant(fx + round_significant(fy * fz, P), P)
    else:  # left to right
        expected = round_significant(apply(round_significant(apply(fx, fy), P), fz), P)
    points = _floor_to_step(expected, Fraction(STEP))
    got = _points(COMPILED[op], x=str(x), y=str(y), z=str(z))
    if points > 10 ** 15:
        assert got is None  # more than one event may earn: refused, never cut
    else:
        assert got is not None and Fraction(got) == points, (op, x, y, z, got, points)
