"""An offer's life (selected, presented, activated, used, expired) and its granted rule paying
through the same stacking, caps, budgets and rounding as any rule, for its member only."""

from __future__ import annotations

from decimal import Decimal

from offers_support import offer_effects, purchase, ruleset

import punchcard
from punchcard.engine import Engine, evaluate


def run(compiled, events, state=None):
    decisions = []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        decisions.append(decision)
    return decisions, state


DOUBLE = punchcard.compile(ruleset("""\
    - {id: tea-double, type: double_points, category: tea, hours: {from: 7, to: 10}, days: [mon, tue, wed, thu, fri],
       min_purchase: 50, valid_for: 7 days}
""", extra="""\
  caps:
    - {per: member, period: day, max_points: 300}
"""))


def test_a_double_pays_only_within_its_hours_days_category_and_minimum():
    events = [purchase("o-1", "2026-03-02T12:00:00", "100", "food"),  # Monday: selects the offer
              purchase("o-2", "2026-03-03T08:00:00", "100", "tea"),  # pays: 100 + 100
              purchase("o-3", "2026-03-03T11:00:00", "100", "tea"),  # past 10:00
              purchase("o-4", "2026-03-04T08:00:00", "100", "food"),  # not tea
              purchase("o-5", "2026-03-04T08:30:00", "40", "tea"),  # under the minimum
              purchase("o-6", "2026-03-07T08:00:00", "100", "tea")]  # Saturday
    decisions, state = run(DOUBLE, events)
    assert [e["status"] for e in offer_effects(decisions[0])] == ["selected", "activated"]
    assert [d.points for d in decisions] == [Decimal(100), Decimal(200), Decimal(100), Decimal(100), Decimal(40),
                                             Decimal(100)]
    assert offer_effects(decisions[1], "used") == [{"offer": "tea-double:o-1", "template": "tea-double",
                                                    "status": "used", "paid": Decimal(100)}]
    record = state.offers["tea-double:o-1"]
    assert (record.uses, record.paid, record.status) == (1, Decimal(100), "active")


def test_the_granted_rule_goes_through_the_rulesets_caps_and_never_pays_another_member():
    _, ann = run(DOUBLE, [purchase("o-1", "2026-03-02T12:00:00", "100", "food")])
    capped, _ = evaluate(DOUBLE, ann, purchase("o-2", "2026-03-03T08:00:00", "250", "tea"))
    assert capped.points == Decimal(300)  # 250 + 250, cut to the day cap of 300
    assert offer_effects(capped, "used")[0]["paid"] == Decimal(50)  # the last contribution is cut first
    other, _ = evaluate(DOUBLE, None, purchase("b-2", "2026-03-03T08:00:00", "100", "tea", member="bob"))
    assert other.points == Decimal(100) and "offer:tea-double" not in other.paid()


def test_a_host_activated_offer_is_presented_then_activated_then_pays_and_then_expires():
    compiled = punchcard.compile(ruleset("""\
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40, activation: host, valid_for: 3 days}
"""))
    offer = "basket:o-1"
    events = [purchase("o-1", "2026-03-02T12:00:00", "100", "tea"),
              purchase("o-2", "2026-03-02T13:00:00", "600", "tea"),
              {"type": "offer_presented", "id": "p-1", "member": "ann", "time": "2026-03-02T14:00:00", "offer": offer},
              {"type": "offer_presented", "id": "p-2", "member": "ann", "time": "2026-03-02T14:01:00", "offer": offer},
              {"type": "offer_activated", "id": "a-1", "member": "ann", "time": "2026-03-02T14:02:00", "offer": offer},
              purchase("o-3", "2026-03-02T15:00:00", "600", "tea"),
              {"type": "tick", "id": "t-1", "member": "ann", "time": "2026-03-05T12:00:00"},
              purchase("o-4", "2026-03-05T13:00:00", "600", "tea"),
              {"type": "offer_activated", "id": "a-2", "member": "ann", "time": "2026-03-05T14:00:00", "offer": offer},
              {"type": "offer_activated", "id": "a-3", "member": "ann", "time": "2026-03-05T14:00:00",
               "offer": "nope"}]
    d, state = run(compiled, events)
    assert [e["status"] for e in offer_effects(d[0])] == ["selected"]
    assert d[1].points == Decimal(600)  # selected, not active: it does not pay
    assert [e["status"] for e in offer_effects(d[2])] == ["presented"] and offer_effects(d[3]) == []
    assert [e["status"] for e in offer_effects(d[4])] == ["activated"]
    assert d[5].points == Decimal(640) and offer_effects(d[5], "used")[0]["paid"] == Decimal(40)
    assert offer_effects(d[6]) == [{"offer": offer, "template": "basket", "status": "expired"}]  # at its deadline
    assert d[7].points == Decimal(600)
    assert d[8].outcome == "rejected" and d[8].reason == f"offer {offer} has ended (expired)"
    assert d[9].outcome == "rejected" and d[9].reason == "the member has no offer 'nope'"
    record = state.offers[offer]
    assert (record.status, record.presented_at.hour, record.activated_at.minute) == ("expired", 14, 2)


def test_a_streak_reward_pays_once_on_the_visit_that_completes_it():
    compiled = punchcard.compile(ruleset("""\
    - {id: third, type: streak_reward, visits: 3, value: 25, category: tea, valid_for: 10 days}
"""))
    events = [purchase("o-0", "2026-03-02T12:00:00", "10", "food"),
              *(purchase(f"o-{i}", f"2026-03-0{2 + i}T12:00:00", "10", "tea") for i in range(1, 5))]
    d, state = run(compiled, events)
    assert [x.points for x in d] == [Decimal(10), Decimal(10), Decimal(10), Decimal(35), Decimal(10)]
    assert state.offers["third:o-0"].status == "used"
    assert "offer:third" not in d[4].paid()


def test_an_offers_own_cap_counts_from_its_selection_and_its_budget_spans_members():
    compiled = punchcard.compile(ruleset("""\
    - {id: ten, type: custom, grant: {bonus: 10}, cap: {max_times: 2}, budget: 25, valid_for: 30 days}
"""))
    engine = Engine(compiled)
    ann = [engine.process(purchase(f"o-{i}", f"2026-03-0{2 + i}T12:00:00", "100", "tea")) for i in range(3)]
    assert [d.points for d in ann] == [Decimal(100), Decimal(110), Decimal(110)]
    # the second use reaches its lifetime max_times: it ends, and the same decision selects a new one
    assert [e["status"] for e in offer_effects(ann[2])] == ["used", "selected", "activated"]
    assert engine.member("ann").offers["ten:o-0"].status == "used"
    assert engine.member("ann").caps.get("offer:ten") is None  # the new offer's cap starts from nothing
    bob = [engine.process(purchase(f"b-{i}", f"2026-03-0{2 + i}T12:00:00", "100", "tea", member="bob"))
           for i in range(3)]
    assert [d.points for d in bob] == [Decimal(100), Decimal(105), Decimal(100)]  # 5 left of the budget of 25
    assert engine.process(purchase("o-3", "2026-03-05T12:00:00", "100", "tea")).points == Decimal(100)


def test_a_granted_multiplier_stacks_with_the_rulesets_rules_in_its_group():
    compiled = punchcard.compile(ruleset("""\
    - {id: triple, type: custom, grant: {multiply: 3, group: boost}, valid_for: 30 days}
""", extra="""\
  rules:
    - {id: tea-double, on: purchase, when: event.category == "tea", multiply: 2, group: boost}
  stacking: {multipliers: add, groups: best}
"""))
    d, _ = run(compiled, [purchase("o-1", "2026-03-02T12:00:00", "100", "food"),
                          purchase("o-2", "2026-03-03T12:00:00", "100", "tea")])
    assert d[1].points == Decimal(300)  # the best of the group (x3), not x2 + x3
    assert "offer:triple" in d[1].paid() and "tea-double" not in d[1].paid()


def test_ended_offers_are_forgotten_after_keep_ended():
    compiled = punchcard.compile(ruleset("""\
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40, valid_for: 1 day}
  keep_ended: 10 days
"""))
    _, state = run(compiled, [purchase("o-1", "2026-03-02T12:00:00", "100", "tea")])
    _, state = run(compiled, [{"type": "tick", "id": "t-1", "member": "ann", "time": "2026-03-05T00:00:00"}], state)
    assert state.offers["basket:o-1"].status == "expired"
    _, state = run(compiled, [{"type": "tick", "id": "t-2", "member": "ann", "time": "2026-03-13T13:00:00"}], state)
    assert state.offers == {}


def test_an_event_held_for_review_chooses_nothing():
    compiled = punchcard.compile(ruleset("""\
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40}
""", extra="""\
fraud:
  - {id: big, on: purchase, when: event.amount > 1000, action: review}
"""))
    held, state = evaluate(compiled, None, purchase("o-1", "2026-03-02T12:00:00", "2000", "tea"))
    assert held.outcome == "review" and offer_effects(held) == [] and state.offers == {}


def test_a_refund_reprices_its_order_with_the_offer_that_paid_on_it():
    events = [purchase("o-1", "2026-03-02T12:00:00", "100", "food"),
              purchase("o-2", "2026-03-03T08:00:00", "100", "tea"),  # 100 + the offer's 100
              {"type": "refund", "id": "r-1", "member": "ann", "time": "2026-03-03T09:00:00", "order": "o-2",
               "amount": "50"},
              {"type": "refund", "id": "r-2", "member": "ann", "time": "2026-03-03T10:00:00", "order": "o-2",
               "amount": "50"}]
    d, state = run(DOUBLE, events)
    assert d[1].points == Decimal(200)
    assert d[2].points == Decimal(-100)  # re-priced at 50 with the offer: 50 + 50 kept, not 50 alone
    assert d[3].points == Decimal(-100)  # the rest: the order keeps nothing
    record = state.offers["tea-double:o-1"]
    assert record.paid == Decimal(100) and record.orders == (("o-2", Decimal(100)),)  # not rewritten


def test_the_member_profile_counts_a_presentation_and_a_use_once_each_for_the_models():
    from punchcard.engine.policies.profile import offer_key, offer_response, profile_of

    compiled = punchcard.compile(ruleset("""\
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40, valid_for: 10 days}
"""))
    events = [purchase("o-1", "2026-03-02T12:00:00", "100", "tea"),
              {"type": "offer_presented", "id": "p-1", "member": "ann", "time": "2026-03-02T12:05:00",
               "offer": "basket:o-1"},
              purchase("o-2", "2026-03-03T12:00:00", "600", "tea"),
              purchase("o-3", "2026-03-04T12:00:00", "600", "tea")]
    d, state = run(compiled, events)
    assert [x.points for x in d[2:]] == [Decimal(640), Decimal(640)]
    assert offer_response(profile_of(state), offer_key("basket_bonus", "")) == (1, 1)


def test_an_offer_whose_lifetime_points_cap_is_reached_ends_as_used():
    compiled = punchcard.compile(ruleset("""\
    - {id: twenty, type: custom, grant: {bonus: 15}, cap: {max_points: 20}, valid_for: 30 days}
""", choose="{on: [purchase], top: 1, max_new: {count: 1, within: 30 days}}"))
    d, state = run(compiled, [purchase(f"o-{i}", f"2026-03-0{2 + i}T12:00:00", "100", "tea") for i in range(4)])
    assert [x.points for x in d] == [Decimal(100), Decimal(115), Decimal(105), Decimal(100)]
    record = state.offers["twenty:o-0"]
    assert (record.status, record.uses, record.paid) == ("used", 2, Decimal(20))
