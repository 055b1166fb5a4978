"""Reserved words: a keyword where a name belongs is an error at the keyword itself."""

from __future__ import annotations

import re

import pytest

from punchcard.dsl.errors import Code, PunchcardError
from punchcard.dsl.parser import RESERVED_WORDS, parse_expression
from punchcard.grammar import grammar_text


def error_of(text: str):
    with pytest.raises(PunchcardError) as info:
        parse_expression(text)
    [diagnostic] = info.value.diagnostics
    return diagnostic


def test_every_keyword_of_the_grammar_is_reserved():
    quoted = set(re.findall(r'"([a-z]+)"', grammar_text()))
    assert quoted == set(RESERVED_WORDS)
    assert {"if", "then", "else", "and", "or", "not", "in", "true", "false"} <= quoted
    excluded = re.search(r"^NAME: /\(\?!\(([a-z|]+)\)", grammar_text(), re.MULTILINE).group(1)
    assert set(excluded.split("|")) == quoted


@pytest.mark.parametrize("text, column", [
    ('event.category == "coffee" and and morning', 32),
    ('event.category == "coffee" or or morning', 31),
    ('event.category in in ["a"]', 19),
    ('event.category not not in ["a"]', 20),
    ('event.category == "coffee" and if morning', 32),
    ("if a then then b else c", 11),
    ("if a then b else else c", 18),
])
def test_a_misplaced_keyword_is_the_error(text, column):
    diagnostic = error_of(text)
    word = text[column - 1:].split()[0]
    assert diagnostic.code is Code.PARSE_ERROR
    assert diagnostic.span.column == column
    assert diagnostic.message == f"unexpected {word!r}"
    assert "reserved word" in diagnostic.hint and f"`{word}`" in diagnostic.hint


# Words that can start an expression are legal where a call or an argument begins.
_STARTS = {"if", "not", "true", "false"}
_NAME_SPOTS = [(w, t) for w in RESERVED_WORDS for t in ["event.{w} > 1", "member.{w} == 1"]] + \
    [(w, t) for w in RESERVED_WORDS if w not in _STARTS
     for t in ["{w}(event.amount) > 1", "count({w}, within: 1 day) > 1", "f(x, {w}: 1)"]]


@pytest.mark.parametrize("word, template", _NAME_SPOTS)
def test_a_keyword_is_never_a_name(word, template):
    text = template.format(w=word)
    diagnostic = error_of(text)
    assert diagnostic.span.column == text.index(word) + 1, (text, diagnostic)
    assert diagnostic.message == f"unexpected {word!r}"
    assert "reserved word" in diagnostic.hint


@pytest.mark.parametrize("name", ["android", "order", "notes", "index", "iffy", "thence", "elsewhere", "trueish",
                                  "falsehood", "in_store", "or_"])
def test_names_that_start_with_a_keyword_are_names(name):
    assert parse_expression(f"event.{name} == 1 and {name} > 2") is not None


@pytest.mark.parametrize("word", RESERVED_WORDS)
def test_a_keyword_cannot_be_a_let_name(word, check_body, codes):
    result = check_body(f"""\
        let:
          {word}: event.amount > 1
        earning:
          base: {{on: purchase, points: event.amount}}
        """)
    assert codes(result) == ["schema_error"]
    assert "choose another name" in result.diagnostics[0].message


@pytest.mark.parametrize("word", RESERVED_WORDS)
def test_a_keyword_cannot_be_a_field_or_event_name(word, ruleset_text, codes):
    from punchcard.dsl.check import check_text

    text = ruleset_text().replace("channel: optional string", f"{word}: optional string")
    result = check_text(text, "ruleset.yaml")
    assert codes(result) == ["schema_error"]
    assert f"{word!r} is a reserved word" in result.diagnostics[0].message
    assert result.diagnostics[0].span.line == 8
    member = ruleset_text().replace("segment: optional string", f"{word}: optional string")
    assert codes(check_text(member, "ruleset.yaml")) == ["schema_error"]
    events = ruleset_text().replace("    purchase: {", f"    {word}: {{x: number}}\n    purchase: {{")
    assert codes(check_text(events, "ruleset.yaml")) == ["schema_error"]
