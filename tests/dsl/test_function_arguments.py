"""A built-in function's whole-number argument is bounded: by check when it is written,
at run time when it is computed (docs/expressions.md, "Functions")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.dsl.checker import ExprChecker, SchemaView, Scope
from punchcard.dsl.errors import Code, Span
from punchcard.dsl.functions import BUILTINS, ROUND_PLACES
from punchcard.dsl.parser import parse_expression
from punchcard.dsl.types import MONEY
from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset

SCHEMA = SchemaView(events={"purchase": {"amount": MONEY}},
                    member={})


def diagnostics_of(text: str):
    checker = ExprChecker(SCHEMA, dict(BUILTINS), set(), lambda name, s: None,
                          lambda line, column: Span("r.yaml", line, column), Scope(("purchase",)))
    checker.check(parse_expression(text))
    return checker.diagnostics


@pytest.mark.parametrize("places, column", [("999999999", 21), ("19", 21), ("-1", 21), ("2.5", 21), ("-(3)", 21)])
def test_a_written_places_out_of_range_is_a_check_error_at_it(places, column):
    [diagnostic] = diagnostics_of(f"round(event.amount, {places})")
    assert diagnostic.code is Code.LIMIT_ERROR and diagnostic.span.column == column
    assert diagnostic.message == (f"round() takes a whole number of decimal places from 0 to {ROUND_PLACES}, "
                                  f"not {places.replace('(', '').replace(')', '')}")


@given(st.integers(0, ROUND_PLACES))
def test_places_in_range_pass(places):
    assert diagnostics_of(f"round(event.amount, {places})") == []


RULESET = compile_ruleset("""
punchcard: 1
ruleset: computed-places
version: 1.0.0
currency: USD
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, places: number}
earning:
  base: {on: purchase, points: "round(event.amount, event.places)"}
""")


@pytest.mark.parametrize("places", ["999999999", "19", "-1", "1.5"])
def test_a_computed_places_out_of_range_rejects_the_event_naming_the_rule(places):
    decision = Engine(RULESET, MemoryStore()).process(
        {"type": "purchase", "id": "e1", "member": "m", "time": "2026-03-02T12:00:00", "amount": "10.25",
         "places": places})
    assert decision.outcome == "rejected"
    assert decision.reason == (f"rule base could not be computed: round() takes a whole number of decimal places "
                               f"from 0 to {ROUND_PLACES}, not {places}"), decision.reason


def test_a_computed_places_in_range_is_applied():
    decision = Engine(RULESET, MemoryStore()).process(
        {"type": "purchase", "id": "e1", "member": "m", "time": "2026-03-02T12:00:00", "amount": "10.75",
         "places": "0"})
    assert decision.outcome == "applied" and decision.points == Decimal(11)
