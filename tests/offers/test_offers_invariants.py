"""Properties of offers over any history: never more live offers than max_active, never more new
ones than max_new within its window, a granted rule pays only its member's active offer within
its validity, and the generated walk decides exactly as the general path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.engine import evaluate, new_member
from punchcard.engine.policies.offers_choose import LIVE

START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
CATEGORIES = ("tea", "alcohol", "food")


@st.composite
def histories(draw):
    """Events of two members over about three weeks: purchases, choosing, host responses, ticks."""
    steps = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 720),
                                    st.sampled_from(("purchase", "purchase", "purchase", "choose", "present",
                                                     "activate", "tick")),
                                    st.sampled_from(CATEGORIES), st.integers(1, 900)),
                          min_size=1, max_size=30))
    events, at = [], START
    for n, (who, minutes, kind, category, amount) in enumerate(steps):
        at += dt.timedelta(minutes=minutes * 3)
        member = ("ann", "bob")[who]
        base = {"id": f"e-{n}", "member": member, "time": at.isoformat()}
        if kind == "purchase":
            events.append({**base, "type": "purchase", "amount": str(amount), "category": category})
        elif kind == "choose":
            events.append({**base, "type": "offer_choose"})
        elif kind == "tick":
            events.append({**base, "type": "tick"})
        else:  # the host answers about one of the member's offers (the n-th it holds, when run), maybe ended
            events.append({**base, "type": f"offer_{'presented' if kind == 'present' else 'activated'}",
                           "offer": f"#{amount}"})
    return events


def _active_before(state, template: str, at: dt.datetime) -> bool:
    return any(r.template == template and r.status == "active" and r.activated_at <= at < r.valid_until
               for r in state.offers.values())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_caps_hold_and_granted_rules_pay_only_their_members_active_offers(small, small_general, events):
    choose = small.model.offers.choose
    states = {"ann": new_member("ann", {"birth_date": dt.date(1990, 1, 1), "vip": True}), "bob": new_member("bob")}
    general = dict(states)
    for drawn in events:
        member = drawn["member"]
        before = states[member]
        event = drawn
        if drawn.get("offer", "").startswith("#"):
            held = sorted(before.offers) or ["none"]
            event = {**drawn, "offer": held[int(drawn["offer"][1:]) % len(held)]}
        decision, states[member] = evaluate(small, before, event)
        other, general[member] = evaluate(small_general, general[member], event)
        assert other.to_dict() == decision.to_dict()  # both paths, the same decision
        state, at = states[member], decision.time
        assert sum(1 for r in state.offers.values() if r.status in LIVE) <= choose.max_active
        window = at - dt.timedelta(days=7)
        assert sum(1 for r in state.offers.values() if r.selected_at > window) <= choose.max_new.count
        for rule in decision.paid():
            if rule.startswith("offer:"):
                # housekeeping at this event may have expired it only if its deadline had passed
                assert _active_before(before, rule.removeprefix("offer:"), at)
        for record in state.offers.values():
            assert record.id.split(":", 1)[1] in {e["id"] for e in events if e["member"] == member}
            assert record.paid >= Decimal(0) and record.selected_at <= record.valid_until
