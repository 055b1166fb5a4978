"""The three commands through the real typer app: output, files written, exit codes."""

import json

from dryrun_helpers import V1, V2, purchase, write_jsonl
from typer.testing import CliRunner

from punchcard.cli import app

runner = CliRunner()


def _events(tmp_path):
    return write_jsonl(tmp_path / "events.jsonl", [purchase("p-1", "ann", "2026-04-01T12:00:00", 1500),
                                                   purchase("p-2", "ann", "2026-04-04T12:00:00", 1000)])


def test_dry_run_prints_tables_and_writes_the_report(tmp_path):
    report = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["dry-run", str(V2), "--events", str(_events(tmp_path)), "--against", str(V1),
                                 "--report", str(report), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Totals" in result.stdout and "Cost of the change" in result.stdout
    assert report.is_file() and "retail-tiers@2.0.0" in report.read_text()


def test_json_output_is_the_report(tmp_path):
    result = runner.invoke(app, ["dry-run", str(V1), "--events", str(_events(tmp_path)), "--format", "json",
                                 "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["totals"]["events"] == 2 and report["totals"]["points_issued"] == "27"  # 15 + 10 x 1.2


def test_usage_problems_exit_2(tmp_path):
    events = str(_events(tmp_path))
    missing = runner.invoke(app, ["dry-run", str(V1), "--events", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad_date = runner.invoke(app, ["dry-run", str(V1), "--events", events, "--from", "last year"])
    assert bad_date.exit_code == 2 and "--from" in bad_date.stderr
    bad_workers = runner.invoke(app, ["dry-run", str(V1), "--events", events, "--workers", "0"])
    assert bad_workers.exit_code == 2
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text("renames: {a: b}\n")
    assert runner.invoke(app, ["dry-run", str(V1), "--events", events, "--map", str(bad_map)]).exit_code == 2


def test_a_broken_ruleset_exits_1(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(V1.read_text().replace("points: event.amount / 100", "points: event.amount / nothing"))
    result = runner.invoke(app, ["dry-run", str(broken), "--events", str(_events(tmp_path)), "--no-progress"])
    assert result.exit_code == 1 and "nothing" in result.stderr


def test_demo_writes_its_report(tmp_path):
    report = tmp_path / "demo.html"
    result = runner.invoke(app, ["demo", "--report", str(report), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ruleset"] == "retail-tiers@2.0.0"
    assert report.is_file() and "data-charts" in report.read_text()


def test_sample_events_are_deterministic_and_fit_the_ruleset(tmp_path):
    first, second, other = (tmp_path / n for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    for path, seed in ((first, "5"), (second, "5"), (other, "6")):
        result = runner.invoke(app, ["sample-events", "-o", str(path), "--count", "800", "--members", "60",
                                     "--seed", seed])
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes() != other.read_bytes()
    assert len(first.read_text().splitlines()) == 800
    checked = runner.invoke(app, ["dry-run", str(V1), "--events", str(first), "--strict", "--format", "json",
                                  "--no-progress"])
    assert checked.exit_code == 0, checked.output
    kinds = {json.loads(line)["type"] for line in first.read_text().splitlines()}
    assert {"purchase", "check_in", "refund", "redeem"} <= kinds
