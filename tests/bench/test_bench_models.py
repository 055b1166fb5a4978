"""The models benchmark runs end to end at a tiny size and reports every figure it promises:
Engine.offers p50 and p99 with a model and against its baseline, and the dry-run one row at
a time against batched. No timing is asserted: figures belong to the bench run."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"bench/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_reports_offers_latency_and_the_dry_run_both_ways_as_json(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench/bench_models.py"),
                           "--calls", "20", "--events", "300", "--data", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    offers = report["offers"]
    assert report["calls"] == 20 and report["member"].startswith("m")
    for side in ("baseline", "model"):
        row = offers[side]
        assert 0 < row["p50_us"] <= row["p99_us"] and row["mean_us"] > 0 and row["candidates"] > 0
        assert 0 < row["p50_cpu_us"] <= row["p99_cpu_us"]
    assert all(offers[f"{key}_ratio"] > 0 for key in ("p50", "p99", "p50_cpu", "p99_cpu"))
    assert [(row["model"], row["batches"]) for row in report["dryrun"]] == [("churn", False), ("anomaly", True)]
    for row in report["dryrun"]:
        assert row["events"] == 300 and row["one_row_s"] > 0 and row["batched_s"] > 0 and row["speedup"] > 0
    assert (tmp_path / "models" / "engagement.card.json").is_file()


def test_the_text_output_names_both_sides(capsys):
    bench = _load("bench_models")
    row = {"p50_us": 10.0, "p99_us": 20.0, "mean_us": 12.0, "p50_cpu_us": 9.0, "p99_cpu_us": 15.0, "candidates": 6}
    ratios = {"p50_ratio": 1.0, "p99_ratio": 1.0, "p50_cpu_ratio": 1.0, "p99_cpu_ratio": 1.0}
    bench.print_text({"python": "3", "member": "m1", "calls": 5, "offers": {"baseline": row, "model": row, **ratios},
                      "dryrun": [{"model": "anomaly", "events": 9, "batches": True, "one_row_s": 2.0, "batched_s": 1.0,
                                  "speedup": 2.0}]})
    out = capsys.readouterr().out
    assert "rank by offer.value (baseline)" in out and 'score("engagement")' in out and "p99" in out
    assert "one row at a time 2.00 s, batched 1.00 s, x2.0" in out


def test_it_refuses_to_report_when_batching_changes_the_report(monkeypatch, tmp_path):
    bench = _load("bench_models")
    reports = iter([{"a": 1}, {"a": 1}, {"a": 2}])
    monkeypatch.setattr(bench, "dryrun_seconds", lambda ruleset, events, batched: (1.0, next(reports)))
    with pytest.raises(SystemExit, match="disagrees"):
        bench.dryrun_rows({"churn": tmp_path / "c.yaml"}, tmp_path / "e.jsonl", 10)
