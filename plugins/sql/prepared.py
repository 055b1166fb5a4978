"""SQLite writes straight to the driver's ``executemany``, each parameter converted once.

Run through SQLAlchemy, every parameter of every row passes its column type's bind
processor inside SQLAlchemy's generic parameter handling: for a batch of hundreds of
events that was most of the cost of writing it. Here SQLAlchemy Core still compiles the
statement (once per statement and set of parameter names), and each row becomes a
tuple: plain values as they are, and the ledger's own types through the conversions
their bind processors make (``types.SQLITE_BINDS``), any other type through its bind
processor. Errors still come back as SQLAlchemy exceptions (``IntegrityError`` on a
unique key), because the rows go through ``Connection.exec_driver_sql``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection, CursorResult

from .types import SQLITE_BINDS

__all__ = ["Prepared", "executemany"]


class Prepared:
    """One statement, compiled for one set of parameter names."""

    __slots__ = ("row", "sql", "statement")

    def __init__(self, statement, keys: frozenset[str], dialect):
        self.statement = statement
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys), for_executemany=True)
        names = list(compiled.positiontup or ())
        missing = set(names) - keys
        if not compiled.positional or missing:  # a default the row does not carry, say
            raise ValueError(f"cannot prepare {statement} without {sorted(missing)}")
        self.sql = compiled.string
        self.row = _row_function(names, [_binder(compiled.binds[name].type, dialect) for name in names])

    def parameters(self, rows: list[dict]) -> list[tuple]:
        return list(map(self.row, rows))


def _binder(type_, dialect) -> Callable | None:
    bind = SQLITE_BINDS.get(type(type_))
    if bind is not None:
        return bind
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _row_function(names: list[str], binders: list[Callable | None]) -> Callable[[dict], tuple]:
    """``row -> (parameter, ...)`` for these names, written out as one function (the way
    ``collections.namedtuple`` writes its methods): a row costs one call, not a loop."""
    scope = {f"_bind{i}": bind for i, bind in enumerate(binders) if bind is not None}
    items = [f"_bind{i}(row[{name!r}])" if binders[i] is not None else f"row[{name!r}]"
             for i, name in enumerate(names)]
    exec(f"def row_parameters(row):\n    return ({', '.join(items)},)\n", scope)
    return scope["row_parameters"]


_PREPARED: dict[tuple, Prepared] = {}  # statements are module constants: a few dozen entries


def executemany(conn: Connection, statement, rows: list[dict]) -> CursorResult:
    """``conn.execute(statement, rows)`` on SQLite, for rows that all have the same keys."""
    keys = frozenset(rows[0])
    prepared = _PREPARED.get((id(statement), keys))
    if prepared is None or prepared.statement is not statement:
        prepared = _PREPARED[(id(statement), keys)] = Prepared(statement, keys, conn.dialect)
    return conn.exec_driver_sql(prepared.sql, prepared.parameters(rows))
