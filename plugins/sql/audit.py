"""The auditor: every balance checked against the append-only ledger.

For each member: the stored balance equals the sum of its ledger entries, equals the
last entry's running balance, and equals its live lots' remaining points less its
negative balance. Each entry is internally consistent and continues the previous
one. Each lot accounts for its whole amount (remaining, spent, expired, clawed back,
repaid, voided), holds exactly what its entries put in and took out, and a lot no
longer live holds nothing. Each budget's total equals the sum of its uses, and every
entry belongs to a stored decision.

The arithmetic is the auditor's own, so a fault in the engine's cannot hide itself:
every stored figure is read as text (the database's exact decimal text: ``NUMERIC``
cast to text on PostgreSQL, the stored text on SQLite), parsed here into a Python
integer count of 10^-18 units, and only added and compared as integers, which are
exact at any size. Nothing here imports the engine's numbers or uses ``Decimal``. A
stored figure that is not plain decimal text, or is finer than 10^-18, is itself a
difference.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from sqlalchemy import Text, cast, select

from .audit_vouchers import audit_vouchers
from .models import Budget, BudgetUse, LedgerEntry, LotRow, Member, ProcessedEventRow

__all__ = ["Difference", "AuditReport", "audit", "SCALE", "units", "units_text", "Unreadable"]

SCALE = 18  # decimal places the auditor counts in: one unit is 10**-18 of a point
_ONE = 10 ** SCALE
_NUMBER = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_LOT_PARTS = ("remaining", "spent", "expired", "clawed", "repaid", "voided")


class Unreadable(ValueError):
    """Stored text that is not a plain decimal number at the auditor's scale."""


def units(text: str) -> int:
    """Exact decimal text (``"-12.5"``) as an integer count of 10**-SCALE units."""
    match = _NUMBER.fullmatch(text) if isinstance(text, str) and text.isascii() else None
    if match is None:
        raise Unreadable(f"{text!r} is not a decimal number")
    sign, whole, fraction = match.groups()
    fraction = (fraction or "").rstrip("0")
    if len(fraction) > SCALE:
        raise Unreadable(f"{text} has more than {SCALE} decimal places")
    value = int(whole) * _ONE + int(fraction.ljust(SCALE, "0") or "0")
    return -value if sign else value


def units_text(value: int) -> str:
    """An integer count of units back as plain decimal text, without trailing zeros."""
    whole, fraction = divmod(abs(value), _ONE)
    text = str(whole) + (f".{str(fraction).rjust(SCALE, '0').rstrip('0')}" if fraction else "")
    return f"-{text}" if value < 0 else text


@dataclass(frozen=True)
class Difference:
    subject: str  # "member m-1", "lot m-1/o-7", "entry 42", "budget big-basket", "event o-9"
    check: str
    expected: object  # a figure as decimal text, or a flag
    actual: object

    def __str__(self) -> str:
        return f"{self.subject}: {self.check}: expected {self.expected}, found {self.actual}"

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class AuditReport:
    members: int = 0
    entries: int = 0
    lots: int = 0
    differences: list[Difference] = field(default_factory=list)
    vouchers: int = 0  # vouchers converted from points (.audit_vouchers)

    @property
    def ok(self) -> bool:
        return not self.differences

    def differ(self, subject: str, check: str, expected, actual) -> None:
        """Record a difference when ``expected != actual``; integers are shown as decimals."""
        if expected != actual:
            shown = [units_text(v) if isinstance(v, int) and not isinstance(v, bool) else v
                     for v in (expected, actual)]
            self.differences.append(Difference(subject, check, *shown))

    def to_json(self) -> dict:
        out = {"ok": self.ok, "members": self.members, "entries": self.entries, "lots": self.lots,
               "differences": [d.to_json() for d in self.differences]}
        if self.vouchers:  # only then: a ledger without vouchers reports as before
            out["vouchers"] = self.vouchers
        return out


class _Reader:
    """Stored figures as units; an unreadable one is reported and counts as 0, so the
    checks that depend on it report too."""

    def __init__(self, report: AuditReport):
        self.report = report

    def __call__(self, subject: str, name: str, text: str | None) -> int:
        if text is None:
            return 0
        try:
            return units(text)
        except Unreadable as exc:
            self.report.differ(subject, f"{name} is an exact decimal", "a decimal number", str(exc))
            return 0


def _texts(table, names) -> list:
    """The columns ``names`` as the database's exact text, under their own names."""
    return [cast(table.c[name], Text).label(name) for name in names]


@dataclass
class _Sums:
    points: int = 0
    debt: int = 0
    last: int | None = None
    lot: dict = field(default_factory=lambda: defaultdict(int))
    earned: dict = field(default_factory=lambda: defaultdict(int))


def audit(store) -> AuditReport:
    report = AuditReport()
    # One snapshot for every query: REPEATABLE READ on PostgreSQL, a WAL read transaction
    # on SQLite, so events committed while the audit runs cannot look like differences.
    with store.read() as read:
        conn = read.execution_options(isolation_level="REPEATABLE READ") if store.dialect.postgres else read
        with conn.begin():
            _audit(conn, report)
    return report


def _audit(conn, report: AuditReport) -> None:
    read = _Reader(report)
    events = _decided_events(conn, report)
    sums = _entries(conn, report, read, events)
    _lots(conn, report, read, sums)
    _members(conn, report, read, sums)
    _budgets(conn, report, read)
    report.vouchers = audit_vouchers(conn, report, read)


def _decided_events(conn, report: AuditReport) -> set[tuple[str, str]]:
    table = ProcessedEventRow.__table__
    seen = set()
    for row in conn.execute(select(table.c.event_id, table.c.member_id, table.c.decision.is_(None).label("empty"))):
        if row.empty:
            report.differ(f"event {row.event_id}", "processed event has a stored decision", True, False)
        seen.add((row.member_id, row.event_id))
    return seen


_ENTRY_FIGURES = ("points", "lot_points", "debt_points", "balance_before", "balance_after")


def _entries(conn, report: AuditReport, read: _Reader, events: set) -> dict[str, _Sums]:
    table = LedgerEntry.__table__
    sums: dict[str, _Sums] = defaultdict(_Sums)
    columns = [table.c.id, table.c.member_id, table.c.event_id, table.c.kind, table.c.lot_id,
               *_texts(table, _ENTRY_FIGURES)]
    query = select(*columns).order_by(table.c.member_id, table.c.id).execution_options(yield_per=2000)
    for row in conn.execute(query):
        report.entries += 1
        _entry(report, read, row, sums[row.member_id], events)
    return sums


def _entry(report: AuditReport, read: _Reader, row, sums: _Sums, events: set) -> None:
    subject = f"entry {row.id} ({row.member_id}, {row.event_id}, {row.kind})"
    points, lot_points, debt, before, after = (read(subject, name, getattr(row, name)) for name in _ENTRY_FIGURES)
    report.differ(subject, "points == lot_points - debt_points", lot_points - debt, points)
    report.differ(subject, "balance_after == balance_before + points", before + points, after)
    if sums.last is not None:
        report.differ(subject, "continues the previous entry's balance", sums.last, before)
    if (row.member_id, row.event_id) not in events:
        report.differ(subject, "belongs to a stored decision", True, False)
    sums.points += points
    sums.debt += debt
    sums.last = after
    if row.lot_id is not None:
        sums.lot[row.lot_id] += lot_points
        if row.kind == "earn":
            sums.earned[row.lot_id] += points


def _lots(conn, report: AuditReport, read: _Reader, sums: dict[str, _Sums]) -> None:
    table = LotRow.__table__
    checked: dict[str, set] = defaultdict(set)
    columns = [table.c.member_id, table.c.lot_id, table.c.live, *_texts(table, ("amount", *_LOT_PARTS))]
    for row in conn.execute(select(*columns).execution_options(yield_per=2000)):
        report.lots += 1
        member = sums.get(row.member_id) or _Sums()
        subject = f"lot {row.member_id}/{row.lot_id}"
        amount = read(subject, "amount", row.amount)
        parts = {part: read(subject, part, getattr(row, part)) for part in _LOT_PARTS}
        report.differ(subject, "amount == remaining + spent + expired + clawed + repaid + voided", amount,
                      sum(parts.values()))
        report.differ(subject, "remaining == sum of its entries", member.lot.get(row.lot_id, 0), parts["remaining"])
        report.differ(subject, "amount == points earned into it", member.earned.get(row.lot_id, 0), amount)
        if not row.live:
            report.differ(subject, "a lot no longer live holds nothing", 0, parts["remaining"])
        checked[row.member_id].add(row.lot_id)
    for member_id, member in sums.items():
        for lot_id in sorted(set(member.lot) - checked[member_id]):
            report.differ(f"lot {member_id}/{lot_id}", "entries touch a lot that exists", True, False)


def _members(conn, report: AuditReport, read: _Reader, sums: dict[str, _Sums]) -> None:
    lots = LotRow.__table__
    live: dict[str, int] = defaultdict(int)
    for row in conn.execute(select(lots.c.member_id, lots.c.lot_id, *_texts(lots, ["remaining"])).where(lots.c.live)):
        live[row.member_id] += read(f"lot {row.member_id}/{row.lot_id}", "remaining", row.remaining)
    table = Member.__table__
    for row in conn.execute(select(table.c.member_id, *_texts(table, ("balance", "debt")))):
        report.members += 1
        member, subject = sums.get(row.member_id) or _Sums(), f"member {row.member_id}"
        balance, debt = read(subject, "balance", row.balance), read(subject, "debt", row.debt)
        report.differ(subject, "balance == sum of ledger entries", member.points, balance)
        report.differ(subject, "balance == last entry's balance_after", member.last or 0, balance)
        report.differ(subject, "balance == live lots less negative balance", live[row.member_id] - debt, balance)
        report.differ(subject, "negative balance == sum of ledger entries", member.debt, debt)


def _budgets(conn, report: AuditReport, read: _Reader) -> None:
    uses: dict[str, int] = defaultdict(int)
    table = BudgetUse.__table__
    for row in conn.execute(select(table.c.id, table.c.rule, *_texts(table, ["points"]))):
        uses[row.rule] += read(f"budget use {row.id}", "points", row.points)
    budgets = Budget.__table__
    for row in conn.execute(select(budgets.c.rule, *_texts(budgets, ["used"]))):
        subject = f"budget {row.rule}"
        report.differ(subject, "used == sum of its uses", uses[row.rule], read(subject, "used", row.used))
