"""The rows one transaction writes, gathered first and then written table by table.

Gathering lets a batch of hundreds of events write each table with one
``executemany``; a single event goes through the same path with short lists. The
order is fixed (the members' lots, records, windows, streaks and history, then the
append-only tables, then budgets, then the member rows), so every transaction
touches rows in the same order. Amounts are always computed here, in Decimal, never
by SQL arithmetic (SQLite would do it in binary floating point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.engine import Connection

from .models import Budget, BudgetUse, HistoryRow, LedgerEntry, LotRow, Member, MemberRecord, ProcessedEventRow, \
    StreakRow, TierWindow

__all__ = ["Changes", "StaleMember", "apply", "apply_pipelined"]

_L, _M, _W, _S, _H = LotRow.__table__, Member.__table__, TierWindow.__table__, StreakRow.__table__, HistoryRow.__table__
_P, _E, _B, _U = ProcessedEventRow.__table__, LedgerEntry.__table__, Budget.__table__, BudgetUse.__table__
_R = MemberRecord.__table__


class StaleMember(RuntimeError):
    """A member row changed under a unit of work that holds its lock: a locking bug,
    so the transaction is refused rather than allowed to overwrite."""


@dataclass
class Changes:
    processed: list[dict] = field(default_factory=list)
    claimed: list[dict] = field(default_factory=list)  # processed rows inserted as claims, to fill in
    claims_dropped: list[dict] = field(default_factory=list)  # claims of events that were not saved
    entries: list[dict] = field(default_factory=list)
    lot_inserts: list[dict] = field(default_factory=list)
    lot_updates: list[dict] = field(default_factory=list)
    record_deletes: list[dict] = field(default_factory=list)
    record_inserts: list[dict] = field(default_factory=list)
    record_updates: list[dict] = field(default_factory=list)
    window_deletes: list[dict] = field(default_factory=list)
    window_inserts: list[dict] = field(default_factory=list)
    streak_deletes: list[dict] = field(default_factory=list)
    streak_inserts: list[dict] = field(default_factory=list)
    history_deletes: list[dict] = field(default_factory=list)
    history_inserts: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    budget_uses: list[dict] = field(default_factory=list)
    budget_totals: dict[str, Decimal] = field(default_factory=dict)  # points drawn, per rule
    budget_base: dict[str, Decimal] = field(default_factory=dict)  # used before, read under the row lock


_LOT_UPDATE = update(_L).where(_L.c.member_id == bindparam("b_member"), _L.c.lot_id == bindparam("b_lot"))
_MEMBER_UPDATE = update(_M).where(_M.c.member_id == bindparam("b_member"), _M.c.version == bindparam("b_version"))
_RECORD_KEY = (_R.c.member_id == bindparam("b_member"), _R.c.kind == bindparam("b_kind"),
               _R.c.record_id == bindparam("b_record"))
_CLAIM_FILL = update(_P).where(_P.c.event_id == bindparam("b_event"))
_BUDGET_SET = update(_B).where(_B.c.rule == bindparam("b_rule"))
_VERSIONS = "SELECT member_id, version FROM members WHERE member_id = ANY(%s)"
_STEPS = (
    ("lot_inserts", insert(_L)),
    ("lot_updates", _LOT_UPDATE),
    ("record_deletes", delete(_R).where(*_RECORD_KEY)),
    ("record_inserts", insert(_R)),
    ("record_updates", update(_R).where(*_RECORD_KEY)),
    ("window_deletes", delete(_W).where(_W.c.member_id == bindparam("b_member"), _W.c.window == bindparam("b_window"))),
    ("window_inserts", insert(_W)),
    ("streak_deletes", delete(_S).where(_S.c.member_id == bindparam("b_member"),
                                        _S.c.streak_id == bindparam("b_streak"))),
    ("streak_inserts", insert(_S)),
    ("history_deletes", delete(_H).where(_H.c.member_id == bindparam("b_member"), _H.c.seq == bindparam("b_seq"))),
    ("history_inserts", insert(_H)),
    ("processed", insert(_P)),
    ("claimed", _CLAIM_FILL),
    ("claims_dropped", delete(_P).where(_P.c.event_id == bindparam("b_event"), _P.c.decision.is_(None))),
    ("entries", insert(_E)),
    ("budget_uses", insert(_U)),
)


def apply(conn: Connection, changes: Changes) -> None:
    """Write everything gathered, in the fixed order."""
    _write(conn, changes)
    _members(conn, changes.members)


def apply_pipelined(conn: Connection, changes: Changes) -> None:
    """The same writes in one round trip (psycopg pipeline mode; PostgreSQL only).

    A pipeline does not report row counts, so the member rows' version check is a
    read of the versions inside the same pipeline, checked once it has synced."""
    raw = conn.connection.dbapi_connection
    with raw.pipeline():
        _write(conn, changes)
        for row in changes.members:
            conn.execute(_MEMBER_UPDATE, row)
        probe = raw.cursor()
        probe.execute(_VERSIONS, ([row["b_member"] for row in changes.members],))
    versions = dict(probe.fetchall()) if changes.members else {}
    for row in changes.members:
        if versions.get(row["b_member"]) != row["version"]:
            raise StaleMember(f"member {row['b_member']} changed since it was locked at version {row['b_version']}")


def _write(conn: Connection, changes: Changes) -> None:
    for name, statement in _STEPS:
        rows = getattr(changes, name)
        if rows:
            conn.execute(statement, rows)
    if changes.budget_totals:
        rows = [{"b_rule": rule, "used": changes.budget_base[rule] + points}
                for rule, points in sorted(changes.budget_totals.items())]
        conn.execute(_BUDGET_SET, rows)


def _members(conn: Connection, rows: list[dict]) -> None:
    """Member rows, each only if still at the version its unit locked and read. Rows
    that change the same columns go in one ``executemany``."""
    groups: dict[frozenset, list[dict]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    for group in groups.values():
        changed = conn.execute(_MEMBER_UPDATE, group).rowcount
        if changed != len(group):
            members = ", ".join(sorted(row["b_member"] for row in group))
            raise StaleMember(f"{len(group) - changed} of the member rows {members} changed since they were locked")
