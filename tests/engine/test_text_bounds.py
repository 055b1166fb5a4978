"""Text fields are bounded: longer text is refused with a reason naming the field.

docs/semantics.md, "Numbers and bounds": a text value holds at most MAX_TEXT_FIELD
characters (ids hold at most 200), so no event can make a decision or a trace huge.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.events import MAX_LIST, MAX_TEXT_FIELD

RULESET = compile_ruleset("""
punchcard: 1
ruleset: text-bounds
version: 1.0.0
currency: USD
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string, note: optional string, tags: "optional list[string]"}
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - id: tea
      on: purchase
      when: event.category == "tea"
      bonus: 1
""")


def _purchase(**fields) -> dict:
    return {"type": "purchase", "id": "e1", "member": "m", "time": "2026-03-02T12:15:00", "amount": "10",
            "category": "tea", **fields}


def test_the_bound_is_a_thousand_characters():
    assert MAX_TEXT_FIELD == 1000 and MAX_LIST == 1000


def test_text_at_the_bound_is_applied_and_past_it_refused_naming_the_field():
    engine = Engine(RULESET, MemoryStore())
    assert engine.process(_purchase(category="x" * MAX_TEXT_FIELD)).outcome == "applied"
    for name in ("category", "note"):
        refused = engine.process({**_purchase(), "id": f"long-{name}", name: "x" * 120_000})
        assert refused.outcome == "rejected"
        assert refused.reason == (f"{name} is text of 120000 characters, more than the {MAX_TEXT_FIELD:,} "
                                  "a text field may hold")
        assert len(refused.to_json()) < 2_000


def test_every_item_of_a_list_and_the_list_itself_are_bounded():
    engine = Engine(RULESET, MemoryStore())
    refused = engine.process(_purchase(tags=["ok", "y" * (MAX_TEXT_FIELD + 1)]))
    assert refused.outcome == "rejected" and refused.reason.startswith("tags is text of 1001 characters")
    many = engine.process({**_purchase(tags=["t"] * (MAX_LIST + 1)), "id": "e2"})
    assert many.outcome == "rejected"
    assert many.reason == f"tags has {MAX_LIST + 1} items, more than the {MAX_LIST:,} a list may hold"


@settings(max_examples=50, deadline=None)
@given(size=st.integers(0, 3 * MAX_TEXT_FIELD))
def test_text_is_applied_exactly_when_within_the_bound(size):
    decision = Engine(RULESET, MemoryStore()).process(_purchase(note="n" * size))
    assert (decision.outcome == "applied") == (size <= MAX_TEXT_FIELD)
