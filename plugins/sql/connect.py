"""SQLAlchemy engines for the two backends, set up for a ledger.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed event
survives a power cut), foreign keys on, a 32 MiB page cache, and every write
transaction starts with ``BEGIN IMMEDIATE`` so it holds the database's write lock from
its first read: two units of work can never decide on the same stale balance. A busy database is waited
for (``busy_timeout``), then retried a bounded number of times by the caller.

PostgreSQL: READ COMMITTED plus explicit row locks (see repository.Dialect).
"""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from .errors import is_transient
from .jsontext import dumps
from .urls import backend_of, redact

__all__ = ["create_sql_engine", "is_retryable", "SQLITE_BUSY_SECONDS", "backend_of", "redact"]

log = logging.getLogger("punchcard.store.sql")

SQLITE_BUSY_SECONDS = 60.0
# Page cache per connection (the default is 2 MiB): a batch touches index pages all over
# the member-keyed indexes, and rereading them from the OS was a fifth of its writes.
# Only memory: durability is the journal's and synchronous's business.
SQLITE_CACHE_KIB = 32768


def create_sql_engine(url: str, busy_timeout: float = SQLITE_BUSY_SECONDS, **options) -> Engine:
    """An engine for ``url``; ``busy_timeout`` (SQLite) is how long to wait for the write lock.
    SQL parameters are never put into SQLAlchemy's logs or exception messages."""
    options["hide_parameters"] = True
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("a SQLite ledger needs a file, e.g. sqlite:///points.db "
                             "(memory:// opens an in-process store)")
        engine = create_engine(parsed.set(drivername="sqlite+pysqlite"), json_serializer=dumps,
                               connect_args={"timeout": busy_timeout, "check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_setup(busy_timeout))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pool_pre_ping: it costs a round trip per transaction. A connection the server
    # dropped fails one transaction (sending its event again is safe) and is replaced.
    # psycopg's own statement preparing is off: on every rollback it deallocates all of a
    # connection's prepared statements, the hot path's (wire.py) with its own.
    return create_engine(parsed.set(drivername="postgresql+psycopg"), json_serializer=dumps,
                         isolation_level="READ COMMITTED",
                         connect_args={"application_name": "punchcard", "prepare_threshold": None}, **options)


def _sqlite_setup(busy_timeout: float):
    pragmas = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", f"busy_timeout={int(busy_timeout * 1000)}",
               f"cache_size=-{SQLITE_CACHE_KIB}")

    def connect(dbapi_connection: sqlite3.Connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own; _sqlite_begin does
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return connect


def _sqlite_begin(conn) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def is_retryable(exc: BaseException) -> bool:
    """A failure after which running the whole transaction again is safe and useful."""
    return is_transient(exc)
