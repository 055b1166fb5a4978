"""Database failures as :class:`~punchcard.engine.store.StoreError`.

Every way into the database (opening a store, a unit of work, a batch, reading a
member, the audit) turns the driver's exceptions into a ``StoreError`` whose message
names the store (password hidden), what was being done, and the database's own words:
only the first line of its message, so PostgreSQL's ``DETAIL`` (which quotes key
values) is left out, and for data exceptions (SQLSTATE class 22, whose messages quote
the offending value) quoted text is masked. SQL parameters never appear: every engine
is created with ``hide_parameters=True``, and the exception is raised ``from None`` so
no traceback prints the driver's text.

Transient failures, worth running the whole transaction again: a serialization failure
(40001), a deadlock (40P01), a dropped or refused connection (class 08, 57P01-57P03,
or a connection lost without a SQLSTATE), and a busy or locked SQLite database.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from punchcard.engine.store import StoreError

__all__ = ["failures", "translated", "store_error", "is_transient", "describe", "driver_errors", "integrity_errors",
           "release"]

_TRANSIENT_STATES = {"40001", "40P01", "57P01", "57P02", "57P03"}
_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')


def driver_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean the database failed (psycopg only once loaded)."""
    psycopg = sys.modules.get("psycopg")
    return (SQLAlchemyError, sqlite3.Error) + ((psycopg.Error,) if psycopg is not None else ())


def integrity_errors() -> tuple[type[BaseException], ...]:
    """The exception types of a broken unique or foreign key: SQLAlchemy's, and psycopg's
    own for the statements that go to its cursor directly (prepared.py)."""
    psycopg = sys.modules.get("psycopg")
    return (IntegrityError,) + ((psycopg.IntegrityError,) if psycopg is not None else ())


def _driver(exc: BaseException) -> BaseException:
    """The driver's exception inside SQLAlchemy's wrapper (or what a bind processor raised)."""
    return exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc


def is_transient(exc: BaseException) -> bool:
    """Whether running the whole transaction again may well succeed."""
    if isinstance(exc, StoreError):
        return exc.transient
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = _driver(exc)
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "") or ""
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(orig)
    state = getattr(orig, "sqlstate", None)
    if state is not None:
        return state in _TRANSIENT_STATES or state.startswith("08")
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(orig, psycopg.OperationalError)  # connection lost: no SQLSTATE


def describe(exc: BaseException) -> str:
    """The database's own words for a failure, without parameters or quoted values."""
    orig = _driver(exc)
    text = next((line.strip() for line in str(orig).splitlines() if line.strip()), "") or type(orig).__name__
    if isinstance(orig, StatementError) or (orig is not exc and not isinstance(orig, driver_errors())):
        # SQLAlchemy's own text carries the SQL; a value a column could not bind may be quoted
        text = f"{type(orig).__name__} in a statement"
    state = getattr(orig, "sqlstate", None)
    if state is not None and state.startswith("22"):
        text = _QUOTED.sub('"…"', text)
    return f"{text} (SQLSTATE {state})" if state else text


def store_error(exc: BaseException, doing: str, where: str) -> StoreError:
    transient = is_transient(exc)
    return StoreError(f"the ledger at {where} failed while {doing}: {describe(exc)}", transient=transient)


@contextmanager
def failures(doing: str, where: str) -> Iterator[None]:
    """Run the block; a database failure in it becomes a :class:`StoreError`."""
    try:
        yield
    except StoreError:
        raise
    except driver_errors() as exc:
        raise store_error(exc, doing, where) from None


def translated(doing: str):
    """A method decorator: ``failures(doing, self.shown_url)`` around the call (the store's
    URL as it may be shown: a unit of work names its store's)."""
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            with failures(doing, self.shown_url):
                return method(self, *args, **kwargs)
        return call
    return wrap


def release(conn) -> None:
    """Close a connection, first discarding it if the server dropped it: a broken one
    must not go back to the pool, where the next transaction would meet it."""
    if conn is None:
        return
    try:
        raw = None if conn.invalidated else conn.connection.dbapi_connection
        if raw is not None and (getattr(raw, "broken", False) or getattr(raw, "closed", False)):
            conn.invalidate()
            conn.engine.dispose(close=False)  # its other connections may be dead too
    except driver_errors():
        pass
    try:
        conn.close()
    except driver_errors():
        pass
