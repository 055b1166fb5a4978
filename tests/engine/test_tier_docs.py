"""The complete rulesets in docs/tiers.md check cleanly and their tests pass, and the
progress line the page quotes is the one the engine writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.doc_rulesets import page_rulesets, ruleset_id

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.testing import run_tests

DOC = (Path(__file__).resolve().parents[2] / "docs" / "tiers.md").read_text(encoding="utf-8")
RULESETS = page_rulesets("tiers.md")


def test_the_page_has_its_worked_examples():
    assert len(RULESETS) == 3
    assert all("tests:" in body for body in RULESETS)


@pytest.mark.parametrize("body", RULESETS, ids=ruleset_id)
def test_each_example_passes_its_tests(body):
    results = run_tests(compile_ruleset(body))
    assert results, "the example has tests"
    assert [r.failures for r in results] == [[] for _ in results]


def test_the_quoted_progress_line_is_what_the_trace_says():
    (quoted,) = re.findall(r"```text\n(nights .*?)\n```", DOC)
    compiled = compile_ruleset(RULESETS[0])
    stay = {"type": "stay", "id": "s-1", "member": "cal", "time": "2026-02-01T11:00:00", "amount": "14999",
            "nights": 60}
    decision, _ = evaluate(compiled, None, stay)
    notes = [step.note for step in decision.trace if step.phase == "tiers" and step.rule == "progress"]
    assert notes == [quoted]


def test_the_hotel_excerpt_is_the_bundled_file():
    """The page shows rulesets/hotel-elite.yaml as it is, not a copy that drifts from it."""
    bundled = (Path(__file__).resolve().parents[2] / "rulesets" / "hotel-elite.yaml").read_text(encoding="utf-8")
    (excerpt,) = re.findall(r"`rulesets/hotel-elite.yaml` is the whole program:\n\n```yaml\n(.*?)```", DOC, re.S)
    assert excerpt == bundled
