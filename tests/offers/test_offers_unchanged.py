"""A ruleset without offers: behaves and serialises exactly as before offers existed: no offer
event types, no offer phases in any walk, the same limits, and decisions without offer effects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import punchcard
from punchcard.dsl.model import Ruleset
from punchcard.dsl.vocabulary import BUILTIN_EVENTS
from punchcard.engine import evaluate
from punchcard.engine.policies.offers import plan_of
from punchcard.engine.policies.rewards import stock_limits
from punchcard.engine.program import LimitPlan

RULESETS = sorted(p for p in (Path(__file__).resolve().parents[2] / "rulesets").glob("*.yaml")
                  if "offers:" not in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", RULESETS, ids=lambda p: p.name)
def test_a_ruleset_without_offers_compiles_as_before(path):
    compiled = punchcard.compile(path)
    assert compiled.model.offers is None and plan_of(compiled) is None
    assert not {"offer_choose", "offer_presented", "offer_activated"} & set(compiled.model.event_fields())
    assert set(BUILTIN_EVENTS) <= set(compiled.model.event_fields())
    for plan in compiled.plans.values():
        assert "offers" not in plan.phases and "offer_choice" not in plan.phases
        assert "offers(" not in plan.walk_source and "offer_choice(" not in plan.walk_source
        assert not any(rule.id.startswith("offer:") for rule in plan.rules)
    # the same limits as its earning section sets, beside any reward stocks (docs/rewards.md)
    limits = dataclasses.replace(compiled.limit_plan, budgets=tuple(
        budget for budget in compiled.limit_plan.budgets if budget[0] not in stock_limits(compiled)))
    assert repr(limits) == repr(LimitPlan.of(compiled.model.earning))  # cap specs compare by identity
    assert "offers" not in compiled.model.model_dump(exclude_defaults=True)


def test_coffee_club_decides_and_serialises_without_offer_effects():
    compiled = punchcard.compile("rulesets/coffee-club.yaml")
    decision, state = evaluate(compiled, None, {"type": "purchase", "id": "o-1", "member": "masha",
                                                "time": "2026-03-02T08:15:00", "amount": "150", "category": "coffee"})
    assert decision.points == 300 and state.offers == {}
    assert all(e["kind"] != "offer" for e in decision.to_dict()["effects"])
    assert all(step.phase != "offers" for step in decision.trace)


def test_the_document_field_is_optional():
    assert Ruleset.model_fields["offers"].default is None
