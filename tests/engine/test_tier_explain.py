"""The explanation's tier line: one metric says what the next level still needs; several
metrics say where the member stands on each, as the trace's progress step does."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.explain import trace_tree

ROOT = Path(__file__).resolve().parents[2]


def _tier_line(ruleset: Path, event: dict[str, object]) -> str:
    decision, _ = evaluate(compile_ruleset(ruleset.read_text(encoding="utf-8")), None, event)
    console = Console(width=400, no_color=True, record=True, file=io.StringIO())
    console.print(trace_tree(decision))
    lines = [line for line in console.export_text().splitlines() if "tier " in line and "── tier" in line]
    assert len(lines) == 1
    return lines[0].split("── ", 1)[1]


def test_several_metrics_show_each_and_what_the_next_level_needs():
    stay = {"type": "stay", "id": "s-1", "member": "a", "time": "2026-03-02T11:00:00", "amount": "900", "nights": 9}
    line = _tier_line(ROOT / "rulesets" / "hotel-elite.yaml", stay)
    assert line == "tier member (nights 9, spend 900); silver needs 1 more nights"
    assert "None" not in line


def test_one_metric_keeps_its_line():
    purchase = {"type": "purchase", "id": "p-1", "member": "a", "time": "2026-03-15T08:00:00", "amount": "100"}
    line = _tier_line(ROOT / "tests" / "engine" / "rulesets" / "tier-stars-gold.yaml", purchase)
    assert line == "tier green (metric 100); 400 more for gold"
