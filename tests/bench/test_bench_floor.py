"""The benchmark's floor row rebuilds exactly what the engine returned, so it prices the
engine's own output and nothing smaller."""

import importlib.util
from pathlib import Path

import pytest

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset

ROOT = Path(__file__).resolve().parents[2]


def _bench_engine():
    spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench/bench_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, check_ins", [("coffee-club", False), ("retail-tiers", True)])
def test_the_floor_rebuilds_decisions_equal_to_the_engines(name, check_ins):
    bench = _bench_engine()
    compiled = compile_ruleset(ROOT / f"rulesets/{name}.yaml")
    states, checked = {}, 0
    for raw in bench.generate(400, 20, with_check_ins=check_ins):
        decision, states[raw["member"]] = evaluate(compiled, states.get(raw["member"]), raw, owned=True)
        rebuilt = bench.rebuild(compiled, raw, decision)
        assert rebuilt == decision
        if decision.trace:  # copies, not the engine's own objects
            assert rebuilt.trace[0] is not decision.trace[0]
            checked += 1
    assert checked > 300  # the events carried traces to copy


def test_the_floor_runner_returns_the_engines_points():
    bench = _bench_engine()
    compiled = compile_ruleset(ROOT / "rulesets/coffee-club.yaml")
    events = bench.generate(200, 10, with_check_ins=False)
    floor, hand = bench.floor_runner(compiled, events), bench.coffee_by_hand()
    assert [floor(e) for e in events] == [hand(e) for e in events]
