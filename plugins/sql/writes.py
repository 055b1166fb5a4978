"""The rows one transaction writes, gathered first and then written table by table.

Gathering lets a batch of hundreds of events write each table with one
``executemany``; a single event goes through the same path with short lists. The
order is fixed (the members' lots, records, windows, streaks and history, then the
append-only tables and the outbox, then budgets, then the member rows), so every transaction
touches rows in the same order. Amounts are computed here, in Decimal, never by SQL
arithmetic (SQLite would do it in binary floating point). The one exception is a
budget a single PostgreSQL unit read without its lock: it is drawn on with a
conditional ``UPDATE ... SET used = used + x``, exact in PostgreSQL's ``NUMERIC``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.schema import CreateTable

from punchcard.engine.store import Conflict, StoreError

from .models import (
    Budget,
    BudgetUse,
    HistoryRow,
    LedgerEntry,
    LotRow,
    Member,
    MemberRecord,
    OutboxMessage,
    ProcessedEventRow,
    StreakRow,
    TierWindow,
)
from .prepared import COPY_FROM, executemany, pipelined, raw_connection
from .wire import Pipeline, Result

__all__ = ["Changes", "StaleMember", "BudgetMoved", "apply", "apply_pipelined"]

log = logging.getLogger("punchcard.store.sql")

_L, _M, _W, _S, _H = LotRow.__table__, Member.__table__, TierWindow.__table__, StreakRow.__table__, HistoryRow.__table__
_P, _E, _B, _U = ProcessedEventRow.__table__, LedgerEntry.__table__, Budget.__table__, BudgetUse.__table__
_R, _O = MemberRecord.__table__, OutboxMessage.__table__


class StaleMember(StoreError):
    """A member row changed under a unit of work that holds its lock: a locking bug, or
    somebody writing to the tables behind the engine's back, so the transaction is
    refused rather than allowed to overwrite, and the run stops."""


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
    outbox: list[dict] = field(default_factory=list)  # chosen messages, committed with their decisions
    budget_totals: dict[str, Decimal] = field(default_factory=dict)  # points drawn, per rule
    budget_base: dict[str, Decimal] = field(default_factory=dict)  # used before, read under the row lock
    # PostgreSQL, read without the lock: (rule, points, used as read, limit, exact) per
    # budget, each drawn by a conditional UPDATE instead of setting budget_base + points
    budget_draws: list[tuple] = field(default_factory=list)


class BudgetMoved(Conflict):
    """A budget read without its lock changed in a way that matters before the draw."""


_LOT_UPDATE = update(_L).where(_L.c.member_id == bindparam("b_member"), _L.c.lot_id == bindparam("b_lot"))
_MEMBER_UPDATE = update(_M).where(_M.c.member_id == bindparam("b_member"), _M.c.version == bindparam("b_version"))
_MEMBER_UPDATE_RETURNING = _MEMBER_UPDATE.returning(_M.c.version)
_RECORD_KEY = (_R.c.member_id == bindparam("b_member"), _R.c.kind == bindparam("b_kind"),
               _R.c.record_id == bindparam("b_record"))
_CLAIM_FILL = update(_P).where(_P.c.event_id == bindparam("b_event"))
_BUDGET_SET = update(_B).where(_B.c.rule == bindparam("b_rule"))
# A batch's member rows on PostgreSQL: copied into a temporary table, then one UPDATE
# joins it (a NULL document: unchanged; the documents are NOT NULL). Thousands of
# single-row UPDATEs cost the client a statement each; a COPY costs it a fraction of one
# per row. The table lives as long as the server session and is emptied at each commit;
# its name carries a digest of its definition, so a session that outlived a migration
# never copies into a table of the old shape.
_SAVES_COLUMNS = (*(Column(c.name, c.type) for c in _M.c), Column("b_member", String), Column("b_version", Integer))
_SAVES_SHAPE = str(CreateTable(Table("saves", MetaData(), *(c._copy() for c in _SAVES_COLUMNS))).compile(
    dialect=postgresql.dialect()))
_SAVES = Table("punchcard_member_saves_" + hashlib.sha256(_SAVES_SHAPE.encode()).hexdigest()[:12], MetaData(),
               *_SAVES_COLUMNS, prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")
_SAVES_TABLE = CreateTable(_SAVES, if_not_exists=True)
_SAVES_INSERT = insert(_SAVES)
_DOCUMENTS = ("profile", "state")  # written only when they changed
_SAVES_UPDATE = update(_M).where(_M.c.member_id == _SAVES.c.b_member, _M.c.version == _SAVES.c.b_version).values(
    {c.name: func.coalesce(_SAVES.c[c.name], c) if c.name in _DOCUMENTS else _SAVES.c[c.name]
     for c in _M.c if c.name != "member_id"}).returning(_M.c.member_id)
# Exact on PostgreSQL: used is NUMERIC, and so are the parameters (Decimals).
_DRAW = b"UPDATE budgets SET used = used + $1 WHERE rule = $2 AND used + $3 <= $4 RETURNING rule"
_DRAW_EXACT = b"UPDATE budgets SET used = used + $1 WHERE rule = $2 AND used = $3 RETURNING rule"
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
    ("processed", insert(_P).inline()),
    ("claimed", _CLAIM_FILL),
    ("claims_dropped", delete(_P).where(_P.c.event_id == bindparam("b_event"), _P.c.decision.is_(None))),
    ("entries", insert(_E).inline()),  # inline: a serial key is never fetched first, even for one row
    ("budget_uses", insert(_U).inline()),
    ("outbox", insert(_O)),
)


def apply(conn: Connection, changes: Changes) -> None:
    """Write everything gathered, in the fixed order (a batch's many inserts as ``COPY`` on
    PostgreSQL)."""
    _write(conn, changes, bulk=True)
    _members(conn, changes.members)


def apply_pipelined(conn: Connection, changes: Changes) -> None:
    """The same writes in one round trip (psycopg pipeline mode; PostgreSQL only).

    Each member row is updated only at the version its unit locked, and says so by
    returning its new version: a missing one, checked once the pipeline has synced,
    means somebody else wrote it."""
    with Pipeline(raw_connection(conn), conn.connection.info) as pipe:
        _write(conn, changes, send=lambda statement, rows: pipelined(pipe, conn, statement, rows))
        draws = [_draw(pipe, *draw) for draw in changes.budget_draws]
        updated = [result for row in changes.members
                   for result in pipelined(pipe, conn, _MEMBER_UPDATE_RETURNING, [row])]
    for row, cursor in zip(changes.members, updated, strict=True):
        if cursor.fetchone() is None:
            raise StaleMember(f"member {row['b_member']} changed since it was locked at version {row['b_version']}")
    for (rule, points, read, limit, _), cursor in zip(changes.budget_draws, draws, strict=True):
        if cursor.fetchone() is None:
            raise BudgetMoved(f"budget {rule} was drawn on since it was read at {read}: "
                              f"{points} more would pass its limit of {limit}, or change the decision")


def _draw(pipe: Pipeline, rule: str, points: Decimal, read: Decimal, limit: Decimal, exact: bool) -> Result:
    """Add ``points`` to a budget only if the decision still holds: the budget is where it
    was read (``exact``), or still has room for them. The row stays locked to commit."""
    if exact:
        return pipe.send(_DRAW_EXACT, (points, rule, read))
    return pipe.send(_DRAW, (points, rule, points, limit))


def _write(conn: Connection, changes: Changes, bulk: bool = False,
           send: Callable[[Any, list[dict]], Any] | None = None) -> None:
    """Every change but the member rows, in the fixed order: through ``send(statement,
    rows)`` if given (a pipeline), otherwise as statements (on PostgreSQL sharing one
    driver cursor: none of them returns rows, and a failing one raises by itself)."""
    if send is None:
        cursor = raw_connection(conn).cursor() if conn.dialect.name == "postgresql" else None
        send = functools.partial(executemany, conn, cursor=cursor, bulk=bulk)
    for name, statement in _STEPS:
        rows = getattr(changes, name)
        if rows:
            send(statement, rows)
    if changes.budget_totals and not changes.budget_draws:
        rows = [{"b_rule": rule, "used": changes.budget_base[rule] + points}
                for rule, points in sorted(changes.budget_totals.items())]
        send(_BUDGET_SET, rows)


def _members(conn: Connection, rows: list[dict]) -> None:
    """Member rows, each only if still at the version its unit locked and read. On
    PostgreSQL many rows go through the temporary table, one UPDATE for all; otherwise
    rows that change the same columns go in one ``executemany``, whose row count the
    driver gives (PostgreSQL's as SQLite's)."""
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM and _saves_table(conn):
        _check_saved(rows, _copied_members(conn, rows))
        return
    groups: dict[frozenset, list[dict]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    for group in groups.values():
        if executemany(conn, _MEMBER_UPDATE, group).rowcount != len(group):
            _check_saved(group, _at_saved_versions(conn, group))


def _saves_table(conn: Connection) -> bool:
    """Make sure the temporary table exists; False where the database role may not make
    temporary tables (a hardened database can revoke ``TEMPORARY``): its member rows then
    go one ``UPDATE`` each. The first try on a connection runs under a savepoint, so a
    refusal does not abort the transaction, and the answer is kept with the connection."""
    info = conn.connection.info
    allowed = info.get(_SAVES_ALLOWED)
    if allowed is False:
        return False
    if allowed is None:
        try:
            with conn.begin_nested():
                conn.execute(_SAVES_TABLE)
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != _NO_PRIVILEGE:
                raise
            log.warning("the database role may not create temporary tables: a batch's member rows are "
                        "written one UPDATE each (grant TEMPORARY on the database for the faster path)")
            info[_SAVES_ALLOWED] = False
            return False
        info[_SAVES_ALLOWED] = True
        return True
    conn.execute(_SAVES_TABLE)  # again in every transaction: a rolled-back one took the table with it
    return True


_SAVES_ALLOWED = "punchcard_member_saves_allowed"
_NO_PRIVILEGE = "42501"  # insufficient_privilege


def _copied_members(conn: Connection, rows: list[dict]) -> set[str]:
    """The member rows through the temporary table; the members the update changed."""
    executemany(conn, _SAVES_INSERT, [{**_NO_DOCUMENTS, **row} for row in rows], bulk=True)
    return set(conn.execute(_SAVES_UPDATE).scalars())


_NO_DOCUMENTS = dict.fromkeys(_DOCUMENTS)


def _at_saved_versions(conn: Connection, rows: list[dict]) -> set[str]:
    """The members whose row is now at the version this unit wrote (the row count says
    how many were not, this says which)."""
    saved = {row["b_member"]: row["version"] for row in rows}
    found = conn.execute(select(_M.c.member_id, _M.c.version).where(_M.c.member_id.in_(list(saved))))
    return {member for member, version in found if saved[member] == version}


def _check_saved(rows: list[dict], changed: set[str]) -> None:
    stale = sorted(row["b_member"] for row in rows if row["b_member"] not in changed)
    if stale:
        raise StaleMember(f"{', '.join(stale)} changed since {'it was' if len(stale) == 1 else 'they were'} "
                          f"locked ({len(stale)} of {len(rows)} member rows)")
