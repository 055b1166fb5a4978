"""Refunding an order an offer paid on: the order is re-priced with the offers whose granted rules
paid on it (as they were then), so a part refund keeps the offer's share of what is left, and
the clawbacks of an order never add up to more than it earned."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from offers_support import purchase, ruleset

import punchcard
from punchcard.engine import evaluate

# three offers, all selected by the first purchase: a double on tea, a basket bonus, a flat bonus
THREE = punchcard.compile(ruleset("""\
    - {id: tea-double, type: double_points, category: tea, min_purchase: 50, valid_for: 7 days}
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40, valid_for: 7 days}
    - {id: flat, type: custom, grant: {bonus: 15}, valid_for: 7 days}
""", choose="{on: [purchase], rank: offer.value, top: 3, max_active: 3}", extra="""\
  caps:
    - {per: member, period: day, max_points: 2500}
"""))

STREAK = punchcard.compile(ruleset("""\
    - {id: third, type: streak_reward, visits: 2, value: 70, min_purchase: 100, valid_for: 7 days}
""", extra="""\
points:
  refunds: {window: 30 days}
"""))


def run(compiled, events, state=None):
    decisions = []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        decisions.append(decision)
    return decisions, state


def refund(event_id: str, order: str, amount, time: str = "2026-03-04T12:00:00") -> dict:
    return {"type": "refund", "id": event_id, "member": "ann", "time": time, "order": order, "amount": str(amount)}


def _offered():
    return run(THREE, [purchase("o-1", "2026-03-02T12:00:00", "10", "food")])[1]


def test_an_offer_active_at_the_order_but_not_paying_on_it_is_not_asked_again():
    state = _offered()
    d, state = run(THREE, [purchase("o-2", "2026-03-03T12:00:00", "100", "food"),  # 100 + flat 15
                           refund("r-1", "o-2", 40)], state)
    assert d[0].points == Decimal(115) and sorted(d[0].paid()) == ["base", "offer:flat"]
    assert d[1].points == Decimal(-40)  # 60 + 15 kept: the tea double did not pay on food, nor now


def test_a_refund_under_an_offers_minimum_takes_its_share_back():
    state = _offered()
    d, _ = run(THREE, [purchase("o-2", "2026-03-03T12:00:00", "600", "tea"),  # 600 + 600 + 40 + 15
                       refund("r-1", "o-2", 200)], state)
    assert d[0].points == Decimal(1255)
    assert d[1].points == Decimal(-440)  # at 400: 400 + 400 + 15 kept, the basket bonus's minimum is 500


def test_a_streak_reward_paid_on_an_order_is_asked_again_on_its_refund():
    d, state = run(STREAK, [purchase("o-1", "2026-03-02T12:00:00", "100", "tea"),  # selects it
                            purchase("o-2", "2026-03-03T12:00:00", "100", "tea"),
                            purchase("o-3", "2026-03-04T12:00:00", "120", "tea"),  # second visit: + 70
                            refund("r-1", "o-3", 10), refund("r-2", "o-3", 20)])
    assert [x.points for x in d] == [Decimal(100), Decimal(100), Decimal(190), Decimal(-10), Decimal(-90)]
    assert state.offers["third:o-1"].status == "used"  # 110 keeps the reward; 90 is under its minimum


def test_an_offer_that_paid_on_an_order_is_kept_while_the_order_can_be_refunded():
    compiled = punchcard.compile(ruleset("""\
    - {id: flat, type: custom, grant: {bonus: 15}, valid_for: 2 days}
  keep_ended: 1 day
"""))
    d, state = run(compiled, [purchase("o-1", "2026-03-02T12:00:00", "10", "tea"),
                              purchase("o-2", "2026-03-03T12:00:00", "100", "tea"),
                              {"type": "tick", "id": "t-1", "member": "ann", "time": "2026-03-20T00:00:00"},
                              refund("r-1", "o-2", 50, "2026-03-21T00:00:00")])
    assert state.offers["flat:o-1"].status == "expired"  # ended 2026-03-04, remembered past keep_ended
    assert d[3].points == Decimal(-50)  # 50 + 15 kept
    _, state = run(compiled, [{"type": "tick", "id": "t-2", "member": "ann", "time": "2027-03-05T00:00:00"}],
                   state)
    assert state.offers == {}  # once the order is past the refund window (12 months), it goes


@st.composite
def refunds(draw):
    """An order (amount, category) and its refunds: cut points splitting the amount in parts,
    the last part refunded or not."""
    amount = draw(st.integers(1, 3000))
    category = draw(st.sampled_from(["tea", "food"]))
    cuts = draw(st.lists(st.integers(1, amount - 1), max_size=4, unique=True)) if amount > 1 else []
    bounds = [0, *sorted(cuts), amount]
    parts = [b - a for a, b in itertools.pairwise(bounds)]
    full = draw(st.booleans())
    return amount, category, parts if full else parts[:-1]


@settings(max_examples=60, deadline=None)
@given(refunds())
def test_refunds_in_parts_never_claw_back_more_than_the_order_earned(case):
    amount, category, parts = case
    state = _offered()
    d, _ = run(THREE, [purchase("o-2", "2026-03-03T12:00:00", str(amount), category),
                       *(refund(f"r-{i}", "o-2", part) for i, part in enumerate(parts))], state)
    earned, clawed = d[0].points, [-x.points for x in d[1:]]
    assert all(x.outcome == "applied" for x in d)
    assert all(c >= 0 for c in clawed) and sum(clawed) <= earned
    if sum(parts) == amount:
        assert sum(clawed) == earned  # a full refund takes back exactly what the order earned
    elif parts:
        left = amount - sum(parts)  # what is kept is what the rest would have earned, offers included
        kept = earned - sum(clawed)
        assert kept >= min(left, earned)  # the base alone pays the amount left, up to what the order got
