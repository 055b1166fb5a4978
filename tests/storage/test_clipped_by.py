"""A decision was clipped by a budget when its budget effect says so, and only then."""

from __future__ import annotations

from decimal import Decimal

import pytest

from punchcard.engine import Decision, Effect, Step
from punchcard.plugins.sql.record import clipped_by


def _decision(*effects: Effect, trace: tuple[Step, ...] = ()) -> Decision:
    return Decision("e-1", "m-1", "budgets@1.0.0", "applied", points=Decimal(5), effects=effects, trace=trace)


def test_a_budget_effect_marked_clipped_clips_its_rule():
    decision = _decision(Effect("budget", Decimal(5), None, {"rule": "launch", "clipped": True}))
    assert clipped_by(decision, "launch")
    assert not clipped_by(decision, "other")


def test_a_budget_that_cut_everything_clips_with_nothing_used():
    assert clipped_by(_decision(Effect("budget", Decimal(0), None, {"rule": "launch", "clipped": True})), "launch")


@pytest.mark.parametrize("effects", [
    (Effect("budget", Decimal(5), None, {"rule": "launch"}),),
    (Effect("budget", Decimal(5), None, {"rule": "launch", "clipped": False}),),
    (Effect("earn", Decimal(5), "lot-1", {"rule": "launch", "clipped": True}),),
    (),
])
def test_without_a_clipped_budget_effect_nothing_is_clipped(effects):
    assert not clipped_by(_decision(*effects), "launch")


def test_the_trace_alone_does_not_clip():
    fired = Step("caps", "budget:launch", True, "cut to what the budget has left")
    assert not clipped_by(_decision(Effect("budget", Decimal(5), None, {"rule": "launch"}), trace=(fired,)),
                          "launch")
