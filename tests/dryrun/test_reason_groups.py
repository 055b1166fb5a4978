"""One rule groups reasons, for bad rows and for rejected decisions alike: what varies from
row to row (its own values, ids, the figures of one event or member) becomes '…'; the words
and the numbers that say why (bounds, the rounding step, units, dates) stay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.engine.dryrun import formats, tally
from punchcard.engine.dryrun.formats import group_reason
from punchcard.engine.dryrun.tally import Tally
from punchcard.engine.runtime.decision import Decision, Outcome


def test_one_grouping_rule_is_left():
    assert not hasattr(tally, "normalize_reason") and not hasattr(formats, "mask_values")


@pytest.mark.parametrize("reason, group", [
    ("this event would take the balance to 1000000000000000001 points, past the 1,000,000,000,000,000,000 a member "
     "may hold", "this event would take the balance to … points, past the 1,000,000,000,000,000,000 a member may hold"),
    ("amount is more than the largest amount accepted, 1,000,000,000,000 RUB",
     "amount is more than the largest amount accepted, 1,000,000,000,000 RUB"),
    ("points must be a multiple of the ruleset's rounding step, 1",
     "points must be a multiple of the ruleset's rounding step, 1"),
    ("amount has more than 18 digits before the decimal point",
     "amount has more than 18 digits before the decimal point"),
    ("amount has 3 decimal places; RUB amounts have at most 2 decimal places",
     "amount has 3 decimal places; RUB amounts have at most 2 decimal places"),
    ("coffee-club takes effect on 2026-04-01", "coffee-club takes effect on 2026-04-01"),
    ("not enough points: 120 available, 500 needed", "not enough points: … available, … needed"),
    ("refund of 12.50 is more than the 3.5 still refundable on order o-7",
     "refund of … is more than the … still refundable on order …"),
    ("unknown order 'o-17': it was never earned on", "unknown order '…': it was never earned on"),
    ("redemption r-5 already exists", "redemption … already exists"),
    ("missing field 'category' (string)", "missing field 'category' (string)"),
])
def test_figures_and_ids_go_and_the_meaning_stays(reason, group):
    assert group_reason(reason, ("r-5", "o-7", "masha")) == group


@given(st.integers(min_value=0, max_value=10 ** 30), st.integers(min_value=0, max_value=10 ** 30))
def test_decisions_refused_for_one_reason_group_together(have, need):
    counts = Tally(tz=None)
    for event_id, reason in (("e-1", f"not enough points: {have} available, {need} needed"),
                             ("e-2", "not enough points: 7 available, 9 needed")):
        counts.add(Decision(event_id, "m", "r@1", Outcome.REJECTED, reason=reason), 1)
    assert [key[1] for key in counts.reasons] == ["not enough points: … available, … needed"]
