"""``dry-run --ignore-effective``: history replayed under terms whose effective dates begin
after it ("what if these terms had applied last year?"), alone and beside --against."""

from __future__ import annotations

import json
from decimal import Decimal

from dryrun_helpers import purchase, write_jsonl
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report

RUNNER = CliRunner()
TERMS = """\
punchcard: 1
ruleset: {name}
version: 1.0.0
effective: {effective}
timezone: UTC
currency: USD
point_value: 0.01
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money, category: string}}
earning:
  base: {{on: purchase, points: event.amount * {rate}}}
points:
  expiry: {{after: 12 months}}
"""
EVENTS = [purchase("p-1", "ann", "2025-03-10T10:00:00", 100), purchase("p-2", "bob", "2025-06-05T10:00:00", 40),
          purchase("p-3", "ann", "2025-11-30T10:00:00", 60)]


def _terms(tmp_path, name: str, effective: str, rate: int):
    path = tmp_path / f"{name}.yaml"
    path.write_text(TERMS.format(name=name, effective=effective, rate=rate), encoding="utf-8")
    return path


def _report(options: Options) -> dict:
    return json.loads(json.dumps(to_json_report(build_report(dry_run(options)))))


def test_terms_from_next_year_refuse_last_years_history_unless_told_to_ignore_it(tmp_path):
    new = _terms(tmp_path, "next-year", "{from: 2026-01-01}", 2)
    events = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    as_written = _report(Options(new, events))
    assert Decimal(as_written["totals"]["points_issued"]) == 0  # every event is before the terms take effect
    ignored = _report(Options(new, events, ignore_effective=True))
    assert Decimal(ignored["totals"]["points_issued"]) == 400  # (100 + 40 + 60) x 2
    assert ignored["totals"]["events"] == as_written["totals"]["events"] == 3


def test_beside_against_both_sides_ignore_their_dates(tmp_path):
    new = _terms(tmp_path, "next-year", "{from: 2026-01-01}", 2)
    old = _terms(tmp_path, "retired", "{until: 2024-12-31}", 1)  # ended before the history began
    events = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    report = _report(Options(new, events, against=old, ignore_effective=True))
    assert Decimal(report["totals"]["points_issued"]) == 400
    assert Decimal(report["baseline"]["totals"]["points_issued"]) == 200
    assert Decimal(report["diff"]["totals"]["points_issued"]) == 200


def test_the_command_takes_the_flag(tmp_path):
    new = _terms(tmp_path, "next-year", "{from: 2026-01-01}", 2)
    old = _terms(tmp_path, "current", "{}", 1)
    events = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    args = ["dry-run", str(new), "--events", str(events), "--against", str(old), "--format", "json",
            "--no-progress"]
    plain = RUNNER.invoke(app, args)
    ignored = RUNNER.invoke(app, [*args, "--ignore-effective"])
    assert plain.exit_code == 0 and ignored.exit_code == 0, ignored.output
    plain_report, report = json.loads(plain.stdout), json.loads(ignored.stdout)
    assert Decimal(plain_report["totals"]["points_issued"]) == 0
    assert Decimal(report["totals"]["points_issued"]) == 400
    assert Decimal(report["baseline"]["totals"]["points_issued"]) == 200
    assert report["input"]["ignore_effective"] is True and "ignore_effective" not in plain_report["input"]
