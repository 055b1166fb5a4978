"""Safe YAML: 1.2 scalars, exact decimals, positions, limits, and refused constructs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from punchcard.dsl.errors import Code, PunchcardError, Span
from punchcard.dsl.parser import parse_expression
from punchcard.dsl.yamlsrc import Limits, load_yaml

DEFAULT_LIMITS = Limits()


def yaml_error(text: str, limits: Limits = DEFAULT_LIMITS):
    with pytest.raises(PunchcardError) as info:
        load_yaml(text, "r.yaml", limits)
    [diagnostic] = info.value.diagnostics
    return diagnostic


@pytest.mark.parametrize("text, value", [
    ("on: purchase", {"on": "purchase"}),
    ("x: yes", {"x": "yes"}),
    ("x: off", {"x": "off"}),
    ("x: 10:00", {"x": "10:00"}),
    ("x: 1:30:00", {"x": "1:30:00"}),
    ("x: 0.1", {"x": Decimal("0.1")}),
    ("x: 12.50", {"x": Decimal("12.50")}),
    ("x: -3.25", {"x": Decimal("-3.25")}),
    ("x: 1e3", {"x": Decimal("1e3")}),
    ("x: 42", {"x": 42}),
    ("x: 1_000", {"x": 1000}),
    ("x: 0o17", {"x": "0o17"}),
    ("x: true", {"x": True}),
    ("x: False", {"x": False}),
    ("x: ~", {"x": None}),
    ("x:", {"x": None}),
    ("x: 2026-03-02", {"x": dt.date(2026, 3, 2)}),
    ("x: '2026-03-02'", {"x": "2026-03-02"}),
])
def test_yaml_1_2_scalars(text, value):
    assert load_yaml(text).data == value


def test_decimals_are_never_floats():
    data = load_yaml("a: 0.1\nb: 0.2").data
    assert all(isinstance(v, Decimal) for v in data.values())
    assert data["a"] + data["b"] == Decimal("0.3")


def test_positions_of_keys_and_values():
    doc = load_yaml("earning:\n  base:\n    points: event.amount\n", "r.yaml")
    assert doc.source.key(("earning", "base", "points")) == Span("r.yaml", 3, 5)
    assert doc.source.value(("earning", "base", "points")).span == Span("r.yaml", 3, 13)
    # a path that is not in the file falls back to its nearest ancestor
    assert doc.source.value(("earning", "base", "when")).span == Span("r.yaml", 3, 5)


@pytest.mark.parametrize("text, message, hint_part", [
    ("a: 1\na: 2", "duplicate key 'a'", "second would silently win"),
    ("base: &b {x: 1}\nother:\n  <<: *b", "merge keys (<<) are not supported", "include:"),
    ("? [a, b]\n: 1", "mapping keys must be plain names", None),
    ("a: !!python/object/apply:os.system [ls]", "the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
     "is not allowed", "remove the tag"),
    ("a: !!binary aGVsbG8=", "the YAML tag 'tag:yaml.org,2002:binary' is not allowed", None),
    ("a: !local x", "the YAML tag '!local' is not allowed", None),
    ("a: 2026-02-30", "'2026-02-30' is not a real date or time", "quote it"),
    ("a: 1\n---\nb: 2", "expected a single document in the stream but found another document", None),
    ("a:\n\tb: 1", "while scanning for the next token found character '\\t' that cannot start any token", "tabs"),
    ("a: {x: y in [1]}", "while parsing a flow mapping expected ',' or '}', but got '['", "quote the expression"),
    ("a: \x07", "the character #x0007 is not allowed in YAML", None),
])
def test_refused_yaml(text, message, hint_part):
    diagnostic = yaml_error(text)
    assert diagnostic.code is Code.YAML_ERROR
    assert diagnostic.message == message
    assert hint_part is None or hint_part in diagnostic.hint


def test_duplicate_key_points_at_the_second_key():
    assert yaml_error("x: 1\ny:\n  a: 1\n  a: 2").span == Span("r.yaml", 4, 3)


def test_an_empty_document_is_none():
    assert load_yaml("# nothing here\n").data is None


@pytest.mark.parametrize("text, limits, message", [
    ("a: " + "x" * 100, Limits(max_bytes=50), "the file is larger than 50 bytes"),
    ("a: [[[[1]]]]", Limits(max_depth=3), "the document nests deeper than 3 levels"),
    ("a:\n  b:\n    c:\n      d: 1", Limits(max_depth=3), "the document nests deeper than 3 levels"),
    ("a: &a [1]\nb: [*a, *a, *a]", Limits(max_aliases=2), "more than 2 alias uses"),
    ("a: [1, 2, 3, 4, 5, 6]", Limits(max_nodes=5), "the document expands to more than 5 values"),
])
def test_limits(text, limits, message):
    diagnostic = yaml_error(text, limits)
    assert (diagnostic.code, diagnostic.message) == (Code.LIMIT_ERROR, message)


def test_default_limits():
    assert Limits() == Limits(max_bytes=1_000_000, max_depth=64, max_aliases=100, max_nodes=100_000)


def test_size_is_counted_in_bytes_not_characters():
    text = "a: " + "é" * 30  # 63 bytes in UTF-8, 33 characters
    assert yaml_error(text, Limits(max_bytes=40)).code is Code.LIMIT_ERROR


# -- positions inside expression strings ------------------------------------------------

STYLES = {
    "plain": "when: event.amount > 0 && ok\n",
    "single": "when: 'event.category == ''x'' && ok'\n",
    "double": 'when: "event.category == \\"x\\" && ok"\n',
    "double-hex": 'when: "event.category == \\x22x\\x22 && ok"\n',
    "literal": "when: |\n  event.amount > 0\n    && ok\n",
    "literal-keep": "when: |+\n  event.amount > 0\n    && ok\n\n",
    "folded": "when: >\n  event.amount > 0\n  && ok\n",
    "plain-multiline": "when: event.amount > 0\n  && ok\n",
    "double-multiline": 'when: "event.amount > 0\n  && ok"\n',
    "double-escaped-break": 'when: "event.amount > 0 \\\n  && ok"\n',
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_expression_positions_survive_quoting_and_folding(style):
    text = STYLES[style]
    doc = load_yaml(text, "r.yaml")
    with pytest.raises(PunchcardError) as info:
        parse_expression(doc.data["when"], doc.source.value(("when",)).locate)
    span = info.value.diagnostics[0].span
    assert text.splitlines()[span.line - 1][span.column - 1:].startswith("&&"), (style, span)


def test_the_end_of_an_expression_is_just_after_its_last_character():
    text = 'when: "event.amount >"  # comment\n'
    doc = load_yaml(text, "r.yaml")
    with pytest.raises(PunchcardError) as info:
        parse_expression(doc.data["when"], doc.source.value(("when",)).locate)
    assert info.value.diagnostics[0].span == Span("r.yaml", 1, text.index('"  #') + 1)


def test_non_string_values_keep_their_start_position():
    doc = load_yaml("multiply: 2\n", "r.yaml")
    assert doc.source.value(("multiply",)).locate(1, 1) == Span("r.yaml", 1, 11)
