"""The reference docs cover everything: every error code, every document key, every function."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from punchcard.dsl.duration import Duration
from punchcard.dsl.errors import Code
from punchcard.dsl.functions import AGGREGATES, BUILTINS
from punchcard.dsl.model import Ruleset

DOCS = Path(__file__).resolve().parents[2] / "docs"
ENGINE_ONLY = {Code.EVENT_ERROR, Code.CONFLICT}
NO_FILE = {Code.NOT_FOUND}  # about a path, not a file's contents: its example is a command, not a ruleset


def section(text: str, heading: str) -> str:
    """The text under a ``## heading``, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match[1] if match else ""


@pytest.mark.parametrize("code", list(Code), ids=lambda c: c.value)
def test_every_code_is_documented(code):
    body = section((DOCS / "errors.md").read_text(encoding="utf-8"), f"`{code.value}`")
    assert body.strip(), f"docs/errors.md has no section `## \\`{code.value}\\``"
    assert "**Fix:**" in body and "```" in body, f"{code.value}: explain the fix and show an example"


@pytest.mark.parametrize("code", sorted(set(Code) - ENGINE_ONLY - NO_FILE, key=lambda c: c.value),
                         ids=lambda c: c.value)
def test_every_checker_code_has_a_tested_example(code):
    body = section((DOCS / "errors.md").read_text(encoding="utf-8"), f"`{code.value}`")
    assert f"```yaml bad\n# expect: {code.value}\n" in body


def test_a_missing_section_is_noticed():
    assert section("## `a`\ntext\n## `b`\nmore\n", "`a`") == "\ntext\n"
    assert section("## `a`\ntext\n", "`zzz`") == ""


def model_keys(model: type[BaseModel], seen: set | None = None) -> set[str]:
    """Every key a ruleset document may contain, at any depth."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    keys = set()
    if model is Duration:  # written as text ("14 days"), never as a mapping
        return set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for inner in _models_in(field.annotation):
            keys |= model_keys(inner, seen)
    return keys


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def test_every_document_key_is_documented():
    text = (DOCS / "ruleset-format.md").read_text(encoding="utf-8")
    keys = model_keys(Ruleset)
    assert {"punchcard", "rounding", "mode", "scope", "step", "naive_times", "keep_through"} <= keys
    assert sorted(k for k in keys if f"`{k}`" not in text) == []


def test_every_function_is_documented():
    text = (DOCS / "expressions.md").read_text(encoding="utf-8")
    for name in list(BUILTINS) + list(AGGREGATES):
        assert f"`{name}(" in text, f"docs/expressions.md does not show {name}()"


def test_the_documented_limits_are_the_real_ones():
    from punchcard.dsl.parser import ExprLimits
    from punchcard.dsl.yamlsrc import Limits

    expressions = (DOCS / "expressions.md").read_text(encoding="utf-8")
    assert f"| {ExprLimits.max_length} characters |" in expressions
    assert f"| {ExprLimits.max_depth} levels |" in expressions
    assert f"| {ExprLimits.max_list_items} |" in expressions
    from punchcard.dsl.cost import AGGREGATE_COST, MAX_COST

    assert f"| {MAX_COST:,} (see [Cost](#cost)) |" in expressions and f"at most {MAX_COST:,} per event" in expressions
    assert f"counts {AGGREGATE_COST}, because" in expressions
    fmt = (DOCS / "ruleset-format.md").read_text(encoding="utf-8")
    limits = Limits()
    assert f"{limits.max_bytes:,} bytes" in fmt and f"| {limits.max_depth} |" in fmt
    assert f"| {limits.max_aliases} |" in fmt and f"| {limits.max_nodes:,} |" in fmt
