"""Reads and writes of ledger rows on a connection the caller's transaction owns.

Nothing here begins, commits or rolls back: the unit of work does. Backend
differences (row locks and claims on PostgreSQL, none needed under SQLite's
database-wide write lock) live in :class:`Dialect`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import String, any_, bindparam, false, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from punchcard.engine.runtime.state import ZERO, MemberState
from punchcard.engine.store import ProcessedEvent

from .children import CHILD_TABLES, read_children
from .codec import decision_from_json
from .models import Budget, LotRow, Member, ProcessedEventRow
from .prepared import executemany
from .rows import Loaded, state_from_rows

__all__ = ["Dialect", "MemberKey", "load_members", "read_member", "processed_events", "to_processed", "among",
           "UNSAVED_MEMBER", "LOCK_MEMBER"]


def among(column, values: list[str], postgres: bool):
    """``column IN values``. On PostgreSQL ``= ANY(array)``: one parameter, so the SQL text
    is the same for any number of values and the server keeps it prepared."""
    if postgres:
        return column == any_(bindparam(f"{column.name}_any", list(values), type_=ARRAY(String)))
    return column.in_(list(values))


_M, _L, _P, _B = Member.__table__, LotRow.__table__, ProcessedEventRow.__table__, Budget.__table__
_VERSION = (_M.c.member_id, _M.c.version)  # enough to ask the member cache
MemberKey = namedtuple("MemberKey", "member_id version")  # a member row just inserted, at version 0
# A member row before its first save, every column given: SQLite rows go straight to
# the driver (prepared.py), so the models' defaults are spelled out here.
UNSAVED_MEMBER = {"version": 0, "balance": ZERO, "debt": ZERO, "profile": {}, "state": {}, "next_lot": 0,
            "next_record": 0, "next_history": 0, "windows": 0, "streaks": 0, "history": 0, "records": 0}


def _locking(insert):
    """PostgreSQL: ``insert`` a new member row, or lock an existing one without writing it
    (ON CONFLICT DO UPDATE locks the row even when its WHERE is false)."""
    return insert.on_conflict_do_update(index_elements=["member_id"], set_={"version": _M.c.version}, where=false())


LOCK_MEMBER = _locking(pg_insert(_M))
# The same for many members in one statement with one parameter (an array of ids). The
# insert takes the rows as the sort yields them, so every batch locks in one order: code
# point order (collation "C", as Python sorts), whatever the database's collation.
_GIVEN_IDS = func.unnest(bindparam("member_ids", type_=ARRAY(String))).table_valued("member_id").render_derived()
_LOCK_MEMBERS = _locking(pg_insert(_M).from_select(
    ["member_id", *UNSAVED_MEMBER],
    select(_GIVEN_IDS.c.member_id, *(bindparam(name, type_=_M.c[name].type) for name in UNSAVED_MEMBER))
    .order_by(_GIVEN_IDS.c.member_id.collate("C")),
))
_NEW_MEMBER = sqlite_insert(_M).on_conflict_do_nothing(index_elements=["member_id"])


class Dialect:
    """What differs between PostgreSQL and SQLite, behind one small surface."""

    def __init__(self, name: str):
        self.name = name
        self.postgres = name == "postgresql"
        self._insert = pg_insert if self.postgres else sqlite_insert

    def insert_missing(self, conn: Connection, table, rows: list[dict], key: str, returning=None):
        """Insert rows whose key is not there yet. Parameters are bound, not inlined,
        so the statement is compiled once and cached."""
        statement = self._insert(table).on_conflict_do_nothing(index_elements=[key])
        if returning is not None:
            return conn.execute(statement.returning(returning), rows[0] if len(rows) == 1 else rows)
        return conn.execute(statement, rows)

    def lock_members(self, conn: Connection, ids: list[str]) -> list:
        """Create missing member rows and lock all of them, in id order (PostgreSQL; under
        SQLite's ``BEGIN IMMEDIATE`` the write lock is already held).

        One member: ``SELECT ... FOR UPDATE``, inserting the row first if it is new. Many:
        one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE false`` in id order, which inserts
        new rows and locks existing ones in a single ordered pass. Inserting first and
        locking after would take the locks in two passes, and two batches could then
        each wait for a row the other holds."""
        ids = sorted(set(ids))
        if not self.postgres:
            return self._sqlite_members(conn, ids)
        if len(ids) > 1:
            conn.execute(_LOCK_MEMBERS, {**UNSAVED_MEMBER, "member_ids": ids})
            return self._select_members(conn, ids, lock=False, columns=_VERSION)
        rows = self._select_members(conn, ids)  # the whole row comes with the lock, in one round trip
        if not rows:  # a new member: the row it inserts is its lock (unless another unit just did)
            rows = list(self.insert_missing(conn, _M, [{"member_id": ids[0]}], "member_id", returning=_M))
        return rows or self._select_members(conn, ids)

    def _sqlite_members(self, conn: Connection, ids: list[str]) -> list:
        """Id and version of each member (enough to ask the member cache), inserting the
        missing ones: under the write lock they are known to be at version 0."""
        rows = self._select_members(conn, ids, columns=_VERSION)
        if len(rows) == len(ids):
            return rows
        found = {row.member_id for row in rows}
        new = [MemberKey(i, 0) for i in ids if i not in found]
        executemany(conn, _NEW_MEMBER, [{**UNSAVED_MEMBER, "member_id": key.member_id} for key in new])
        return sorted([*rows, *new], key=lambda row: row.member_id)

    def _select_members(self, conn: Connection, ids: list[str], lock: bool = True, columns=(_M,)) -> list:
        query = select(*columns).where(among(_M.c.member_id, ids, self.postgres)).order_by(_M.c.member_id)
        return list(conn.execute(query.with_for_update(of=_M) if lock and self.postgres else query))

    def claim(self, conn: Connection, event_id: str, member_id: str) -> ProcessedEvent | None:
        """The processed record of ``event_id``, or None after claiming the id.

        On PostgreSQL the processed row is inserted first, empty: a concurrent unit with
        the same event id (for any member) waits on the unique key, then sees this
        unit's outcome. The row is filled in before commit, so no committed row is
        ever changed. Under SQLite's write lock a read is enough."""
        if self.postgres:
            claim = [{"event_id": event_id, "member_id": member_id}]
            if self.insert_missing(conn, _P, claim, "event_id", returning=_P.c.id).first() is not None:
                return None
        return processed_events(conn, [event_id]).get(event_id)

    def budgets(self, conn: Connection, rules: Iterable[str], lock: bool) -> dict[str, Decimal]:
        """Used points per budget rule. With ``lock``, the rows are locked in rule order
        (after the member rows, always), and created for new budgets. Without, a budget
        with no row yet is left out (it is unused): creating the row would hold its lock."""
        rules = sorted(set(rules))
        if not rules:
            return {}
        found = self._select_budgets(conn, rules, lock)
        if len(found) < len(rules) and lock:
            self.insert_missing(conn, _B, [{"rule": r, "used": ZERO} for r in rules if r not in found], "rule")
            found = self._select_budgets(conn, rules, lock)
        return found

    def _select_budgets(self, conn: Connection, rules: list[str], lock: bool) -> dict[str, Decimal]:
        query = select(_B.c.rule, _B.c.used).where(among(_B.c.rule, rules, self.postgres)).order_by(_B.c.rule)
        if lock and self.postgres:
            query = query.with_for_update()
        return {row.rule: row.used for row in conn.execute(query)}

def to_processed(row) -> ProcessedEvent:
    return ProcessedEvent(row.event_id, row.digest, row.body, decision_from_json(row.decision))


def processed_events(conn: Connection, event_ids: list[str]) -> dict[str, ProcessedEvent]:
    postgres = conn.dialect.name == "postgresql"
    query = select(_P).where(among(_P.c.event_id, sorted(set(event_ids)), postgres), _P.c.decision.is_not(None))
    rows = conn.execute(query)
    return {row.event_id: to_processed(row) for row in rows}


def _children(conn: Connection, table, order, members: list, count: str | None) -> dict[str, list]:
    """Rows of a child table for the members that have any (``count``: the member
    column counting them; None: every saved member)."""
    out: dict[str, list] = {m.member_id: [] for m in members}
    ids = [m.member_id for m in members if m.version and (count is None or getattr(m, count))]
    if not ids:
        return out
    postgres = conn.dialect.name == "postgresql"
    query = select(table).where(among(table.c.member_id, ids, postgres)).order_by(table.c.member_id, *order)
    if table is _L:
        query = query.where(_L.c.live == true())
    for row in conn.execute(query):
        out[row.member_id].append(row)
    return out


def load_members(conn: Connection, members: list, cache=None) -> dict[str, Loaded]:
    """Every member in ``members`` (locked member rows, whole or just id and version)
    with its lots, records, tier windows, streaks and history. Members never saved
    (version 0) are not read, nor members the cache holds at the row's version; a table
    a member has no rows in is not queried."""
    found = {m.member_id: Loaded(m.member_id, 0, None) for m in members if m.version == 0}  # never saved
    if cache is not None:
        found.update((m.member_id, hit) for m in members
                     if m.version and (hit := cache.get(m.member_id, m.version)) is not None)
    missing = [m for m in members if m.member_id not in found]
    if missing and "state" not in missing[0]._fields:
        postgres = conn.dialect.name == "postgresql"
        query = select(_M).where(among(_M.c.member_id, [m.member_id for m in missing], postgres))
        missing = list(conn.execute(query))
    if len(missing) == 1 and conn.dialect.name == "postgresql":  # one member: its rows in one statement
        found[missing[0].member_id] = state_from_rows(missing[0], read_children(conn, missing[0].member_id))
        return found
    children = {name: _children(conn, table, order, missing, count)
                for name, (table, order, count) in CHILD_TABLES.items()}
    for m in missing:
        found[m.member_id] = state_from_rows(m, {name: rows[m.member_id] for name, rows in children.items()})
    return found


def read_member(conn: Connection, member_id: str, cache=None) -> MemberState | None:
    """One member as the transaction sees it, without a lock (None: never stored)."""
    rows = list(conn.execute(select(_M).where(_M.c.member_id == member_id)))
    return load_members(conn, rows, cache)[member_id].state if rows else None
