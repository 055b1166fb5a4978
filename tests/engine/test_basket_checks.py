"""What check says about baskets and priorities (docs/baskets.md), and that rulesets written
before them keep their meaning: no rule is per item, every priority is 0, and each event
type's rules run in the order written."""

from __future__ import annotations

from pathlib import Path

import pytest

from punchcard import compile as compile_with_plugins  # a bundled ruleset may name models
from punchcard.dsl.check import check_text
from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset

ROOT = Path(__file__).resolve().parents[2]
BEFORE_BASKETS = [p for p in sorted((ROOT / "rulesets").glob("*.yaml")) if p.stem != "grocery-basket"]

HEADER = """punchcard: 1
ruleset: basket-checks
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, items: optional line_items}
"""


def diagnostics(body: str) -> list[tuple[str, int, str]]:
    result = check_text(HEADER + body, "r.yaml")
    return [(d.code.value, d.span.line, d.message) for d in result.diagnostics]


def test_a_let_is_worked_out_once_per_event_so_it_reads_no_item():
    found = diagnostics("let:\n  coffee: item.category == \"coffee\"\n"
                        "earning:\n  base: {on: purchase, per_item: true, points: item.amount, when: coffee}\n")
    assert found == [("unknown_name", 9, "item.category is not available here")]


def test_a_let_that_reads_the_basket_serves_a_per_item_rule():
    assert diagnostics("let:\n  big: basket_total(event.items) >= 50\n"
                       "earning:\n  base: {on: purchase, per_item: true, points: item.amount, when: big}\n") == []


@pytest.mark.parametrize("expression, message", [
    ("basket_total(event.amount) >= 1", "argument 1 of basket_total() must be list of item, not money"),
    ("count_items(event.items, 3) >= 1", "argument 2 of count_items() must be string or list of string, not number"),
    ("bundles(event.items) >= 1", "bundles() takes 2 arguments, got 1"),
])
def test_basket_functions_are_typed(expression, message):
    found = diagnostics(f"earning:\n  base: {{on: purchase, points: event.amount, when: '{expression}'}}\n")
    assert [m for _code, _line, m in found] == [message]


def test_an_items_field_of_another_type_is_no_basket():
    text = HEADER.replace("items: optional line_items", "items: integer") + \
        "earning:\n  base: {on: purchase, points: event.amount * event.items}\n"
    engine = Engine(compile_ruleset(text))
    decision = engine.process({"type": "purchase", "id": "o-1", "member": "m", "time": "2026-05-01T10:00:00",
                               "amount": "10", "items": 3})
    assert decision.points == 30
    assert engine.member("m").orders["o-1"].lines == ()  # the order keeps no lines


@pytest.mark.parametrize("path", BEFORE_BASKETS, ids=lambda p: p.stem)
def test_rulesets_written_before_baskets_run_their_rules_as_written(path):
    compiled = compile_with_plugins(path)
    written = [rule.id for rule in compiled.model.earning.rules]
    for plan in compiled.plans.values():
        ids = [rule.id for rule in plan.rules if rule.id in written]
        assert ids == [r for r in written if r in ids]
        assert not any(rule.per_item or rule.exclusive or rule.priority for rule in plan.rules + plan.bases)
