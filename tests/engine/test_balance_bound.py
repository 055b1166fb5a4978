"""A member's balance stays within 10^18 points either way, and a rounding step has at most
6 decimals: together they keep every balance, lot and entry within 25 significant digits,
so the stores' and the audit's ordinary 28-digit sums are exact too."""

from __future__ import annotations

from decimal import Decimal

import pytest

from punchcard.dsl.errors import PunchcardError
from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.numbers import MAX_BALANCE, MAX_POINTS

RULESET = """punchcard: 1
ruleset: balance-bound
version: 1.0.0
timezone: UTC
currency: USD
rounding: {{mode: floor, scope: event, step: {step}}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
points:
  refunds: {{clawback: proportional, negative_balance: allow}}
"""


def _adjust(n: int, points: Decimal) -> dict:
    return {"type": "adjust", "id": f"a-{n}", "member": "m", "time": "2026-05-01T10:00:00",
            "points": str(points), "reason": "migration"}


def test_an_event_that_would_pass_the_balance_bound_is_refused_and_changes_nothing():
    engine = Engine(compile_ruleset(RULESET.format(step="1")), MemoryStore())
    needed = int(MAX_BALANCE / MAX_POINTS)
    for n in range(needed):
        assert engine.process(_adjust(n, MAX_POINTS)).outcome == "applied"
    assert engine.member("m").total() == MAX_BALANCE
    refused = engine.process(_adjust(needed, Decimal(1)))
    assert refused.outcome == "rejected"
    assert "a member may hold" in refused.reason
    assert engine.member("m").total() == MAX_BALANCE
    assert engine.process(_adjust(needed + 1, -MAX_POINTS)).outcome == "applied"


def test_a_negative_balance_is_bounded_too():
    engine = Engine(compile_ruleset(RULESET.format(step="1")), MemoryStore())
    needed = int(MAX_BALANCE / MAX_POINTS)
    for n in range(needed):
        assert engine.process(_adjust(n, -MAX_POINTS)).outcome == "applied"
    refused = engine.process(_adjust(needed, Decimal(-1)))
    assert refused.outcome == "rejected" and "a member may hold" in refused.reason
    assert engine.member("m").total() == -MAX_BALANCE


@pytest.mark.parametrize("step", ["0.000001", "0.5", "1", "25"])
def test_steps_of_up_to_six_decimals_are_accepted(step):
    assert compile_ruleset(RULESET.format(step=step)).model.rounding.step == Decimal(step)


@pytest.mark.parametrize("step", ["0.0000001", "1E-15", "0", "-1"])
def test_finer_steps_are_refused_by_check(step):
    with pytest.raises(PunchcardError) as caught:
        compile_ruleset(RULESET.format(step=step))
    assert "step must be a positive number with at most 6 decimals" in str(caught.value)
