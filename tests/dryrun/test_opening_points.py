"""Opening points (``points:`` or ``balance:``) in ``dry-run --members`` and ``explain --member``
are held to the bounds and rounding step the engine holds an adjustment to."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from dryrun_helpers import RULESETS, V1, purchase, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.runtime.numbers import MAX_POINTS, check_points, read_number

COFFEE = RULESETS / "coffee-club.yaml"  # rounds to whole points
runner = CliRunner()
BAD_OPENINGS = ["0.5", "1e-30", "1e309", "-0", " 5 ", "5_0", 10 ** 16, "NaN", True]
EVENT = {"type": "purchase", "id": "o-1", "member": "m", "time": "2026-03-02T12:15:00", "amount": 150,
         "category": "coffee"}


def _engine_refuses(value) -> str | None:
    """The engine's own words for points it would refuse in an adjustment; None if it takes them."""
    try:
        check_points(read_number(value), Decimal(1))
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("value", BAD_OPENINGS)
@pytest.mark.parametrize("key", ["points", "balance"])
def test_explain_refuses_opening_points_the_engine_would_refuse(key, value):
    result = runner.invoke(app, ["explain", str(COFFEE), "--event", json.dumps(EVENT),
                                 "--member", json.dumps({"id": "m", key: value})])
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith(f"--member: {key} ") and (_engine_refuses(value) or "") in message


@pytest.mark.parametrize("value", BAD_OPENINGS)
def test_dry_run_members_with_bad_opening_points_are_bad_rows(tmp_path, value):
    events = write_jsonl(tmp_path / "events.jsonl", [purchase("p-1", "ann", "2026-03-01T10:00:00", 1000)])
    members = write_jsonl(tmp_path / "members.jsonl", [{"member": "ann", "points": value},
                                                       {"member": "bob", "balance": 200}])
    report = to_json_report(build_report(dry_run(Options(V1, events, members=members))))
    assert report["totals"]["opening_liability_points"] == "200"
    bad = [row for row in report["input"]["bad_row_sample"] if row["file"] == "members"]
    assert [row["line"] for row in bad] == [1] and bad[0]["reason"].startswith("points ")


@settings(max_examples=30, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-MAX_POINTS * 10, max_value=MAX_POINTS * 10,
                   places=3))
def test_explain_takes_exactly_the_opening_points_an_adjustment_may_move(value):
    result = runner.invoke(app, ["explain", str(COFFEE), "--event", json.dumps(EVENT), "--format", "json",
                                 "--member", json.dumps({"id": "m", "points": str(value)})])
    if _engine_refuses(str(value)) is None:
        assert result.exit_code == 0, result.output
        balance = Decimal(json.loads(result.stdout)["balance"])
        assert balance == max(value, 0) + 150 or value < 0  # a negative opening is a debt paid first
    else:
        assert result.exit_code == 2 and "--member: points" in result.stderr
