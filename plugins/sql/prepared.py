"""Writes and hot reads straight to the driver, each parameter and value converted once.

Run through SQLAlchemy, every parameter of every row passes its column type's bind
processor inside SQLAlchemy's generic parameter handling, and every statement builds a
result object: for a batch of hundreds of events that was most of the cost of writing
it, and for a single event on PostgreSQL most of its CPU time. Here SQLAlchemy Core
still compiles each statement (once per statement and set of parameter names), from the
same table definitions, and still supplies each column type's conversions; only the
per-row machinery is skipped:

- a row to write becomes a tuple (SQLite, ``?`` parameters) or a dict (PostgreSQL,
  ``%(name)s`` parameters) by one generated function: plain values as they are, the
  ledger's own types through their bind processors (``types.BINDS``);
- a row read on PostgreSQL becomes a named tuple, each column through its type's result
  processor (chosen by the column's type code, as SQLAlchemy chooses it).

On SQLite errors still come back as SQLAlchemy exceptions, because the rows go through
``Connection.exec_driver_sql``; on PostgreSQL they are psycopg's own (errors.py knows both).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from sqlalchemy.engine import Connection, CursorResult

from punchcard.engine.store import StoreError

from .types import BINDS, WIRE_BINDS
from .wire import Pipeline, Result, numbered

__all__ = ["Prepared", "Reader", "executemany", "pipelined", "prepared", "raw_connection", "row_maker"]


class Prepared:
    """One statement, compiled for one set of parameter names and one dialect. A plain
    insert on PostgreSQL also gets its ``COPY`` form (``copy_sql``, ``values``)."""

    __slots__ = ("copy_sql", "row", "sql", "statement", "values", "wire_row", "wire_sql")

    def __init__(self, statement, keys: frozenset[str], dialect):
        self.statement = statement
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys), for_executemany=True)
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        missing = set(names) - keys
        if missing:  # a default the row does not carry, say
            raise ValueError(f"cannot prepare {statement} without {sorted(missing)}")
        self.sql = compiled.string
        binders = [_binder(compiled.binds[name].type, dialect) for name in names]
        self.row = _row_function(names, binders, compiled.positional)
        self.copy_sql, self.values, self.wire_sql, self.wire_row = None, None, b"", self.row
        if dialect.name == "postgresql":  # its pipelined form (wire.py): $n parameters, in their order
            self.wire_sql, order = numbered(self.sql)
            binder_of = {name: WIRE_BINDS.get(type(compiled.binds[name].type), binders[i])
                         for i, name in enumerate(names)}
            self.wire_row = _row_function([str(key) for key in order], [binder_of[str(key)] for key in order],
                                          positional=True)
        if dialect.name == "postgresql" and _plain_insert(statement):
            quote = dialect.identifier_preparer.quote
            self.copy_sql = f"COPY {quote(statement.table.name)} ({', '.join(map(quote, names))}) FROM STDIN"
            self.values = _row_function(names, binders, positional=True)

    def parameters(self, rows: list[dict]) -> list:
        return list(map(self.row, rows))


def _plain_insert(statement) -> bool:
    """An ``INSERT`` of rows as given: no ``ON CONFLICT``, no ``RETURNING``."""
    return bool(getattr(statement, "is_insert", False)) and statement._post_values_clause is None \
        and not statement._returning


def _binder(type_, dialect) -> Callable | None:
    bind = BINDS.get(dialect.name, {}).get(type(type_))
    if bind is not None:
        return bind
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _row_function(names: list[str], binders: list[Callable | None], positional: bool) -> Callable[[dict], Any]:
    """``row -> parameters`` for these names, written out as one function (the way
    ``collections.namedtuple`` writes its methods): a row costs one call, not a loop.
    Only names and positions go into the text; values stay in the row."""
    scope = {f"_bind{i}": bind for i, bind in enumerate(binders) if bind is not None}
    items = [f"_bind{i}(row[{name!r}])" if binders[i] is not None else f"row[{name!r}]"
             for i, name in enumerate(names)]
    if positional:
        body = f"({', '.join(items)},)"
    else:
        body = "{" + ", ".join(f"{name!r}: {item}" for name, item in zip(names, items, strict=True)) + "}"
    exec(f"def row_parameters(row):\n    return {body}\n", scope)
    return scope["row_parameters"]


_PREPARED: dict[tuple, Prepared] = {}  # statements are module constants: a few dozen entries


def prepared(statement, keys: frozenset[str], dialect) -> Prepared:
    """The statement compiled for ``keys`` on ``dialect``, once."""
    key = (id(statement), keys, dialect.name)
    found = _PREPARED.get(key)
    if found is None or found.statement is not statement:
        found = _PREPARED[key] = Prepared(statement, keys, dialect)
    return found


def raw_connection(conn: Connection):
    """The driver's connection under ``conn`` (in its transaction)."""
    raw = conn.connection.dbapi_connection
    if raw is None:  # only a connection closed under us has none
        raise StoreError("the connection was closed before the statement")
    return raw


COPY_FROM = 16  # rows: below this, an insert is cheaper as statements than as a COPY


def executemany(conn: Connection, statement, rows: list[dict], cursor=None, bulk: bool = False
                ) -> CursorResult | Any:
    """``conn.execute(statement, rows)`` for rows that all have the same keys. On PostgreSQL
    the rows go to a driver cursor (``cursor``, or a new one), which is returned; ``bulk``
    (outside a pipeline) sends many rows of a plain insert as one ``COPY``, which costs a
    fraction of a statement per row."""
    statement_for = prepared(statement, frozenset(rows[0]), conn.dialect)
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql(statement_for.sql, statement_for.parameters(rows))
    cursor = cursor if cursor is not None else raw_connection(conn).cursor()
    values = statement_for.values
    if bulk and values is not None and statement_for.copy_sql is not None and len(rows) >= COPY_FROM:
        with cursor.copy(statement_for.copy_sql) as copy:
            for row in map(values, rows):
                copy.write_row(row)
    elif len(rows) == 1:
        cursor.execute(statement_for.sql, statement_for.row(rows[0]))
    else:
        cursor.executemany(statement_for.sql, statement_for.parameters(rows))
    return cursor


def pipelined(pipe: Pipeline, conn: Connection, statement, rows: list[dict]) -> list[Result]:
    """Each row's statement sent in ``pipe`` (PostgreSQL); their results once it has ended."""
    statement_for = prepared(statement, frozenset(rows[0]), conn.dialect)
    return [pipe.send(statement_for.wire_sql, statement_for.wire_row(row)) for row in rows]


class Reader:
    """Rows of one PostgreSQL statement's driver cursors as named tuples, each value through
    its column's result processor (as SQLAlchemy would convert it). The statement selects
    columns named as in ``types`` (name -> column type). The shape of
    its result is worked out from its first result with rows and kept (a cursor's
    description builds an object per column, on every call)."""

    def __init__(self, types: Mapping[str, Any]):
        self.types = dict(types)
        self._made: tuple[Callable[[Iterable], Any], tuple] | None = None  # (row maker, processors)

    @classmethod
    def of_table(cls, table) -> Reader:
        return cls({column.name: column.type for column in table.c})

    def rows(self, cursor, dialect) -> list:
        result = cursor.pgresult
        if result is None or not result.ntuples:
            return []
        if self._made is None:
            self._made = self._make(cursor.description, dialect)
        make, processors = self._made
        values = cursor.fetchall()
        if not any(processors):
            return [make(row) for row in values]
        return [make([value if p is None or value is None else p(value)
                      for p, value in zip(processors, row, strict=True)]) for row in values]

    def _make(self, description, dialect) -> tuple[Callable[[Iterable], Any], tuple]:
        names = [column.name for column in description]
        processors = tuple(self.types[column.name]._cached_result_processor(dialect, column.type_code)
                           if column.name in self.types else None for column in description)
        return row_maker("Row", names), processors


def row_maker(typename: str, names: list[str]) -> Callable[[Iterable], Any]:
    """``values -> named tuple`` for these field names."""
    return cast(Any, namedtuple(typename, names))._make
