"""Choosing: eligible, fill in from history, drop what no_offer forbids, rank, top N within the
frequency caps; every candidate's step and reason in the trace and from Engine.offers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from offers_support import offer_effects, purchase, ruleset

import punchcard
from punchcard.engine import Engine, evaluate, new_member


def choose_event(event_id: str, time: str, member: str = "ann") -> dict:
    return {"type": "offer_choose", "id": event_id, "member": member, "time": time}


def offers_trace(decision) -> dict[str, tuple[bool, str]]:
    return {s.rule.removeprefix("offer:"): (s.fired, s.note) for s in decision.trace if s.phase == "offers"}


def adult(member: str = "ann", **fields):
    return new_member(member, {"birth_date": dt.date(1990, 5, 1), **fields})


def test_the_top_two_by_rank_are_selected_and_each_other_candidate_says_why(small):
    decision, state = evaluate(small, adult(), choose_event("c-1", "2026-03-02T12:00:00"))
    assert decision.outcome == "applied"
    assert [e["template"] for e in offer_effects(decision, "selected")] == ["basket", "wine-bonus"]
    steps = offers_trace(decision)
    assert steps["basket"] == (True, "top: ranked 1 with 40")
    assert steps["wine-bonus"] == (True, "top: ranked 2 with 30")
    assert steps["tea-double"] == (False, "top: outranked: basket, wine-bonus ranked higher (top 2)")
    assert steps["third-visit"] == (False, "eligible: not eligible: not known: vip")
    assert sorted(state.offers) == ["basket:c-1", "wine-bonus:c-1"]
    # automatic activation: active at once; host activation: selected until the host says
    assert state.offers["wine-bonus:c-1"].status == "active" and state.offers["basket:c-1"].status == "selected"


def test_a_no_offer_rule_drops_what_it_forbids_and_what_it_cannot_tell(small):
    minor, _ = evaluate(small, adult(birth_date=dt.date(2015, 1, 1)), choose_event("c-1", "2026-03-02T12:00:00"))
    assert offers_trace(minor)["wine-bonus"] == (
        False, 'compliance: compliance rule no-alcohol-offers-to-minors forbids it: offer.category == "alcohol" and '
               "age(member.birth_date) < 18")
    assert [e["template"] for e in offer_effects(minor, "selected")] == ["basket", "tea-double"]
    unknown, _ = evaluate(small, new_member("ann"), choose_event("c-1", "2026-03-02T12:00:00"))
    assert offers_trace(unknown)["wine-bonus"] == (
        False, "compliance: compliance rule no-alcohol-offers-to-minors could not tell (not known: birth_date): "
               "not offered, to be safe")
    # the same rule never drops an offer that is not for alcohol: its first condition settles it
    assert offers_trace(unknown)["basket"][0] is True


def test_live_offers_are_not_offered_again_and_max_active_caps_the_rest(small):
    _, state = evaluate(small, adult(), choose_event("c-1", "2026-03-02T12:00:00"))
    again, state = evaluate(small, state, choose_event("c-2", "2026-03-02T13:00:00"))
    steps = offers_trace(again)
    assert steps["basket"][1].startswith("eligible: already offered: basket:c-1 is selected until")
    assert steps["tea-double"] == (False, "top: frequency cap: 2 live of at most 2 at once")
    assert offer_effects(again) == []


def test_max_new_counts_offers_selected_within_its_window(small):
    _, state = evaluate(small, adult(), choose_event("c-1", "2026-03-02T12:00:00"))
    # both expired by the 6th (3 days), but 2 of at most 3 new were selected within 7 days
    later, state = evaluate(small, state, choose_event("c-2", "2026-03-06T12:00:00"))
    assert [e["template"] for e in offer_effects(later, "selected")] == ["basket"]
    assert offers_trace(later)["wine-bonus"] == (False, "top: frequency cap: 2 new within 7 days of at most 3")
    week_later, _ = evaluate(small, state, choose_event("c-3", "2026-03-10T12:00:00"))
    # c-1's two no longer count, c-2's basket does: room for 2 of at most 3, both taken
    assert [e["template"] for e in offer_effects(week_later, "selected")] == ["basket", "wine-bonus"]


FAVOURITE = ruleset("""\
    - {id: fav, type: double_points, category: favourite, hours: usual}
""", choose="{on: [purchase], top: 1}")


def test_fill_in_takes_the_favourite_category_and_usual_hours_from_history():
    compiled = punchcard.compile(FAVOURITE)
    first, state = evaluate(compiled, None, choose_event("c-0", "2026-03-02T07:00:00"))
    assert offers_trace(first)["fav"] == (False, "fill: no favourite category yet: no purchase with a category in "
                                                 "the member's history")
    for i, (day, category) in enumerate([(3, "tea"), (4, "coffee"), (5, "coffee")]):
        _, state = evaluate(compiled, state, purchase(f"o-{i}", f"2026-03-0{day}T08:30:00", "100", category))
    record = next(iter(state.offers.values()))  # chosen after the first purchase: tea was the favourite then
    assert dict(record.fields)["category"] == "tea" and dict(record.fields)["hours"] == (8, 9)
    asked = Engine(compiled).offers("ann", dt.datetime(2026, 3, 6, tzinfo=dt.UTC))  # a member with no history
    assert (asked[0].step, asked[0].kept) == ("fill", False) and asked[0].reason.startswith("no favourite category")


def test_engine_offers_ranks_with_reasons_and_changes_nothing(small):
    engine = Engine(small)
    engine.process(purchase("o-1", "2026-03-02T08:00:00", "100", "tea"))
    before = engine.member("ann")
    asked = engine.offers("ann", dt.datetime(2026, 3, 2, 9, 0))
    assert engine.member("ann") == before  # a read
    assert [c.template for c in asked if c.kept] == []  # tea-double and basket live: two of two
    assert {c.template: c.step for c in asked} == {"wine-bonus": "compliance", "basket": "eligible",
                                                  "tea-double": "eligible", "third-visit": "eligible",
                                                  "capped-bonus": "eligible"}
    later = engine.offers("ann", dt.datetime(2026, 3, 20, 9, 0))  # both expired by then
    assert [(c.template, c.rank) for c in later if c.kept] == [("basket", Decimal(40)), ("tea-double", Decimal(2))]


@pytest.mark.parametrize("rank, expected", [("offer.value", ["basket"]), ("0 - offer.value", ["tea-double"]),
                                            ("offer.lift", ["tea-double"])])
def test_the_rank_expression_orders_the_candidates(rank, expected):
    compiled = punchcard.compile(ruleset("""\
    - {id: tea-double, type: double_points, category: tea}
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40}
""", choose=f"{{rank: '{rank}', top: 1}}"))
    decision, _ = evaluate(compiled, None, choose_event("c-1", "2026-03-02T12:00:00"))
    assert [e["template"] for e in offer_effects(decision, "selected")] == expected


def test_a_rank_that_cannot_be_computed_drops_the_candidate_not_the_event():
    compiled = punchcard.compile(ruleset("""\
    - {id: a, type: basket_bonus, min_purchase: 10, value: 5}
""", choose="{on: [purchase], rank: offer.value / 0}"))
    decision, state = evaluate(compiled, None, purchase("o-1", "2026-03-02T12:00:00", "100", "tea"))
    assert decision.outcome == "applied" and decision.points == Decimal(100)
    fired, note = offers_trace(decision)["a"]
    assert not fired and note.startswith("rank: rank could not be computed: arithmetic failed")
    assert state.offers == {}


def test_in_the_gates_phase_a_no_offer_rule_has_no_offer_to_read(small):
    decision, _ = evaluate(small, adult(), purchase("o-1", "2026-03-02T12:00:00", "100", "tea"))
    gate = next(s for s in decision.trace if s.phase == "gates" and s.rule == "no-alcohol-offers-to-minors")
    assert (gate.fired, gate.note) == (False, "not known: offer.category")
