"""The memory-store benchmark times both units of work on the same events and refuses to
report when they disagree."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_memory_store", ROOT / "bench/bench_memory_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_reports_both_units_on_the_same_events(capsys):
    bench = _load()
    figures = bench.bench("coffee-club", bench.generate(400, 20, with_check_ins=False), rounds=1)
    assert figures["baseline_us"] > 0 and figures["in_place_us"] > 0
    assert "the same decisions both ways" in capsys.readouterr().out


def test_it_refuses_to_report_when_the_two_disagree(monkeypatch):
    bench = _load()
    real = bench.one_round
    calls = iter(range(100))

    def skewed(compiled, store, events):
        per_event, decisions = real(compiled, store, events)
        return per_event, decisions if next(calls) % 2 == 0 else decisions[1:]

    monkeypatch.setattr(bench, "one_round", skewed)
    with pytest.raises(SystemExit, match="disagree"):
        bench.bench("coffee-club", bench.generate(100, 10, with_check_ins=False), rounds=1)
