"""Number literals and durations have documented limits, checked where they are written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.dsl.errors import Code, PunchcardError
from punchcard.dsl.parser import ExprLimits, parse_expression


def error_of(text: str):
    with pytest.raises(PunchcardError) as info:
        parse_expression(text)
    [diagnostic] = info.value.diagnostics
    return diagnostic


@pytest.mark.parametrize("text, column", [
    ("count(purchase, within: 99999999 years) > 1", 25),
    ("sum(purchase.amount, within: 101 years) > 1", 30),
    ("count(purchase, within: 1201 months) > 1", 25),
    ("count(purchase, within: 36526 days) > 1", 25),
    ("event.time - 52596001 minutes > now", 14),
    ("member.birth_date + 5219 weeks > date(now)", 21),
    ("count(purchase, within: 876601 hours) > 1", 25),
])
def test_a_window_past_the_limit_is_an_error_at_its_number(text, column):
    diagnostic = error_of(text)
    assert diagnostic.code is Code.LIMIT_ERROR
    assert diagnostic.span.column == column
    assert "at most 100 years" in diagnostic.message


@pytest.mark.parametrize("text", ["count(purchase, within: 100 years) > 1", "count(purchase, within: 1200 months) > 1",
                                  "count(purchase, within: 36525 days) > 1", "event.time - 52596000 minutes > now",
                                  "count(purchase, within: 5218 weeks) > 1", "event.time - 876600 hours > now"])
def test_windows_up_to_the_limit_parse(text):
    assert parse_expression(text) is not None


@given(st.integers(min_value=10 ** ExprLimits.max_digits, max_value=10 ** 60))
def test_a_number_with_too_many_digits_is_an_error(value):
    diagnostic = error_of(f"event.amount * {value} > 1")
    assert diagnostic.code is Code.LIMIT_ERROR
    assert diagnostic.span.column == len("event.amount * ") + 1
    assert diagnostic.message == f"a number has at most {ExprLimits.max_digits} digits before the point " \
                                 f"and {ExprLimits.max_digits} after it"


@given(st.integers(min_value=0, max_value=10 ** ExprLimits.max_digits - 1),
       st.integers(min_value=0, max_value=10 ** ExprLimits.max_digits - 1))
def test_numbers_within_the_limit_parse(whole, fraction):
    assert parse_expression(f"{whole}.{fraction} + {whole}") is not None


def test_too_many_decimals_is_an_error():
    diagnostic = error_of("1." + "1" * (ExprLimits.max_digits + 1))
    assert diagnostic.code is Code.LIMIT_ERROR and diagnostic.span.column == 1


@pytest.mark.parametrize("text, column", [("count(purchase, within: 1.5 days) > 1", 25),
                                          ("event.time - 0.5 hours > now", 14)])
def test_a_duration_is_a_whole_number_of_units(text, column):
    """The engine counts durations in whole units: 1.5 days must not quietly become 1 day."""
    diagnostic = error_of(text)
    assert (diagnostic.code, diagnostic.span.column) == (Code.PARSE_ERROR, column)
    assert diagnostic.message.startswith("a duration is a whole number of units")


@pytest.mark.parametrize("body, line", [
    ("points:\n  expiry: {after: 99999999 years}\n", 12),
    ("points:\n  pending: 36526 days\n", 12),
    ("points:\n  refunds: {window: 1201 months}\n", 12),
])
def test_durations_in_the_document_have_the_same_limit(check_body, body, line):
    result = check_body("earning:\n  base: {on: purchase, points: event.amount}\n" + body)
    [diagnostic] = result.diagnostics
    assert diagnostic.code is Code.SCHEMA_ERROR and diagnostic.span.line == line
    assert "a duration is at most 100 years" in diagnostic.message


def test_the_two_limits_are_one_table():
    from punchcard.dsl.vocabulary import MAX_DURATION

    assert ExprLimits.max_duration is MAX_DURATION
