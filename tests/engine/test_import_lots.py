"""Importing a legacy program's lots (engine/policies/imports.py, docs/operations.md): an import
is applied once whatever is replayed, an imported lot keeps its dates exactly, the SQL audit
reconciles imported points, and ``punchcard import-balances`` says what it did."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import MemoryStore, compile_ruleset
from punchcard.engine.engine import Engine
from punchcard.engine.policies.lifecycle.lots import lot_expiry

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "tests/engine/rulesets/import-legacy.yaml"
COMPILED = compile_ruleset(RULESET)
CUT_OVER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
RUNNER = CliRunner()

LOTS = st.lists(st.tuples(st.sampled_from(["ann", "bob"]), st.integers(1, 10**9), st.integers(0, 2000),
                          st.integers(0, 86_399), st.one_of(st.none(), st.integers(1, 3000))),
                min_size=1, max_size=10)


def _event(index: int, lot: tuple) -> dict:
    member, points, days_ago, seconds, expires_in = lot
    event = {"type": "import", "id": f"legacy-{index}", "member": member, "time": CUT_OVER.isoformat(),
             "points": points,
             "earned_at": (CUT_OVER - dt.timedelta(days=days_ago, seconds=seconds)).isoformat()}
    if expires_in is not None:
        event["expires_at"] = (CUT_OVER + dt.timedelta(days=expires_in, microseconds=7)).isoformat()
    return event


@settings(max_examples=80, deadline=None)
@given(lots=LOTS, replays=st.integers(1, 3), seed=st.integers(0, 2**32))
def test_an_import_is_applied_once_and_keeps_its_dates(lots, replays, seed):
    events = [_event(i, lot) for i, lot in enumerate(lots)]
    replayed = events * replays
    random.Random(seed).shuffle(replayed)
    store = MemoryStore()
    engine = Engine(COMPILED, store)
    outcomes = [engine.process(event).outcome for event in replayed]
    applied = [e for e in events if _alive(e)]
    assert outcomes.count("applied") == len(applied)  # once each, however often and in whatever order sent
    for member in ("ann", "bob"):
        mine = [e for e in applied if e["member"] == member]
        state = store.member(member)
        assert (state.total() if state else 0) == sum(e["points"] for e in mine)
        for event in mine:
            lot = state.lot(event["id"])[1]
            assert lot.earned_at == dt.datetime.fromisoformat(event["earned_at"])
            if "expires_at" in event:
                assert lot.expires_at == dt.datetime.fromisoformat(event["expires_at"])


def _alive(event: dict) -> bool:
    """A lot is imported unless it expired before the cut-over; without expires_at the ruleset's
    24 months from earned_at apply (the ledger's own date arithmetic: 29 February + 24 months is
    28 February)."""
    earned = dt.datetime.fromisoformat(event["earned_at"])
    expires = dt.datetime.fromisoformat(event["expires_at"]) if "expires_at" in event else \
        lot_expiry(COMPILED, earned)
    return expires > CUT_OVER


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


ROWS = [
    {"member": "ann", "points": 500, "earned_at": "2025-06-15T10:00:00Z", "expires_at": "2026-12-31T23:59:59Z",
     "source": "old program"},
    {"member": "ann", "points": 200, "earned_at": "2024-09-01T00:00:00Z"},
    {"member": "bob", "points": 50, "earned_at": "2023-01-01T00:00:00Z", "expires_at": "2025-12-31T00:00:00Z"},
    {"member": "bob", "points": 75, "earned_at": "2025-11-01T00:00:00Z", "id": "bob-lot-1"},
]


def _import(tmp_path: Path, url: str, rows: list[dict], *extra: str):
    return RUNNER.invoke(app, ["import-balances", str(_write(tmp_path / "lots.jsonl", rows)), "--ruleset",
                               str(RULESET), "--store", url, "--at", "2026-03-01T00:00:00+00:00", *extra])


def test_import_balances_imports_skips_on_a_rerun_and_refuses_expired_lots(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = _import(tmp_path, url, ROWS, "--format", "json")
    assert first.exit_code == 1, first.output  # one lot was refused
    summary = json.loads(first.stdout)
    assert (summary["imported"], summary["points"], summary["skipped_already_imported"], summary["refused"]) == \
        (3, "775", 0, 1)
    assert any("expired" in reason for reason in summary["refused_by_reason"])
    again = _import(tmp_path, url, list(reversed(ROWS)), "--format", "json")
    summary = json.loads(again.stdout)
    assert (summary["imported"], summary["skipped_already_imported"], summary["refused"]) == (0, 3, 1)
    assert "refused when this lot was first imported (the same row again)" in summary["refused_by_reason"]
    audit = RUNNER.invoke(app, ["audit", "--store", url, "--format", "json"])
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["ok"] is True


def test_import_balances_exits_0_when_every_lot_is_in_and_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = _import(tmp_path, url, [ROWS[0], ROWS[3]])
    assert result.exit_code == 0, result.output
    assert "imported 2 lots (575 points); skipped 0 already imported; refused 0" in result.stdout


def test_import_balances_counts_rows_it_cannot_read_and_needs_its_options(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = _import(tmp_path, url, [{"member": "ann", "points": 5}, {"member": "ann", "colour": "red"}],
                     "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["bad_rows"] == 2
    assert _import(tmp_path, url, ROWS[:1], "--at", "yesterday").exit_code == 2
    missing = RUNNER.invoke(app, ["import-balances", str(tmp_path / "none.csv"), "--ruleset", str(RULESET),
                                  "--store", url, "--at", "2026-03-01T00:00:00"])
    assert missing.exit_code == 2


def test_a_csv_of_lots_reads_as_json_lines_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    csv = tmp_path / "lots.csv"
    csv.write_text("member,points,earned_at,expires_at\nann,500,2025-06-15T10:00:00Z,2026-12-31T23:59:59Z\n"
                   "bob,40,2025-12-01T00:00:00Z,\n", encoding="utf-8")
    result = RUNNER.invoke(app, ["import-balances", str(csv), "--ruleset", str(RULESET), "--store", url, "--at",
                                 "2026-03-01T00:00:00Z", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points"] == "540"
    assert Decimal(json.loads(result.stdout)["imported"]) == 2
