"""What the simulation found in the engine, kept as cases of their own.

docs/semantics.md: "Whether a refund or a reversal is accepted depends on the window
alone, never on when memory was tidied." A late event (earlier than the member's last
one, as from a till that was offline) is accepted by the engine; housekeeping at a later
event forgets an order or a redemption once it is past the window at the member's clock.
So the window is measured to that clock too, and a late refund or reversal gets the same
answer whether or not housekeeping ran in between.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_driver import RULESET, Shape, simulate

import punchcard


def _member():
    engine = punchcard.Engine(punchcard.compile(RULESET))
    return lambda **event: engine.process({"member": "m", **event})


@pytest.mark.parametrize("later", ["tick", "purchase"])
def test_a_late_refund_past_the_window_at_the_members_clock_is_refused_either_way(later):
    """The window of p1 ends 04-10; the member was seen on 04-20, by a tick or a purchase."""
    send = _member()
    assert send(type="purchase", id="p1", time="2026-01-10T00:00:00Z", amount="10.00").points == 15
    extra = {"amount": "1.00"} if later == "purchase" else {}
    assert send(type=later, id="l1", time="2026-04-20T00:00:00Z", **extra).outcome == "applied"
    late = send(type="refund", id="r1", time="2026-04-05T00:00:00Z", order="p1", amount="5.00")
    assert late.outcome == "rejected" and "older than the refund window" in late.reason


def test_a_late_refund_inside_the_window_at_the_members_clock_is_accepted():
    send = _member()
    send(type="purchase", id="p1", time="2026-01-10T00:00:00Z", amount="10.00")
    send(type="tick", id="t1", time="2026-04-08T00:00:00Z")
    late = send(type="refund", id="r1", time="2026-04-05T00:00:00Z", order="p1", amount="5.00")
    assert late.outcome == "applied" and late.points == Decimal("-7.50")


def test_the_same_refund_is_accepted_when_nothing_came_after_it():
    send = _member()
    send(type="purchase", id="p1", time="2026-01-10T00:00:00Z", amount="10.00")
    refund = send(type="refund", id="r1", time="2026-04-05T00:00:00Z", order="p1", amount="5.00")
    assert refund.outcome == "applied" and refund.points == Decimal("-7.50")


@pytest.mark.parametrize("later", ["tick", "purchase"])
def test_a_late_reversal_is_judged_at_the_members_clock_either_way(later):
    send = _member()
    send(type="purchase", id="p1", time="2026-01-10T00:00:00Z", amount="10.00")
    assert send(type="redeem", id="x1", time="2026-01-20T00:00:00Z", points="5.00").outcome == "applied"
    extra = {"amount": "1.00"} if later == "purchase" else {}
    assert send(type=later, id="l1", time="2026-05-01T00:00:00Z", **extra).outcome == "applied"
    late = send(type="redeem_reversal", id="v1", time="2026-04-15T00:00:00Z", redemption="x1")  # window: 04-20
    assert late.outcome == "rejected" and "older than the refund window" in late.reason


def test_histories_with_late_refunds_and_reversals_end_in_the_oracles_ledger():
    """Late refunds and reversals, with and without housekeeping between: the oracle agrees."""
    for seed in range(1, 21):
        simulate("memory", seed, Shape(events=3000, members=6, workers=2, late_records=True))
