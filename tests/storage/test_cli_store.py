"""``punchcard process`` and ``punchcard member``, in-process and as concurrent commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from ledger_scenarios import COFFEE, purchases
from typer.testing import CliRunner

from punchcard.cli import app

RUNNER = CliRunner()
EVENTS = [
    {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00", "amount": 150,
     "category": "coffee"},
    {"type": "purchase", "id": "o-2", "member": "masha", "time": "2026-03-03T12:00:00", "amount": 10.5,
     "category": "food"},
    {"type": "redeem", "id": "r-1", "member": "masha", "time": "2026-03-04T08:15:00", "points": 1000},
]


def _decisions(stdout: str) -> list[dict]:
    """The decisions of ``--format jsonl``, without its closing summary line."""
    return [doc for doc in map(json.loads, stdout.splitlines()) if "event_id" in doc]


def _jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_process_prints_one_decision_per_line_and_replays_as_duplicates(sql_url, tmp_path):
    url, events = sql_url(), _jsonl(tmp_path / "events.jsonl", EVENTS)
    args = ["process", str(COFFEE), "--store", url, "--events", str(events), "--format", "jsonl"]
    first = RUNNER.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    decisions = _decisions(first.stdout)
    assert [(d["event_id"], d["outcome"], d["points"]) for d in decisions] == [
        ("o-1", "applied", "300"), ("o-2", "applied", "10"), ("r-1", "rejected", "0")]
    assert "processed 3 events: 2 applied, 1 rejected" in first.stderr
    again = RUNNER.invoke(app, [*args, "--batch", "1"])
    assert [d["outcome"] for d in _decisions(again.stdout)] == ["duplicate"] * 3


def test_strict_exits_1_when_an_event_was_rejected(sql_url, tmp_path):
    events = _jsonl(tmp_path / "events.jsonl", EVENTS)
    result = RUNNER.invoke(app, ["process", str(COFFEE), "--store", sql_url(), "--events", str(events), "--strict"])
    assert result.exit_code == 1
    assert "r-1  masha  rejected  0  balance 310  not enough points: 310 available, 1000 needed" in result.stdout


def test_process_reads_csv(sql_url, tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text("type,id,member,time,amount,category,points\n"
                   "purchase,o-1,masha,2026-03-02T08:15:00,150,coffee,\n"
                   "redeem,r-1,masha,2026-03-03T08:15:00,,,100\n")
    url = sql_url()
    result = RUNNER.invoke(app, ["process", str(COFFEE), "--store", url, "--events", str(csv), "--strict"])
    assert result.exit_code == 0, result.stdout + result.stderr
    shown = RUNNER.invoke(app, ["member", "--store", url, "masha", "--format", "json"])
    view = json.loads(shown.stdout)
    assert view["balance"] == "200" and [d["event_id"] for d in view["recent"]] == ["r-1", "o-1"]
    assert view["lots"][0]["expires_at"] == "2029-04-01T00:00:00+03:00"


def test_member_text_and_a_missing_member(sql_url, tmp_path):
    url = sql_url()
    RUNNER.invoke(app, ["process", str(COFFEE), "--store", url, "--events",
                        str(_jsonl(tmp_path / "e.jsonl", EVENTS))])
    shown = RUNNER.invoke(app, ["member", "--store", url, "masha"])
    assert shown.exit_code == 0
    assert "balance 310  pending 0" in shown.stdout and "lot o-1: 300 of 300 (earn)" in shown.stdout
    missing = RUNNER.invoke(app, ["member", "--store", url, "nobody"])
    assert missing.exit_code == 1 and "no member 'nobody'" in missing.stderr


def test_a_bad_row_is_left_out_and_an_unknown_store_is_a_usage_error(sql_url, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "purchase"}\nnot json\n')
    result = RUNNER.invoke(app, ["process", str(COFFEE), "--store", sql_url(), "--events", str(bad)])
    assert result.exit_code == 1 and "2 bad rows left out" in result.stderr
    assert "line 2: not valid JSON" in result.stderr
    assert "line 1: id must be" in " ".join(result.stderr.split())  # refused by the schema, as dry-run refuses it
    unknown = RUNNER.invoke(app, ["process", str(COFFEE), "--store", "redis://x", "--events", str(bad)])
    assert unknown.exit_code == 2 and "no storage plugin understands URL 'redis://x'" in unknown.stderr


@pytest.mark.parametrize("command", [["process"], ["member"], ["audit"], ["db", "upgrade"], ["db", "current"]])
def test_every_command_has_help(command):
    result = RUNNER.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout


@pytest.mark.slow
def test_concurrent_process_commands_apply_each_event_once(sql_url, tmp_path):
    url = sql_url()
    events = _jsonl(tmp_path / "events.jsonl", purchases(seed=4, count=300, members=12))
    punchcard = Path(sys.executable).parent / "punchcard"
    commands = [[str(punchcard), "process", str(COFFEE), "--store", url, "--events", str(events),
                 "--format", "jsonl", "--batch", batch] for batch in ("50", "1", "300")]
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=300) for p in running]
    assert [p.returncode for p in running] == [0, 0, 0], [err for _, err in outputs]
    outcomes = Counter()
    for out, _ in outputs:
        for decision in _decisions(out):
            outcomes[(decision["event_id"], decision["outcome"])] += 1
    assert sum(n for (_, outcome), n in outcomes.items() if outcome == "applied") == 300
    assert all(outcomes[(f"p-{i}", "applied")] == 1 and outcomes[(f"p-{i}", "duplicate")] == 2 for i in range(300))
    audit = RUNNER.invoke(app, ["audit", url])
    assert audit.exit_code == 0 and "300 ledger entries" in audit.stdout


def test_a_text_run_ends_its_result_with_the_summary_on_stdout(sql_url, tmp_path):
    """One decision a line, then what they add up to: all of it the result, on stdout."""
    url, events = sql_url(), _jsonl(tmp_path / "events.jsonl", EVENTS)
    done = RUNNER.invoke(app, ["process", str(COFFEE), "--store", url, "--events", str(events)])
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "processed 3 events: 2 applied, 1 rejected"
    assert "processed" not in done.stderr
