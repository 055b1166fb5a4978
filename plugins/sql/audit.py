"""The auditor: every balance checked against the append-only ledger.

For each member: the stored balance equals the sum of its ledger entries, equals the
last entry's running balance, and equals its live lots' remaining points less its
negative balance. Each entry is internally consistent and continues the previous
one. Each lot accounts for its whole amount (remaining, spent, expired, clawed back,
repaid, voided), holds exactly what its entries put in and took out, and a lot no
longer live holds nothing. Each budget's total equals the sum of its uses, and every
entry belongs to a stored decision. Exact Decimal arithmetic throughout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from sqlalchemy import select

from punchcard.engine.decision import to_jsonable
from punchcard.engine.state import ZERO

from .models import Budget, BudgetUse, LedgerEntry, LotRow, Member, ProcessedEventRow

__all__ = ["Difference", "AuditReport", "audit"]

_LOT_PARTS = ("remaining", "spent", "expired", "clawed", "repaid", "voided")


@dataclass(frozen=True)
class Difference:
    subject: str  # "member m-1", "lot m-1/o-7", "entry 42", "budget big-basket", "event o-9"
    check: str
    expected: object
    actual: object

    def __str__(self) -> str:
        return f"{self.subject}: {self.check}: expected {self.expected}, found {self.actual}"

    def to_json(self) -> dict:
        return to_jsonable(asdict(self))


@dataclass
class AuditReport:
    members: int = 0
    entries: int = 0
    lots: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def differ(self, subject: str, check: str, expected, actual) -> None:
        if expected != actual:
            self.differences.append(Difference(subject, check, expected, actual))

    def to_json(self) -> dict:
        return {"ok": self.ok, "members": self.members, "entries": self.entries, "lots": self.lots,
                "differences": [d.to_json() for d in self.differences]}


@dataclass
class _Sums:
    points: Decimal = ZERO
    debt: Decimal = ZERO
    last: Decimal | None = None
    lot: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))
    earned: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))


def audit(store) -> AuditReport:
    report = AuditReport()
    # One snapshot for every query: REPEATABLE READ on PostgreSQL, a WAL read transaction
    # on SQLite, so events committed while the audit runs cannot look like differences.
    with store.read() as conn:
        if store.dialect.postgres:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            _audit(conn, report)
    return report


def _audit(conn, report: AuditReport) -> None:
    events = _decided_events(conn, report)
    sums = _entries(conn, report, events)
    _lots(conn, report, sums)
    _members(conn, report, sums)
    _budgets(conn, report)


def _decided_events(conn, report: AuditReport) -> set[tuple[str, str]]:
    table = ProcessedEventRow.__table__
    seen = set()
    for row in conn.execute(select(table.c.event_id, table.c.member_id, table.c.decision.is_(None).label("empty"))):
        if row.empty:
            report.differ(f"event {row.event_id}", "processed event has a stored decision", True, False)
        seen.add((row.member_id, row.event_id))
    return seen


def _entries(conn, report: AuditReport, events: set) -> dict[str, _Sums]:
    table = LedgerEntry.__table__
    sums: dict[str, _Sums] = defaultdict(_Sums)
    query = select(table).order_by(table.c.member_id, table.c.id).execution_options(yield_per=2000)
    for row in conn.execute(query):
        report.entries += 1
        _entry(report, row, sums[row.member_id], events)
    return sums


def _entry(report: AuditReport, row, sums: _Sums, events: set) -> None:
    subject = f"entry {row.id} ({row.member_id}, {row.event_id}, {row.kind})"
    report.differ(subject, "points == lot_points - debt_points", (row.lot_points or ZERO) - row.debt_points,
                  row.points)
    report.differ(subject, "balance_after == balance_before + points", row.balance_before + row.points,
                  row.balance_after)
    if sums.last is not None:
        report.differ(subject, "continues the previous entry's balance", sums.last, row.balance_before)
    if (row.member_id, row.event_id) not in events:
        report.differ(subject, "belongs to a stored decision", True, False)
    sums.points += row.points
    sums.debt += row.debt_points
    sums.last = row.balance_after
    if row.lot_id is not None:
        sums.lot[row.lot_id] += row.lot_points
        if row.kind == "earn":
            sums.earned[row.lot_id] += row.points


def _lots(conn, report: AuditReport, sums: dict[str, _Sums]) -> None:
    table = LotRow.__table__
    checked: dict[str, set] = defaultdict(set)
    for row in conn.execute(select(table).execution_options(yield_per=2000)):
        report.lots += 1
        member = sums.get(row.member_id) or _Sums()
        subject = f"lot {row.member_id}/{row.lot_id}"
        report.differ(subject, "amount == remaining + spent + expired + clawed + repaid + voided", row.amount,
                      sum((getattr(row, part) for part in _LOT_PARTS), ZERO))
        report.differ(subject, "remaining == sum of its entries", member.lot.get(row.lot_id, ZERO), row.remaining)
        report.differ(subject, "amount == points earned into it", member.earned.get(row.lot_id, ZERO), row.amount)
        if not row.live:
            report.differ(subject, "a lot no longer live holds nothing", ZERO, row.remaining)
        checked[row.member_id].add(row.lot_id)
    for member_id, member in sums.items():
        for lot_id in sorted(set(member.lot) - checked[member_id]):
            report.differ(f"lot {member_id}/{lot_id}", "entries touch a lot that exists", True, False)


def _members(conn, report: AuditReport, sums: dict[str, _Sums]) -> None:
    lots = LotRow.__table__
    live: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in conn.execute(select(lots.c.member_id, lots.c.remaining).where(lots.c.live)):
        live[row.member_id] += row.remaining
    table = Member.__table__
    for row in conn.execute(select(table.c.member_id, table.c.balance, table.c.debt)):
        report.members += 1
        member, subject = sums.get(row.member_id) or _Sums(), f"member {row.member_id}"
        report.differ(subject, "balance == sum of ledger entries", member.points, row.balance)
        report.differ(subject, "balance == last entry's balance_after", member.last or ZERO, row.balance)
        report.differ(subject, "balance == live lots less negative balance", live[row.member_id] - row.debt,
                      row.balance)
        report.differ(subject, "negative balance == sum of ledger entries", member.debt, row.debt)


def _budgets(conn, report: AuditReport) -> None:
    uses: dict[str, Decimal] = defaultdict(lambda: ZERO)
    table = BudgetUse.__table__
    for row in conn.execute(select(table.c.rule, table.c.points)):
        uses[row.rule] += row.points
    for row in conn.execute(select(Budget.__table__)):
        report.differ(f"budget {row.rule}", "used == sum of its uses", uses[row.rule], row.used)
