"""Conversion to vouchers, end to end (docs/conversion.md): the documented example runs its own
tests; a voucher event is refused, never raised on, when it is wrong; the dry-run reports the
vouchers (and only for a ruleset that converts); the audit accounts for them on SQLite and
PostgreSQL, and finds a voucher whose money or points were changed behind the ledger's back."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Text, cast, select, update
from support.doc_rulesets import page_rulesets

import punchcard
from punchcard.engine import Engine, evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.testing import run_tests
from punchcard.plugins.sql.models import Member
from punchcard.plugins.sql.store import SqlStore

ROOT = Path(__file__).resolve().parents[2]
QUARTERLY = ROOT / "tests/engine/rulesets/conversion-quarterly.yaml"
CLUBCARD = ROOT / "rulesets/clubcard.yaml"


def test_the_documented_example_passes_its_own_tests():
    (ruleset,) = page_rulesets("conversion.md")
    compiled = compile_ruleset(ruleset)
    results = run_tests(compiled)
    assert len(results) == 2 and all(r.passed for r in results), [r.failures for r in results]


def _event(**fields) -> dict:
    return {"member": "m", "time": "2026-04-02T10:00:00Z", **fields}


@pytest.mark.parametrize("event, why", [
    (_event(type="redeem_voucher", id="r-1"), "voucher"),
    (_event(type="redeem_voucher", id="r-2", voucher="m:2026-03"), "unknown voucher"),
    (_event(type="redeem_voucher", id="r-3", voucher=["m:2026-03"]), "voucher"),
])
def test_a_wrong_voucher_event_is_rejected_with_a_reason(event, why):
    compiled = punchcard.compile(str(QUARTERLY))
    decision, _ = evaluate(compiled, None, event)
    assert decision.outcome == Outcome.REJECTED and why in decision.reason


def test_a_ruleset_without_conversion_has_no_voucher_event():
    compiled = punchcard.compile(str(ROOT / "rulesets/coffee-club.yaml"))
    decision, _ = evaluate(compiled, None, _event(type="redeem_voucher", id="r-1", voucher="x"))
    assert decision.outcome == Outcome.REJECTED


def _purchase(event_id: str, member: str, time: str, amount: str, **more) -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": amount, **more}


HISTORY = [
    _purchase("p-1", "ann", "2026-02-10T12:00:00Z", "340"),
    _purchase("p-2", "bo", "2026-02-11T12:00:00Z", "150"),
    _purchase("p-3", "ann", "2026-04-10T12:00:00Z", "10"),
    {"type": "redeem_voucher", "id": "r-1", "member": "ann", "time": "2026-04-11T12:00:00Z", "voucher": "ann:2026-03"},
    _purchase("p-4", "bo", "2027-06-10T12:00:00Z", "10"),
    _purchase("p-5", "cy", "2027-08-10T12:00:00Z", "160"),
]


def _replay(tmp_path, ruleset: Path) -> dict:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in HISTORY))
    return to_json_report(build_report(dry_run(Options(ruleset, events, until=dt.date(2027, 12, 31)))))


def test_the_dry_run_reports_vouchers_issued_redeemed_expired_and_held(tmp_path):
    report = _replay(tmp_path, QUARTERLY)
    vouchers = report["vouchers"]
    assert Decimal(vouchers["points_converted"]) == 600  # ann 300, bo 150, cy 150
    assert (vouchers["issued"]["vouchers"], Decimal(vouchers["issued"]["money"])) == (3, Decimal("6.00"))
    assert (vouchers["redeemed"]["vouchers"], Decimal(vouchers["redeemed"]["money"])) == (1, Decimal("3.00"))
    assert (vouchers["expired"]["vouchers"], Decimal(vouchers["expired"]["money"])) == (1, Decimal("1.50"))
    assert (vouchers["held"]["vouchers"], Decimal(vouchers["held"]["money"])) == (1, Decimal("1.50"))
    assert report["checks"] == {"liability_reconciles": True, "member_counters_agree": True}
    # 50 + 10 + 10 points left, at a penny, and the 1.50 voucher still held
    assert Decimal(report["totals"]["liability_points"]) == 70
    assert Decimal(report["totals"]["liability_money"]) == Decimal("0.70") + Decimal("1.50")
    march = next(row for row in report["by_month"] if row["month"] == "2026-03")
    assert Decimal(march["liability_points"]) == 40  # converted at the end of March, not when noticed


def test_a_dry_run_without_conversion_has_no_vouchers_block(tmp_path):
    ruleset = tmp_path / "plain.yaml"
    ruleset.write_text(re.sub(r"\nconversion:.*?\n\n", "\n", QUARTERLY.read_text(), flags=re.S).split("tests:")[0])
    assert "vouchers" not in _replay(tmp_path, ruleset)


@pytest.fixture(params=["sqlite", "postgresql"])
def converted_store(request, store_urls):
    store = SqlStore(store_urls.new(request.param))
    Engine(punchcard.compile(str(QUARTERLY)), store=store).process_many(
        [*HISTORY, {"type": "tick", "id": "t-end", "member": "cy", "time": "2027-10-02T00:00:00Z"}])
    yield store
    store.close()


def test_the_audit_accounts_for_every_voucher(converted_store):
    report = converted_store.audit()
    assert report.ok, report.differences
    assert report.vouchers == 3 and report.to_json()["vouchers"] == 3


def _tamper_voucher(store: SqlStore, member: str, field: str, value: str) -> None:
    table = Member.__table__
    with store.engine.connect() as conn:
        text = conn.execute(select(cast(table.c.state, Text)).where(table.c.member_id == member)).scalar_one()
        doc = json.loads(text)
        doc["vouchers"]["$tuple"][0]["v"][field] = {"$d": value}
        conn.execute(update(table).where(table.c.member_id == member).values(state=doc))
        conn.commit()


@pytest.mark.parametrize("field, value, check", [
    ("value", "3.01", "value as issued"),
    ("points", "299", "points == points converted into it"),
])
def test_the_audit_finds_a_voucher_changed_behind_the_ledger(converted_store, field, value, check):
    _tamper_voucher(converted_store, "ann", field, value)
    found = {(d.subject, d.check) for d in converted_store.audit().differences}
    assert ("voucher ann/ann:2026-03", check) in found
