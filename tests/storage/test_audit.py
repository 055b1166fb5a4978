"""The auditor finds every kind of tampering, and only tampering."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ledger_scenarios import mixed_events
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.plugins.sql.models import Budget, LedgerEntry, LotRow, Member
from punchcard.plugins.sql.store import SqlStore


@pytest.fixture
def ledger(sql_url, everything):
    """A store after 300 events of every kind, and its URL."""
    url = sql_url()
    store = SqlStore(url)
    Engine(everything, store=store).process_many(mixed_events(seed=5, count=300))
    yield url, store
    store.close()


def _tamper(store: SqlStore, statement) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(statement).rowcount == 1
        conn.commit()


def _first(store: SqlStore, query, where=lambda row: True):
    """The first row of ``query`` that ``where`` accepts (filtered here: SQLite keeps
    points as text, which SQL would compare as text)."""
    with store.read() as conn, conn.begin():
        return next(row for row in conn.execute(query) if where(row))


def _live_lot(store: SqlStore):
    lots = LotRow.__table__
    return _first(store, select(lots).where(lots.c.live).order_by(lots.c.member_id, lots.c.position),
                  lambda row: row.remaining > 0)


def _checks(report) -> set[tuple[str, str]]:
    return {(d.subject.split(" (")[0], d.check) for d in report.differences}


def test_an_untouched_ledger_has_no_differences(ledger):
    _, store = ledger
    report = store.audit()
    assert report.ok and report.members == 4 and report.entries > 300 and report.lots > 100


def test_a_lot_with_points_added_is_found(ledger):
    _, store = ledger
    lots = LotRow.__table__
    lot = _live_lot(store)
    _tamper(store, update(lots).where(lots.c.member_id == lot.member_id, lots.c.lot_id == lot.lot_id)
             .values(remaining=lot.remaining + Decimal(1)))
    checks = _checks(store.audit())
    subject = f"lot {lot.member_id}/{lot.lot_id}"
    assert (subject, "remaining == sum of its entries") in checks
    assert (subject, "amount == remaining + spent + expired + clawed + repaid + voided") in checks
    assert (f"member {lot.member_id}", "balance == live lots less negative balance") in checks


def test_an_edited_ledger_entry_is_found(ledger):
    _, store = ledger
    entries = LedgerEntry.__table__
    entry = _first(store, select(entries).where(entries.c.kind == "earn").order_by(entries.c.id))
    _tamper(store, update(entries).where(entries.c.id == entry.id).values(points=entry.points + Decimal(5)))
    checks = _checks(store.audit())
    assert (f"entry {entry.id}", "points == lot_points - debt_points") in checks
    assert (f"member {entry.member_id}", "balance == sum of ledger entries") in checks


def test_a_deleted_ledger_entry_is_found(ledger):
    _, store = ledger
    entries = LedgerEntry.__table__
    entry = _first(store, select(entries).where(entries.c.kind == "redeem").order_by(entries.c.id.desc()))
    _tamper(store, delete(entries).where(entries.c.id == entry.id))
    checks = _checks(store.audit())
    assert (f"lot {entry.member_id}/{entry.lot_id}", "remaining == sum of its entries") in checks
    assert any(subject.startswith("entry ") and check == "continues the previous entry's balance"
               for subject, check in checks)


def test_an_edited_balance_and_budget_are_found(ledger):
    _, store = ledger
    members, budgets = Member.__table__, Budget.__table__
    member = _first(store, select(members).where(members.c.version > 0))
    _tamper(store, update(members).where(members.c.member_id == member.member_id)
            .values(balance=member.balance + Decimal(100)))
    budget = _first(store, select(budgets))
    _tamper(store, update(budgets).where(budgets.c.rule == budget.rule).values(used=budget.used - Decimal(1)))
    checks = _checks(store.audit())
    assert (f"member {member.member_id}", "balance == sum of ledger entries") in checks
    assert (f"budget {budget.rule}", "used == sum of its uses") in checks


def test_the_audit_command_prints_each_difference_and_exits_1(ledger):
    url, store = ledger
    runner = CliRunner()
    clean = runner.invoke(app, ["audit", url])
    assert clean.exit_code == 0 and "no differences" in clean.stdout
    lots = LotRow.__table__
    lot = _live_lot(store)
    _tamper(store, update(lots).where(lots.c.member_id == lot.member_id, lots.c.lot_id == lot.lot_id)
             .values(remaining=lot.remaining - Decimal("0.5")))
    dirty = runner.invoke(app, ["audit", url])
    assert dirty.exit_code == 1
    assert f"lot {lot.member_id}/{lot.lot_id}: remaining == sum of its entries: expected {lot.remaining}, " \
           f"found {lot.remaining - Decimal('0.5')}" in dirty.stdout
    as_json = runner.invoke(app, ["audit", url, "--format", "json"])
    assert as_json.exit_code == 1 and '"ok": false' in as_json.stdout


def test_entry_counts_match_postings(ledger):
    _, store = ledger
    with store.read() as conn, conn.begin():
        kinds = dict(conn.execute(select(LedgerEntry.kind, func.count()).group_by(LedgerEntry.kind)).all())
    assert {"earn", "redeem", "expire"} <= set(kinds)
    assert not set(kinds) - {"earn", "redeem", "reverse", "clawback", "adjust", "expire", "void", "debt_repaid",
                             "negative_balance"}
