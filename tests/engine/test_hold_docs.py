"""The complete rulesets in docs/operations.md (a legal hold, an import) pass their tests, and
the page names rulesets and commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.doc_rulesets import page_rulesets, ruleset_id

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
RULESETS = page_rulesets("operations.md")


def test_the_page_has_its_worked_examples():
    assert [ruleset_id(body) for body in RULESETS] == ["hold-docs", "import-docs"]


@pytest.mark.parametrize("body", RULESETS, ids=ruleset_id)
def test_each_example_passes_its_tests(body):
    results = run_tests(compile_ruleset(body))
    assert results, "the example has tests"
    assert [r.failures for r in results] == [[] for _ in results]


def test_the_rulesets_it_names_exist():
    named = re.findall(r"`(tests/engine/rulesets/[\w-]+\.yaml)`", DOC)
    assert len(named) == 3 and all((ROOT / name).is_file() for name in named)
