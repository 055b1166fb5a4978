"""The performance table's baseline computes what the engine does, and the table refuses
to report when it does not. No timing is asserted: figures belong to the bench run."""

import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from punchcard.engine import Engine, MemoryStore, evaluate
from punchcard.engine.compiler.stages import compile_ruleset

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / f"bench/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _core(compiled):
    states = {}

    def decide(raw):
        decision, states[raw["member"]] = evaluate(compiled, states.get(raw["member"]), raw, owned=True)
        return decision

    return decide


@pytest.mark.parametrize("name, check_ins", [("coffee-club", False), ("retail-tiers", True)])
def test_the_hand_written_function_agrees_with_the_core_on_points_and_member_state(name, check_ins):
    hand, bench = _load("handwritten"), _load("bench_engine")
    events = bench.generate(4000, 40, with_check_ins=check_ins)
    assert hand.disagreements(name, _core(compile_ruleset(ROOT / f"rulesets/{name}.yaml")), events) == []


def test_the_retail_events_exercise_what_the_hand_written_function_claims_to_cover():
    hand, bench = _load("handwritten"), _load("bench_engine")
    compiled, by_hand = compile_ruleset(ROOT / "rulesets/retail-tiers.yaml"), hand.retail_tiers()
    decide, tiers, outcomes, released = _core(compiled), set(), set(), False
    for raw in bench.generate(4000, 40, with_check_ins=True):
        by_hand.points(raw)
        decision = decide(raw)
        tiers.add(decision.tier.current)
        outcomes.add(decision.outcome)
        released = released or decision.balance > 0
    assert tiers == {"standard", "silver", "gold", "diamond"} and "review" in outcomes and released


def test_the_engine_agrees_with_the_hand_written_function_too():
    hand, bench = _load("handwritten"), _load("bench_engine")
    engine = Engine(compile_ruleset(ROOT / "rulesets/coffee-club.yaml"), MemoryStore())
    events = bench.generate(3000, 30, with_check_ins=False)
    assert hand.disagreements("coffee-club", engine.process, events) == []


def test_a_wrong_hand_written_function_is_caught(monkeypatch):
    hand, bench = _load("handwritten"), _load("bench_engine")
    monkeypatch.setattr(hand, "RETAIL_LEVELS", ((hand.ZERO, "standard", hand.Decimal(1)),))
    compiled = compile_ruleset(ROOT / "rulesets/retail-tiers.yaml")
    found = hand.disagreements("retail-tiers", _core(compiled), bench.generate(3000, 30, with_check_ins=True))
    assert len(found) == 5 and "by hand" in found[0] and "engine" in found[0]


def test_the_table_refuses_to_report_when_the_baseline_disagrees(monkeypatch):
    table = _load("bench_table")
    monkeypatch.setattr(table, "disagreements", lambda name, decide, events: [f"{name}: e1 differs"])
    with pytest.raises(SystemExit, match="e1 differs"):
        table.check_agreement("coffee-club", compile_ruleset(ROOT / "rulesets/coffee-club.yaml"),
                              table.events_for("coffee-club", 50, 5))


def test_the_table_command_reports_every_path_with_its_target_as_json(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench/run.py"), "table", "--events", "2000", "--members",
                           "40", "--dryrun-members", "200", "--check", "500", "--data", str(tmp_path),
                           "--format", "json"], capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    rows = {(row["ruleset"], row["path"]): row for row in report["rows"]}
    assert report["events"] == 2000 and report["agreement"]["events"] == 500
    core = rows[("coffee-club", "evaluate, trace on")]
    assert core["target"] == "≤ 3×" and core["ratio"] > 0 and core["met"] in (True, False)
    assert rows[("retail-tiers", "evaluate, trace on")]["target"] == "≤ 5×"
    assert rows[("coffee-club", "Engine.process, MemoryStore")]["target"] == "≤ 5×"
    latency = rows[("coffee-club", "Engine.process p99, latency GC")]
    assert latency["target"] == "p99 < 50 µs" and latency["p99_us"] > 0 and latency["gc_threshold"] == [50000, 50, 100]
    off = rows[("coffee-club", "evaluate, trace off")]
    assert off["available"] == table_offers_trace_off() and (off["ratio"] > 0 if off["available"] else True)
    dry = report["dryrun"]
    assert dry["events"] == 2000 and dry["members"] == 200 and dry["small_events"] == 500
    assert dry["peak_rss_mb"] > 0 and dry["small_peak_rss_mb"] > 0 and dry["target"] == "≤ 30 s per 1,000,000"


def table_offers_trace_off() -> bool:
    return "trace" in inspect.signature(evaluate).parameters


def test_the_table_prints_n_a_for_a_path_the_engine_does_not_offer(capsys):
    table = _load("bench_table")
    rows = [table.Row("coffee-club", "evaluate, trace off", available=False)]
    table.print_table(rows, None, 0)
    assert "n/a" in capsys.readouterr().out
