"""A PostgreSQL unit of work's reads, all in one round trip.

One event needs: its member locked (inserted first if new) and read, its id claimed
(or its earlier outcome read), the budgets it may draw on, and, unless this process
holds the member decoded at its current version, the member's child rows. They go in
one pipeline of prepared statements (wire.py), which also carries the transaction's
``BEGIN``, so the whole read costs one round trip, and the unit's writes
(writes.apply_pipelined) and commit one each.

psycopg begins a transaction by itself with a round trip of its own in pipeline mode
(it waits for ``BEGIN`` to finish). So for the unit's transaction the driver connection
is switched to autocommit, and the ``BEGIN`` is the pipeline's first statement; the
commit (psycopg commits whatever transaction is open) and :func:`end_transaction`
restore the connection as the pool expects it.

The member is locked by ``INSERT ... ON CONFLICT DO UPDATE ... WHERE false``: a new
row is inserted (and so locked), an existing one is locked without being written.
Every statement after it in the pipeline runs with that lock held, and in READ
COMMITTED each sees the latest committed rows. The child rows are asked for only if
the member's version differs from the one this process holds decoded (a condition
evaluated by the server, after the lock), so a cached member costs no rows on the
wire, and one another process changed still costs no second round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from punchcard.engine.store import ProcessedEvent

from .models import Budget, Member, ProcessedEventRow
from .prepared import Reader, pipelined, raw_connection, row_maker
from .repository import CHILD_TABLES, LOCK_MEMBER, UNSAVED_MEMBER, processed_events, to_processed
from .types import Tagged
from .wire import Pipeline

__all__ = ["FirstRead", "first_read", "end_transaction"]

_M, _P, _B = Member.__table__, ProcessedEventRow.__table__, Budget.__table__
_PG = postgresql.dialect()
_QUOTE = _PG.identifier_preparer
_MEMBER = select(_M).where(_M.c.member_id == bindparam("b_member"))
# The claim and the earlier outcome in one statement. Both parts see the rows committed
# when it began: an id another unit claimed and commits meanwhile is neither claimed
# here nor seen as processed, and is read again (processed_events) once that one is done.
_CLAIMING = (pg_insert(_P).values(event_id=bindparam("b_event"), member_id=bindparam("b_member"))
             .on_conflict_do_nothing(index_elements=["event_id"]).returning(_P.c.id).cte("claiming"))
_CLAIM = (select(select(_CLAIMING.c.id).scalar_subquery().label("claim_id"), *_P.c)
          .select_from(select(literal_column("1").label("one")).subquery("one"))
          .outerjoin(_P, and_(_P.c.event_id == bindparam("b_event"), _P.c.decision.is_not(None))))
_BUDGETS = select(_B.c.rule, _B.c.used).where(_B.c.rule == bindparam("b_rules", type_=ARRAY(String)).any_())


def _selected(name: str, column) -> str:
    """A column as a select of the table reads it: a codec document as its text (types.Tagged)."""
    return f"CAST({name} AS TEXT)" if isinstance(column.type, Tagged) else name


def _selected_type(column) -> str:
    return "TEXT" if isinstance(column.type, Tagged) else column.type.compile(dialect=_PG)


class _Children:
    """Every child table's rows of one member in one statement: a ``UNION ALL`` whose rows
    have a column for each table's each column (NULL in the other tables' rows) after a
    first one naming the table. The text is generated from the table definitions and kept
    short enough for the driver to remember it parsed. Each row is cut back into its
    table's row (through its columns' result processors), and each table's rows are put in
    their stored order."""

    def __init__(self):
        owned = [(name, column) for name, (table, _, _) in CHILD_TABLES.items() for column in table.c]
        self.types = [column.type for _, column in owned]
        self.layout: dict[str, tuple[int, int, Callable[[Iterable], Any], list[str]]] = {}
        for name, (table, order, _) in CHILD_TABLES.items():
            start = next(i for i, (owner, _) in enumerate(owned) if owner == name)
            self.layout[name] = (start, start + len(table.c), row_maker(f"{name}_row", [c.name for c in table.c]),
                                 [c.name for c in order])
        branches = [self._branch(name, table, owned, first=i == 0)
                    for i, (name, (table, _, _)) in enumerate(CHILD_TABLES.items())]
        self.statement = text("\nUNION ALL ".join(branches)).bindparams(
            bindparam("b_member", type_=String()), bindparam("b_known", type_=Integer()))
        self._processors: list | None = None

    @staticmethod
    def _branch(name: str, table, owned: list, first: bool) -> str:
        """One table's rows. The first branch gives its NULLs their column's type: a union
        takes the types of its columns from its branches in order, and an untyped NULL
        would make a column text."""
        quote = _QUOTE.quote  # names as PostgreSQL needs them ("values" is a keyword)
        nulls = [f"NULL::{_selected_type(column)}" if first else "NULL" for _, column in owned]
        columns = ", ".join(_selected(quote(column.name), column) if owner == name else null
                            for (owner, column), null in zip(owned, nulls, strict=True))
        live = " AND live" if "live" in table.c else ""
        return (f"SELECT '{name}', {columns} FROM {quote(table.name)} WHERE member_id = :b_member{live} "
                "AND (SELECT version FROM members WHERE member_id = :b_member) <> :b_known")

    def split(self, cursor, dialect) -> dict[str, list]:
        out: dict[str, list] = {name: [] for name in self.layout}
        result = cursor.pgresult
        if result is None or not result.ntuples:
            return out
        if self._processors is None:
            self._processors = [kind._cached_result_processor(dialect, column.type_code)
                                for kind, column in zip(self.types, cursor.description[1:], strict=True)]
        processors = self._processors
        for values in cursor.fetchall():
            start, end, make, _ = self.layout[values[0]]
            out[values[0]].append(make([value if processors[i] is None or value is None
                                             else processors[i](value)
                                             for i, value in enumerate(values[1 + start:1 + end], start)]))
        for name, (_, _, _, order) in self.layout.items():
            out[name].sort(key=lambda child: tuple(getattr(child, column) for column in order))
        return out


_CHILDREN = _Children()
_MEMBER_ROW, _CLAIM_ROW = Reader.of_table(_M), Reader.of_table(_P)


@dataclass
class FirstRead:
    member: Any  # the member row, locked
    claimed: bool  # the event id was claimed by this unit (new), not processed before
    prior: ProcessedEvent | None
    budgets: dict[str, Decimal] = field(default_factory=dict)
    children: dict[str, list] | None = None  # None: the rows are at the version held decoded


def first_read(conn: Connection, member_id: str, event_id: str, budgets: Mapping[str, Decimal],
               known_version: int | None) -> FirstRead:
    """Lock and read the member, claim ``event_id``, read ``budgets`` (without locks) and,
    unless the member's rows are at ``known_version``, its child rows: one round trip."""
    raw, dialect = raw_connection(conn), conn.dialect
    member_key = {"b_member": member_id}
    raw.autocommit = True  # the BEGIN is sent below, in the pipeline (see the module notes)
    with Pipeline(raw, conn.connection.info) as pipe:
        pipe.send(b"BEGIN", ())
        pipelined(pipe, conn, LOCK_MEMBER, [{**UNSAVED_MEMBER, "member_id": member_id}])
        (member,) = pipelined(pipe, conn, _MEMBER, [member_key])
        (claim,) = pipelined(pipe, conn, _CLAIM, [{**member_key, "b_event": event_id}])
        used = pipelined(pipe, conn, _BUDGETS, [{"b_rules": sorted(budgets)}])[0] if budgets else None
        known = {**member_key, "b_known": -1 if known_version is None else known_version}
        (children,) = pipelined(pipe, conn, _CHILDREN.statement, [known])
    (row,) = _MEMBER_ROW.rows(member, dialect)
    (outcome,) = _CLAIM_ROW.rows(claim, dialect)
    claimed = outcome.claim_id is not None
    prior = to_processed(outcome) if outcome.event_id is not None else None
    if not claimed and prior is None:  # claimed by a unit that committed meanwhile: its outcome now
        prior = processed_events(conn, [event_id]).get(event_id)
    rows = _CHILDREN.split(children, dialect)
    stale = known_version is None or row.version != known_version
    return FirstRead(row, claimed, prior, dict(used.fetchall()) if used is not None else {},
                     rows if stale else None)



def end_transaction(conn: Connection) -> None:
    """Put the driver connection of a unit that read with :func:`first_read` back as the
    pool hands it out: no transaction open (a failed one rolled back), not autocommit."""
    raw = conn.connection.dbapi_connection
    if raw is None or raw.closed or not raw.autocommit:
        return
    if raw.info.transaction_status.name != "IDLE":
        raw.rollback()
    raw.autocommit = False
