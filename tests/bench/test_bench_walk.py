"""The walk benchmark compares like with like: the general path it times has no generated
walk left, and it refuses to report when the two disagree on points."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"bench/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_general_path_has_no_walk_and_the_usual_compile_has():
    bench = _load("bench_walk")
    general = bench.general_path(ROOT / "rulesets/coffee-club.yaml")
    assert all(plan.walk is None for plan in general.plans.values())
    assert bench.compile_ruleset(ROOT / "rulesets/coffee-club.yaml").plans["purchase"].walk is not None


def test_it_reports_both_sides_on_the_same_events(capsys):
    bench = _load("bench_walk")
    bench.bench("retail-tiers", bench.generate(300, 20, with_check_ins=True), rounds=1)
    out = capsys.readouterr().out
    assert "the same points both ways" in out and "generated" in out and "general path" in out


def test_it_refuses_to_report_when_the_two_disagree(monkeypatch):
    bench = _load("bench_walk")
    rounds = iter(range(100))
    real = bench.one_round

    def skewed(compiled, events):
        seconds, points = real(compiled, events)
        return seconds, points if next(rounds) % 2 == 0 else [p + 1 for p in points]

    monkeypatch.setattr(bench, "one_round", skewed)
    with pytest.raises(SystemExit, match="disagree"):
        bench.bench("coffee-club", bench.generate(100, 10, with_check_ins=False), rounds=1)
