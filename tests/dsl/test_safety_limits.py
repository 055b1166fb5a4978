"""Hostile input gets a clean diagnostic with a stable code: never code execution,
never a RecursionError, never an unbounded amount of work."""

from __future__ import annotations

import os
import subprocess

import pytest

from punchcard.dsl.check import check_path, check_text
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.dsl.parser import parse_expression


@pytest.fixture(autouse=True)
def no_process_may_start(monkeypatch):
    """If a YAML tag ever reached a constructor, these would be its way out."""
    def refuse(*args, **kwargs):
        raise AssertionError("a ruleset tried to run a command")

    monkeypatch.setattr(os, "system", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def only_code(text: str, file: str = "hostile.yaml") -> Code:
    result = check_text(text, file)
    assert not result.ok and len(result.diagnostics) == 1, result.diagnostics
    return result.diagnostics[0].code


@pytest.mark.parametrize("tagged", [
    "!!python/object/apply:os.system ['echo hacked']",
    "!!python/object/new:subprocess.Popen [['echo', 'hacked']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:collections.OrderedDict {}",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['echo hacked']",
])
def test_python_tags_are_refused(tagged):
    assert only_code(f"punchcard: 1\nruleset: x\nversion: 1.0.0\ndescription: {tagged}\n") is Code.YAML_ERROR


def test_a_python_tag_as_a_key_is_refused():
    assert only_code("? !!python/name:os.system\n: 1\n") is Code.YAML_ERROR


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_an_alias_bomb_stops_at_the_alias_limit():
    assert only_code(BILLION_LAUGHS) is Code.LIMIT_ERROR


def test_a_wide_alias_bomb_stops_at_the_value_limit():
    # few aliases, each repeating a large anchor: the value count stops it
    anchor = "a: &a [" + ", ".join(["x"] * 2000) + "]\n"
    text = anchor + "".join(f"k{i}: *a\n" for i in range(60))
    result = check_text(text, "wide.yaml")
    assert [d.code for d in result.diagnostics] == [Code.LIMIT_ERROR]
    assert "100000 values" in result.diagnostics[0].message


def test_ten_thousand_nested_parentheses_in_an_expression():
    text = "(" * 10_000 + "1" + ")" * 10_000
    with pytest.raises(PunchcardError) as info:
        parse_expression(text)
    assert info.value.code is Code.LIMIT_ERROR


def test_deep_parentheses_within_the_length_limit():
    with pytest.raises(PunchcardError) as info:
        parse_expression("(" * 999 + "1" + ")" * 999)
    assert info.value.code is Code.LIMIT_ERROR


@pytest.mark.parametrize("text", ["-" * 1999 + "1", "not " * 499 + "x", "a" + ".b" * 999, "[" * 999 + "]" * 999])
def test_deep_expressions_without_brackets_never_recurse_too_far(text):
    with pytest.raises(PunchcardError) as info:
        parse_expression(text)
    assert info.value.code is Code.LIMIT_ERROR


def test_ten_thousand_nested_parentheses_inside_a_ruleset(check_body):
    result = check_body("earning:\n  base:\n    on: purchase\n    points: " + "(" * 10_000 + "1" + ")" * 10_000 + "\n")
    assert [d.code for d in result.diagnostics] == [Code.LIMIT_ERROR]
    assert result.diagnostics[0].span.line == 12


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,
    "a: " + "[" * 10_000 + "]" * 10_000,
    "".join(" " * i + "- \n" for i in range(0, 20_000, 2)),
    "".join(" " * i + f"k{i}:\n" for i in range(0, 20_000, 2)),
    "{a: " * 10_000 + "1" + "}" * 10_000,
])
def test_ten_thousand_nested_yaml_collections(text):
    assert only_code(text) is Code.LIMIT_ERROR


@pytest.mark.parametrize("expression", ["event.__class__", "member.__dict__", "event.amount.__class__",
                                        '__import__("os")', "__builtins__", "event.__class__.__mro__"])
def test_dunder_names_are_refused(check_body, expression):
    result = check_body(f"earning:\n  base:\n    on: purchase\n    points: '{expression}'\n")
    assert [d.code for d in result.diagnostics] in ([Code.UNKNOWN_NAME], [Code.TYPE_ERROR])
    assert not result.ok


def test_dunder_names_say_why():
    text = ("punchcard: 1\nruleset: x\nversion: 1.0.0\nrounding: {mode: floor, scope: event, step: 1}\n"
            "schema:\n  events:\n    purchase: {amount: money}\n"
            "earning:\n  base: {on: purchase, points: event.__class__}\n")
    [diagnostic] = check_text(text, "r.yaml").diagnostics
    assert diagnostic.message == "names starting with __ are not allowed: __class__"


def test_a_five_megabyte_file_is_refused_before_parsing(tmp_path, ruleset_text):
    text = ruleset_text() + "description: " + "x" * 5_000_000 + "\n"
    assert only_code(text) is Code.LIMIT_ERROR
    path = tmp_path / "huge.yaml"
    path.write_text(text, encoding="utf-8")
    result = check_path(path)
    assert [(d.code, d.span.line) for d in result.diagnostics] == [(Code.LIMIT_ERROR, 1)]


def test_a_huge_included_fragment_is_refused(tmp_path, ruleset_text):
    (tmp_path / "ruleset.yaml").write_text(ruleset_text() + "include: [big.yaml]\n", encoding="utf-8")
    (tmp_path / "big.yaml").write_text("description: " + "x" * 5_000_000 + "\n", encoding="utf-8")
    result = check_path(tmp_path)
    assert [d.code for d in result.diagnostics] == [Code.LIMIT_ERROR]
    assert result.diagnostics[0].span.file == str(tmp_path / "big.yaml")


def test_binary_garbage_is_a_yaml_error(tmp_path):
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 10)
    result = check_path(path)
    assert [d.code for d in result.diagnostics] == [Code.YAML_ERROR]
