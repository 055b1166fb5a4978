"""parse_expression: the grammar's shape, literals, positions, limits and messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from punchcard.dsl import ast
from punchcard.dsl.errors import Code, PunchcardError, Span
from punchcard.dsl.parser import ExprLimits, parse_expression

N = lambda v: ast.Number(Decimal(v))  # noqa: E731
a, b, c = ast.Name("a"), ast.Name("b"), ast.Name("c")


def error_of(text: str):
    with pytest.raises(PunchcardError) as info:
        parse_expression(text)
    [diagnostic] = info.value.diagnostics
    return diagnostic


@pytest.mark.parametrize("text, tree", [
    ("a + b * c", ast.Binary("+", a, ast.Binary("*", b, c))),
    ("a - b - c", ast.Binary("-", ast.Binary("-", a, b), c)),
    ("a or b and c", ast.Logical("or", a, ast.Logical("and", b, c))),
    ("not a and b", ast.Logical("and", ast.Not(a), b)),
    ("not a == b", ast.Not(ast.Compare("==", a, b))),
    ("-a.b", ast.Unary("-", ast.Field(a, "b"))),
    ("a + 1 < b * 2", ast.Compare("<", ast.Binary("+", a, N("1")), ast.Binary("*", b, N("2")))),
    ("a not in [1]", ast.Compare("not in", a, ast.ListLit((N("1"),)))),
    ("if a then b else c + 1", ast.If(a, b, ast.Binary("+", c, N("1")))),
    ("f(a, k: b)", ast.Call("f", (a,), (ast.Keyword("k", b),))),
    ("f(k: b, a)", ast.Call("f", (a,), (ast.Keyword("k", b),))),
    ("[1, 2,]", ast.ListLit((N("1"), N("2")))),
    ("f()", ast.Call("f", ())),
])
def test_precedence_and_shape(text, tree):
    assert parse_expression(text) == tree


@pytest.mark.parametrize("text, node", [
    ("12.50", N("12.50")),
    ("0.1", N("0.1")),
    ('"a\\"b\\n\\t\\\\"', ast.String('a"b\n\t\\')),
    ("'it\\'s'", ast.String("it's")),
    ("true", ast.Bool(True)),
    ("false", ast.Bool(False)),
    ("2026-03-02", ast.DateLit(dt.date(2026, 3, 2))),
    ("10:00", ast.TimeLit(dt.time(10, 0))),
    ("9:30", ast.TimeLit(dt.time(9, 30))),
    ("9:30:15", ast.TimeLit(dt.time(9, 30, 15))),
    ("7 days", ast.DurationLit(Decimal(7), "day")),
    ("1 day", ast.DurationLit(Decimal(1), "day")),
    ("3 months", ast.DurationLit(Decimal(3), "month")),
    ("60 minutes", ast.DurationLit(Decimal(60), "minute")),
])
def test_literals(text, node):
    assert parse_expression(text) == node


def test_numbers_are_exact_decimals():
    node = parse_expression("0.1")
    assert isinstance(node.value, Decimal) and node.value + node.value + node.value == Decimal("0.3")


def test_negative_numbers_are_unary_minus():
    assert parse_expression("-5") == ast.Unary("-", N("5"))


def test_a_date_is_not_a_subtraction():
    assert parse_expression("2026-03-02") != parse_expression("2026 - 03 - 02")
    assert parse_expression("2026 - 3 - 2") == ast.Binary("-", ast.Binary("-", N("2026"), N("3")), N("2"))


def test_positions_are_one_based_within_the_text():
    node = parse_expression("a +\n  event.amont")
    assert (node.line, node.column) == (1, 3)
    field = node.right
    assert (field.line, field.column) == (2, 9)  # a field points at its own name


def test_the_locator_maps_positions_into_the_file():
    diagnostic = None
    try:
        parse_expression("a && b", lambda line, column: Span("rules.yaml", 10 + line, 20 + column))
    except PunchcardError as exc:
        diagnostic = exc.diagnostics[0]
    assert diagnostic.span == Span("rules.yaml", 11, 23)


@pytest.mark.parametrize("text, column, message, hint", [
    ("a && b", 3, "unexpected character '&'", "write `and` instead of &&"),
    ("a || b", 3, "unexpected character '|'", "write `or` instead of ||"),
    ("a = 1", 3, "unexpected character '='", "use == to compare"),
    ("a % 2", 3, "unexpected character '%'", "the language has + - * / only"),
    ("!a", 1, "unexpected character '!'", "write `not` for negation, and != for 'not equal'"),
    ("a +", 4, "the expression ends too early", None),
    ("a < b < c", 7, "unexpected '<'", None),
    ("1 == 2 == 3", 8, "unexpected '=='", None),
    ("f(,)", 3, "unexpected ','", None),
])
def test_syntax_errors_point_at_the_token(text, column, message, hint):
    diagnostic = error_of(text)
    assert (diagnostic.code, diagnostic.span.column, diagnostic.message) == (Code.PARSE_ERROR, column, message)
    if hint is not None:
        assert diagnostic.hint == hint


def test_the_expected_tokens_are_listed():
    assert error_of("a +").hint.startswith("expected ")


@pytest.mark.parametrize("text, message", [
    ("2026-02-30", "2026-02-30 is not a real date"),
    ("25:00", "25:00 is not a real time of day"),
    ("10:61", "10:61 is not a real time of day"),
])
def test_impossible_dates_and_times(text, message):
    diagnostic = error_of(text)
    assert (diagnostic.code, diagnostic.message) == (Code.PARSE_ERROR, message)


@pytest.mark.parametrize("text", ["1e5", "0x10", "1_000", "a ** 2", "a.b()", "f()()", "x.1", "é", "`a`"])
def test_what_the_language_does_not_have(text):
    assert error_of(text).code is Code.PARSE_ERROR


def test_length_limit():
    longest = '"' + "x" * (ExprLimits.max_length - 2) + '"'
    assert parse_expression(longest) == ast.String("x" * (ExprLimits.max_length - 2))
    diagnostic = error_of(longest + " ")
    assert diagnostic.code is Code.LIMIT_ERROR and "2000" in diagnostic.message


def test_bracket_depth_limit():
    depth = ExprLimits.max_depth
    assert parse_expression("(" * depth + "1" + ")" * depth) == N("1")
    diagnostic = error_of("(" * (depth + 1) + "1" + ")" * (depth + 1))
    assert (diagnostic.code, diagnostic.span.column) == (Code.LIMIT_ERROR, depth + 1)


def test_brackets_inside_strings_do_not_count():
    text = '"\\"' + "(" * 60 + '"'
    assert parse_expression(text) == ast.String('"' + "(" * 60)


def test_node_depth_limit_without_brackets():
    assert error_of("-" * 100 + "1").code is Code.LIMIT_ERROR
    assert error_of("not " * 100 + "a").code is Code.LIMIT_ERROR


def test_list_size_limit():
    items = ExprLimits.max_list_items
    assert len(parse_expression("[" + ",".join("1" * items) + "]").items) == items
    diagnostic = error_of("[" + ",".join("1" * (items + 1)) + "]")
    assert diagnostic.code is Code.LIMIT_ERROR and str(items) in diagnostic.message


def test_only_text_is_an_expression():
    with pytest.raises(PunchcardError) as info:
        parse_expression(42)
    assert info.value.code is Code.TYPE_ERROR


def test_dunder_names_are_syntax_that_the_checker_refuses():
    assert parse_expression("event.__class__") == ast.Field(ast.Name("event"), "__class__")
    assert parse_expression('__import__("os")') == ast.Call("__import__", (ast.String("os"),))
