"""--from and --until: the window of events, and housekeeping up to --until."""

import json
from decimal import Decimal

from dryrun_helpers import V1, purchase, write_jsonl

from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report

EVENTS = [purchase("p-1", "ann", "2026-01-10T10:00:00", 6000),  # gold at once; 60 points expire 2028-02-01
          {"type": "check_in", "id": "c-1", "member": "ann", "time": "2026-01-11T09:00:00"},
          purchase("p-2", "bob", "2026-03-05T10:00:00", 800),
          purchase("p-3", "bob", "2026-12-30T10:00:00", 500)]


def _report(tmp_path, **options) -> dict:
    events = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    return json.loads(json.dumps(to_json_report(build_report(dry_run(Options(V1, events, **options))))))


def test_without_until_the_books_close_at_the_last_event(tmp_path):
    report = _report(tmp_path)
    assert report["totals"]["points_expired"] == "0"
    assert report["input"]["end"] == "2026-12-30T10:00:00+09:00"
    assert report["tiers"]["end"]["gold"] == 1 and report["tiers"]["moves"]["down"] == 0
    assert report["by_month"][-1]["month"] == "2026-12"


def test_until_runs_housekeeping_so_expiry_and_downgrades_show(tmp_path):
    import datetime as dt

    report = _report(tmp_path, until=dt.date(2028, 3, 31))
    totals = report["totals"]
    issued = Decimal(totals["points_issued"])
    assert issued > 0 and Decimal(totals["points_expired"]) > 0
    ann_points = Decimal(60 + 7)  # the purchase and the first check-in, both earned in January 2026
    january = next(m for m in report["by_month"] if m["month"] == "2028-01")
    assert Decimal(january["points_expired"]) == ann_points  # expiring at 2028-02-01 00:00: gone by January's end
    assert Decimal(totals["liability_points"]) == issued - Decimal(totals["points_expired"])
    assert report["tiers"]["end"]["gold"] == 0 and report["tiers"]["moves"]["down"] >= 1
    assert Decimal(totals["breakage"]) == (Decimal(totals["points_expired"]) / issued).quantize(Decimal("0.000001"))
    assert report["by_month"][-1]["month"] == "2028-03"
    assert report["input"]["end"] == "2028-04-01T00:00:00+09:00"  # the end of --until's day


def test_from_and_until_filter_the_events(tmp_path):
    import datetime as dt

    report = _report(tmp_path, since=dt.date(2026, 3, 1), until=dt.date(2026, 6, 30))
    assert report["totals"]["events"] == 1  # only p-2
    assert report["input"]["filtered_out"] == 3
    assert report["top_members"][0]["event_ids"] == ["p-2"]


def test_from_later_than_until_is_refused_before_anything_is_read(tmp_path):
    import datetime as dt

    import pytest

    from punchcard.engine.dryrun import InputError

    missing = tmp_path / "never-read.jsonl"  # the window is checked first: the events file is not opened
    for since, until in ((dt.date(2026, 5, 2), dt.date(2026, 5, 1)),
                         (dt.datetime(2026, 5, 1, 12), dt.datetime(2026, 5, 1, 11, 59)),
                         (dt.date(2026, 5, 2), dt.datetime(2026, 5, 1, 23, 0))):
        with pytest.raises(InputError, match=r"--from .* is later than --until"):
            dry_run(Options(V1, missing, since=since, until=until))


def test_a_one_day_window_is_fine(tmp_path):
    import datetime as dt

    report = _report(tmp_path, since=dt.date(2026, 3, 5), until=dt.date(2026, 3, 5))
    assert report["totals"]["events"] == 1  # p-2, on that day


def test_the_cli_exits_2_when_from_is_later_than_until(tmp_path):
    from typer.testing import CliRunner

    from punchcard.cli import app

    events = str(write_jsonl(tmp_path / "events.jsonl", EVENTS))
    result = CliRunner().invoke(app, ["dry-run", str(V1), "--events", events, "--from", "2026-06-01",
                                      "--until", "2026-05-31", "--no-progress"])
    assert result.exit_code == 2
    assert "--from 2026-06-01 is later than --until 2026-05-31" in " ".join(result.stderr.split())
