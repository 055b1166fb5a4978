"""``stacking:`` is asked for only where it changes what members get."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.check import check_text
from tests.dsl.conftest import ruleset_text


def rules_body(rules: list[tuple[str, str | None]], stacking: bool = False) -> str:
    lines = ["earning:", "  base: {on: purchase, points: event.amount}", "  rules:"]
    for index, (effect, group) in enumerate(rules):
        value = "multiply: 2" if effect == "multiply" else "bonus: 5"
        group_text = f", group: {group}" if group else ""
        lines.append(f"    - {{id: r{index}, on: purchase, when: true, {value}{group_text}}}")
    if stacking:
        lines.append("  stacking: {multipliers: add, groups: best}")
    return "\n".join(lines) + "\n"


def stacking_errors(body: str) -> list:
    result = check_text(ruleset_text(body), "ruleset.yaml")
    return [d for d in result.diagnostics if "stack" in d.message]


def test_bonus_rules_alone_need_no_stacking():
    assert stacking_errors(rules_body([("bonus", None), ("bonus", None), ("bonus", None)])) == []


def test_one_multiplier_needs_no_stacking():
    assert stacking_errors(rules_body([("multiply", None), ("bonus", None)])) == []


def test_a_group_of_two_needs_stacking():
    [error] = stacking_errors(rules_body([("bonus", "promo"), ("bonus", "promo")]))
    assert error.message == "rules share the group 'promo' but earning does not say how groups stack"
    assert (error.span.line, error.span.column) == (9, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["multiply", "bonus"]), st.sampled_from([None, "a", "b"])), max_size=5),
       st.booleans())
def test_stacking_is_asked_for_exactly_when_it_matters(rules, stated):
    multipliers = sum(effect == "multiply" for effect, _ in rules)
    groups = [g for _, g in rules if g]
    matters = multipliers >= 2 or any(groups.count(g) >= 2 for g in groups)
    errors = stacking_errors(rules_body(rules, stated))
    assert len(errors) == (1 if matters and not stated else 0)
