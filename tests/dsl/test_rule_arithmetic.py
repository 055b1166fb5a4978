"""A rule that cannot be computed rejects the event, naming the rule; it never pays 0 silently.

Both ways of walking an event (the generated walk and the general path) must agree.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.engine import Engine
from punchcard.engine.store import MemoryStore

RULESET = """\
punchcard: 1
ruleset: arithmetic-lab
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, items: number, channel: optional string}
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - {id: per-item, on: purchase, when: WHEN, bonus: BONUS}
"""


def engine(when: str = "true", bonus: str = "event.amount / event.items", specialise: bool = True) -> Engine:
    compiled = compile_ruleset(RULESET.replace("WHEN", when).replace("BONUS", bonus), specialise=specialise)
    return Engine(compiled, MemoryStore(), trace=True)


def purchase(items, amount="10.00", **extra) -> dict:
    return {"type": "purchase", "id": "p1", "member": "ann", "time": "2026-03-02T12:00:00", "amount": amount,
            "items": items, **extra}


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize("when, bonus", [("true", "event.amount / event.items"),
                                         ("event.amount / event.items > 1", "5"),
                                         ("true", "0 / event.items")])
def test_division_by_zero_rejects_the_event_naming_the_rule(specialise, when, bonus):
    runner = engine(when, bonus, specialise)
    decision = runner.process(purchase(0))
    assert decision.outcome == "rejected"
    assert "per-item" in decision.reason and "division by zero" in decision.reason
    assert decision.points == 0
    assert runner.member("ann") is None  # nothing was applied: not even the member was stored


@pytest.mark.parametrize("specialise", [True, False])
def test_a_missing_optional_field_still_only_skips_the_rule(specialise):
    decision = engine('event.channel == "app"', "5", specialise).process(purchase(2))
    assert decision.outcome == "applied" and decision.points == 10
    assert "not known" in next(s.note for s in decision.trace if s.rule == "per-item")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=50))
def test_both_paths_agree_on_every_item_count(items):
    first, second = engine().process(purchase(items)), engine(specialise=False).process(purchase(items))
    assert (first.outcome, first.points, first.reason) == (second.outcome, second.points, second.reason)
    assert (first.outcome == "rejected") == (items == 0)


OVERFLOW = "let:\n  a0: event.items * 999999999999999\n" + "".join(f"  a{i}: a{i-1} * a{i-1}\n" for i in range(1, 18))


@pytest.mark.parametrize("specialise", [True, False])
def test_overflow_rejects_the_event_naming_the_rule(specialise):
    compiled = compile_ruleset(RULESET.replace("WHEN", "true").replace("BONUS", "a17") + OVERFLOW,
                               specialise=specialise)
    decision = Engine(compiled, MemoryStore()).process(purchase(1))
    assert decision.outcome == "rejected"
    assert decision.reason == "rule per-item could not be computed: a number too large (overflow)"


@pytest.mark.parametrize("section, label", [
    ("fraud:\n  - {id: odd-basket, on: purchase, when: event.amount / event.items > 100}\n", "odd-basket"),
    ("achievements:\n  - {id: big, on: purchase, when: true, bonus: event.amount / event.items}\n",
     "achievement:big"),
    ("achievements:\n  - {id: big, on: purchase, when: event.amount / event.items > 1, bonus: 5}\n",
     "achievement:big"),
    ("streaks:\n  - id: daily\n    on: purchase\n    period: day\n    when: event.amount / event.items > 1\n",
     "streak:daily"),
])
def test_every_kind_of_rule_rejects_on_division_by_zero(section, label):
    text = RULESET.replace("WHEN", "true").replace("BONUS", "1") + section
    decision = Engine(compile_ruleset(text), MemoryStore()).process(purchase(0))
    assert decision.outcome == "rejected"
    assert decision.reason == f"rule {label} could not be computed: division by zero"
