"""print_expression is the parser's inverse, with the fewest parentheses that keep the meaning."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl import ast
from punchcard.dsl.errors import PunchcardError
from punchcard.dsl.parser import parse_expression
from punchcard.dsl.printer import print_expression

KEYWORDS = {"if", "then", "else", "and", "or", "not", "in", "true", "false"}
UNITS = ("minute", "hour", "day", "week", "month", "year")

names = st.from_regex(r"\A[a-z_][a-z0-9_]{0,7}\Z").filter(lambda n: n not in KEYWORDS)
numbers = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=3)
leaves = st.one_of(
    st.builds(ast.Number, numbers),
    st.builds(ast.String, st.text(max_size=8)),
    st.builds(ast.Bool, st.booleans()),
    st.builds(ast.DateLit, st.dates()),
    st.builds(ast.TimeLit, st.times().map(lambda t: t.replace(microsecond=0))),
    st.builds(ast.DurationLit, st.integers(0, 100).map(Decimal), st.sampled_from(UNITS)),
    st.builds(ast.Name, names),
)


def _compound(children):
    pairs = st.tuples(children, children)
    return st.one_of(
        st.builds(ast.Field, children, names),
        st.builds(ast.Unary, st.just("-"), children),
        st.builds(lambda op, p: ast.Binary(op, *p), st.sampled_from("+-*/"), pairs),
        st.builds(lambda op, p: ast.Compare(op, *p),
                  st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]), pairs),
        st.builds(lambda op, p: ast.Logical(op, *p), st.sampled_from(["and", "or"]), pairs),
        st.builds(ast.Not, children),
        st.builds(ast.If, children, children, children),
        st.builds(ast.ListLit, st.lists(children, max_size=3).map(tuple)),
        st.builds(ast.Call, names, st.lists(children, max_size=3).map(tuple),
                  st.lists(st.builds(ast.Keyword, names, children), max_size=2).map(tuple)),
    )


def _operators(children):
    pairs = st.tuples(children, children)
    return st.one_of(
        st.builds(lambda op, p: ast.Binary(op, *p), st.sampled_from("+-*/"), pairs),
        st.builds(lambda op, p: ast.Compare(op, *p), st.sampled_from(["<", "==", "in", "not in"]), pairs),
        st.builds(lambda op, p: ast.Logical(op, *p), st.sampled_from(["and", "or"]), pairs),
        st.builds(ast.Unary, st.just("-"), children),
        st.builds(ast.Not, children),
        st.builds(ast.If, children, children, children),
        st.builds(ast.Field, children, names),
    )


# Whole-language trees, plus operator-only trees where precedence questions are dense.
trees = st.one_of(
    st.recursive(leaves, _compound, max_leaves=16),
    st.recursive(st.builds(ast.Name, names) | st.builds(ast.Number, numbers), _operators, max_leaves=10),
)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_printed_trees_parse_back_to_the_same_tree(tree):
    assert parse_expression(print_expression(tree)) == tree


@settings(max_examples=200, deadline=None)
@given(trees)
def test_printing_is_stable(tree):
    text = print_expression(tree)
    assert print_expression(parse_expression(text)) == text


def grouping_parens(text: str) -> list[tuple[int, int]]:
    """(open, close) index pairs of parentheses that group, not those of calls or strings."""
    pairs, stack, in_string, escaped = [], [], False, False
    for i, ch in enumerate(text):
        if in_string:
            in_string = escaped or ch != '"'
            escaped = ch == "\\" and not escaped
        elif ch == '"':
            in_string = True
        elif ch == "(":
            stack.append((i, i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")))
        elif ch == ")":
            start, is_call = stack.pop()
            if not is_call:
                pairs.append((start, i))
    return pairs


@settings(max_examples=200, deadline=None)
@given(trees)
def test_every_parenthesis_is_needed(tree):
    text = print_expression(tree)
    for start, end in grouping_parens(text):
        loose = text[:start] + " " + text[start + 1:end] + " " + text[end + 1:]
        try:
            reparsed = parse_expression(loose)
        except PunchcardError:
            continue
        assert reparsed != tree, f"the parentheses at {start} in {text!r} are redundant"


@pytest.mark.parametrize("text", [
    "a + b * c", "(a + b) * c", "a - (b - c)", "a - b - c", "a / (b * c)", "-(a + b)", "(-a).b",
    "not a == b", "(not a) == b", "a and b or c", "a and (b or c)", "not (a and b)",
    "if a then b else c", "(if a then b else c) + 1", "a or (if b then c else d)",
    "if if a then b else c then d else e", "(a < b) == c", "a in [1, 2]", "a not in [\"x\"]",
    "count(purchase, within: 30 days)", "max(a, b, c)", "f()", "[]", "(a + b).c", "2026-03-02", "10:00",
    "10:00:30", "7 days", "1 day", "1.50", "-5", "--5", "\"say \\\"hi\\\"\\n\\ttab \\\\ done\"",
])
def test_hand_written_expressions_print_as_written(text):
    assert print_expression(parse_expression(text)) == text


@pytest.mark.parametrize("text, printed", [
    ("((a))", "a"), ("- -5", "--5"), ("a+b*c", "a + b * c"), ("f( x ,k : 1 , )", "f(x, k: 1)"),
    ("'single'", '"single"'), ("9:30", "09:30"), ("10:00:00", "10:00"), ("1 days", "1 day"), ("0007", "7"),
])
def test_printing_normalises_layout(text, printed):
    assert print_expression(parse_expression(text)) == printed


@pytest.mark.parametrize("node, text", [
    (ast.Number(Decimal("-2.5")), "-2.5"),
    (ast.Number(Decimal("1E+3")), "1000"),
    (ast.Binary("*", ast.Name("a"), ast.Number(Decimal("-1"))), "a * -1"),
    (ast.Field(ast.Number(Decimal("-1")), "x"), "(-1).x"),
    (ast.TimeLit(dt.time(9, 5)), "09:05"),
    (ast.DateLit(dt.date(2026, 3, 2)), "2026-03-02"),
    (ast.DurationLit(Decimal(1), "week"), "1 week"),
    (ast.DurationLit(Decimal(3), "month"), "3 months"),
    (ast.String("it's"), "\"it's\""),
    (ast.Call("f", (ast.Name("x"),), (ast.Keyword("k", ast.Number(Decimal(1))),)), "f(x, k: 1)"),
])
def test_literals_print_exactly(node, text):
    assert print_expression(node) == text


def test_negative_numbers_come_back_as_unary_minus():
    printed = print_expression(ast.Number(Decimal("-7")))
    assert parse_expression(printed) == ast.Unary("-", ast.Number(Decimal("7")))


@pytest.mark.parametrize("node", [
    ast.Number(Decimal("NaN")), ast.TimeLit(dt.time(10, 0, 0, 5)),
    ast.TimeLit(dt.time(10, 0, tzinfo=dt.UTC)),
])
def test_values_without_syntax_are_refused(node):
    with pytest.raises(ValueError):
        print_expression(node)


def test_unknown_nodes_are_refused():
    with pytest.raises(TypeError):
        print_expression(ast.Node())


def test_module_declares_its_exports():
    from punchcard.dsl import printer

    assert set(printer.__all__) == {"print_expression", "PRECEDENCE"}
    assert all(hasattr(printer, name) for name in printer.__all__)
