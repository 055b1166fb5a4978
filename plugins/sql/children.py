"""A member's child rows (lots, records, tier windows, streaks, history) in one statement
on PostgreSQL, and the tables they come from.

The hot path reads them in its pipeline (pipelined.py); a read of one member outside a unit
of work (a preview, a wallet) sends the same statement through a driver cursor
(:func:`read_children`), one round trip where a statement per table took one each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from .models import HistoryRow, LotRow, MemberRecord, StreakRow, TierWindow
from .prepared import prepared, raw_connection, row_maker
from .types import Tagged

__all__ = ["CHILD_TABLES", "CHILDREN", "read_children"]

_L, _R, _W, _S, _H = (LotRow.__table__, MemberRecord.__table__, TierWindow.__table__, StreakRow.__table__,
                      HistoryRow.__table__)
# A member's child tables: (table, the order its rows are read in, the member column counting them)
CHILD_TABLES = {"lots": (_L, (_L.c.position,), None), "records": (_R, (_R.c.kind, _R.c.position), "records"),
                "windows": (_W, (_W.c.window,), "windows"), "streaks": (_S, (_S.c.position,), "streaks"),
                "history": (_H, (_H.c.seq,), "history")}
_PG = postgresql.dialect()
_QUOTE = _PG.identifier_preparer


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


CHILDREN = _Children()
_EVERY_ROW = -1  # as b_known: no version a member row has, so every child row comes


def read_children(conn: Connection, member_id: str) -> dict[str, list]:
    """Every child row of a saved member, by table, in stored order (PostgreSQL)."""
    statement = prepared(CHILDREN.statement, frozenset({"b_member", "b_known"}), conn.dialect)
    with raw_connection(conn).cursor() as cursor:
        cursor.execute(statement.sql, statement.row({"b_member": member_id, "b_known": _EVERY_ROW}))
        return CHILDREN.split(cursor, conn.dialect)
