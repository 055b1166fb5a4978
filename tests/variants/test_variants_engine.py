"""The engine decides with the member's variant and stamps it; without variants nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import punchcard
from punchcard.engine import Engine, MemoryStore, evaluate
from punchcard.engine.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
MORNING = {"type": "purchase", "time": "2026-03-02T08:15:00", "amount": "150", "category": "coffee"}


@pytest.fixture(scope="module")
def compiled():
    return punchcard.compile(ROOT / "rulesets/coffee-ab.yaml")


def test_each_variant_is_compiled_once_and_kept(compiled):
    programs = compiled.split.programs
    assert sorted(programs) == ["control", "triple-mornings"]
    assert all(p.variant == name and p.split is None for name, p in programs.items())
    assert compiled.for_member("ivan") is programs["triple-mornings"]
    assert compiled.for_member("ivan") is compiled.for_member("ivan")


def test_every_decision_is_stamped_with_the_members_variant(compiled):
    for member in [f"m{i}" for i in range(40)]:
        decision, _ = evaluate(compiled, None, {**MORNING, "id": "o1", "member": member})
        assert decision.variant == compiled.split.variant_of(member)
        assert decision.points == (450 if decision.variant == "triple-mornings" else 300)
        assert decision.to_dict()["variant"] == decision.variant


def test_a_rejected_or_invalid_event_is_stamped_too(compiled):
    early, _ = evaluate(compiled, None, {**MORNING, "id": "o1", "member": "ivan", "time": "2025-01-01T08:00:00"})
    invalid, _ = evaluate(compiled, None, {**MORNING, "id": "o1", "member": "ivan", "amount": "x"})
    assert (early.outcome, early.variant) == ("rejected", "triple-mornings")
    assert (invalid.outcome, invalid.variant) == ("rejected", "triple-mornings")


def test_without_variants_decisions_serialise_exactly_as_before():
    plain = punchcard.compile(ROOT / "rulesets/coffee-club.yaml")
    assert plain.split is None and plain.for_member("ivan") is plain
    decision, _ = evaluate(plain, None, {**MORNING, "id": "o1", "member": "ivan"})
    assert decision.variant is None
    assert list(decision.to_dict()) == ["event_id", "member_id", "ruleset", "outcome", "points", "effects", "balance",
                                        "pending", "tier", "reason", "event_type", "time", "trace"]


@pytest.mark.parametrize("url", ["memory", "sqlite"])
def test_the_store_keeps_the_stamp_and_a_retry_answers_with_it(compiled, url, tmp_path):
    from punchcard.plugins.sql.store import SqlStore

    store = MemoryStore() if url == "memory" else SqlStore(f"sqlite:///{tmp_path / 'p.db'}")
    engine = Engine(compiled, store)
    first = engine.process({**MORNING, "id": "o1", "member": "ivan"})
    again = engine.process({**MORNING, "id": "o1", "member": "ivan"})
    assert first.variant == "triple-mornings" and again.outcome == "duplicate"
    (stored,) = store.decisions("ivan")
    assert stored.variant == "triple-mornings" and stored.to_dict() == first.to_dict()
    store.close()


def test_pinned_tests_run_their_variant(compiled):
    results = run_tests(compiled)
    assert [r.passed for r in results] == [True] * 4
    assert results[1].decisions[-1]["variant"] == "triple-mornings"
    assert results[0].decisions[-1]["variant"] == "control"


def test_the_dry_run_replays_each_member_in_their_variant(compiled, tmp_path):
    from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report

    events = tmp_path / "e.jsonl"
    events.write_text("".join(
        f'{{"type": "purchase", "id": "o{i}", "member": "m{i}", "time": "2026-03-02T08:1{i % 10}:00", '
        f'"amount": 150, "category": "coffee"}}\n' for i in range(30)), encoding="utf-8")
    report = to_json_report(build_report(dry_run(Options(ROOT / "rulesets/coffee-ab.yaml", events))))
    triple = sum(compiled.split.variant_of(f"m{i}") == "triple-mornings" for i in range(30))
    assert report["totals"]["points_issued"] == str(300 * 30 + 150 * triple)
    shown = [d for m in report["top_members"] for d in m.get("decisions", [])]
    assert all(d["variant"] == compiled.split.variant_of(d["member_id"]) for d in shown)


def test_a_budget_a_variant_adds_is_shared_alike_by_the_engine_and_the_dry_run(tmp_path):
    """Only members of the variant run the budgeted rule; the engine and the dry-run's budget
    passes must stop paying it at the same event."""
    from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report

    text = (ROOT / "rulesets/coffee-ab.yaml").read_text(encoding="utf-8")
    text = text[:text.index("tests:")].replace("  caps:\n    - {per: member, period: day, max_points: 500}\n", "")
    text = text.replace(
        "            - id: coffee-mornings\n              multiply: 3\n",
        "            - id: coffee-mornings\n              multiply: 3\n          budgets:\n"
        "            - {rule: big-basket, max_points: 400}\n")
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    compiled = punchcard.compile(tmp_path / "r.yaml")
    events = [{"type": "purchase", "id": f"o{i}", "member": f"m{i % 12}", "time": f"2026-03-{2 + i // 12:02d}T12:00:00",
               "amount": "1500", "category": "food"} for i in range(48)]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    engine = Engine(compiled, MemoryStore())
    paid = sum(d.points for d in map(engine.process, events))
    report = to_json_report(build_report(dry_run(Options(tmp_path / "r.yaml", tmp_path / "e.jsonl"))))
    assert report["totals"]["points_issued"] == str(paid)
    bonuses = paid - 48 * 1500
    control = sum(compiled.split.variant_of(e["member"]) == "control" for e in events)
    assert bonuses == 50 * control + 400  # the control's bonuses are unbudgeted; the variant's stop at 400
