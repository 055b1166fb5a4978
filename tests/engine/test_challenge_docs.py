"""The complete rulesets in docs/challenges.md check cleanly and their tests pass, and the
trace line the page quotes is the one the engine writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.doc_rulesets import page_rulesets, ruleset_id

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.testing import run_tests

DOC = (Path(__file__).resolve().parents[2] / "docs" / "challenges.md").read_text(encoding="utf-8")
RULESETS = page_rulesets("challenges.md")


def test_the_page_has_its_worked_examples():
    assert len(RULESETS) == 2
    assert all("tests:" in body for body in RULESETS)


@pytest.mark.parametrize("body", RULESETS, ids=ruleset_id)
def test_each_example_passes_its_tests(body):
    for specialise in (True, False):
        results = run_tests(compile_ruleset(body, specialise=specialise))
        assert results, "the example has tests"
        assert [r.failures for r in results] == [[] for _ in results]


def test_the_quoted_trace_line_is_what_the_engine_writes():
    (quoted,) = re.findall(r"```text\n(challenges .*?)\n```", DOC)
    phase, rule, note = re.split(r" {2,}", quoted)
    compiled = compile_ruleset(RULESETS[0])
    purchase = {"type": "purchase", "id": "p-1", "member": "ada", "time": "2026-03-02T09:00:00", "amount": "12.00"}
    decision, _ = evaluate(compiled, None, purchase)
    assert [(s.phase, s.rule, s.note) for s in decision.trace if s.phase == "challenges"] == [(phase, rule, note)]
