"""Figures in reasons and trace notes: plain digits, never exponent notation, never cut silently.

A figure up to 40 characters is written exactly; a longer one shows its leading digits,
an ellipsis and how many digits it has (docs/semantics.md, "Numbers and bounds").
"""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.numbers import exact_text, figure

RULESET = compile_ruleset("""
punchcard: 1
ruleset: reason-figures
version: 1.0.0
currency: USD
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
    visit: {weight: number}
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - id: huge
      on: visit
      bonus: event.weight * 100000000000000 * 100000000000000 * 100
""")
TIME = "2026-03-02T12:15:00"


def test_a_shortfall_names_the_points_in_plain_digits():
    engine = Engine(RULESET, MemoryStore())
    engine.process({"type": "purchase", "id": "p1", "member": "m", "time": TIME, "amount": "150"})
    decision = engine.process({"type": "redeem", "id": "r1", "member": "m", "time": TIME, "points": "1e15"})
    assert decision.outcome == "rejected"
    assert decision.reason == "not enough points: 150 available, 1000000000000000 needed", decision.reason


def test_a_huge_earning_is_shown_with_its_digit_count_not_cut_silently():
    engine = Engine(RULESET, MemoryStore())
    decision = engine.process({"type": "visit", "id": "v1", "member": "m", "time": TIME, "weight": "999999999999"})
    assert decision.outcome == "rejected"
    assert decision.reason.startswith("this event would earn 999999999999000000000000... (42 digits) points"), \
        decision.reason
    assert "E+" not in decision.reason


def test_a_rules_own_figure_in_the_trace_is_plain():
    engine = Engine(RULESET, MemoryStore())
    decision = engine.process({"type": "visit", "id": "v2", "member": "m", "time": TIME,
                               "weight": "0.000000000000000001"})
    notes = " ".join(step.note for step in decision.trace)
    assert "E+" not in notes and "E-" not in notes


figures = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e60"), max_value=Decimal("1e60"),
                      places=None) | st.builds(lambda d, e: Decimal(d).scaleb(e), st.integers(-10**50, 10**50),
                                               st.integers(-200, 200))


@settings(max_examples=300, deadline=None)
@given(value=figures)
def test_a_figure_is_exact_digits_or_says_it_was_shortened(value):
    text = figure(value)
    assert not re.search(r"\d[eE][+-]?\d", text)
    if "..." in text:
        assert text.endswith(" digits)") or text.endswith(" decimal places)")
        assert len(text) < 70
    else:
        assert Decimal(text) == value and len(text) <= 40


def test_figures_at_the_edges():
    assert figure(Decimal("1E+15")) == "1000000000000000"
    assert figure(Decimal("-2.50")) == "-2.5"
    assert figure(Decimal("1E+999999")) == "100000000000000000000000... (1000000 digits)"
    assert figure(Decimal("1E-999999")) == "0.000000000000000000000000... (999999 decimal places)"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None)
       | st.integers(-10**40, 10**40).map(Decimal)
       | st.tuples(st.integers(-10**6, 10**6), st.integers(-30, 30)).map(lambda t: Decimal(t[0]).scaleb(t[1])))
def test_exact_text_and_figure_write_plain_digits_that_mean_the_same_number(value):
    """Whole numbers take a shortcut; whatever the path, the text is plain digits of the same value."""
    text = exact_text(value)
    assert "E" not in text.upper() and Decimal(text) == value
    shown = figure(value)
    assert "E" not in shown.split("...")[0].upper()  # digits; a cut one goes on in words
    if "..." not in shown:
        assert Decimal(shown) == value
