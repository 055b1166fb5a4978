"""Faults for the store-failure tests: a PostgreSQL backend terminated from another
connection, a SQLite file made read-only, a store file's bytes corrupted; and a
snapshot of every ledger row, to compare a store with a clean run's."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool

from punchcard.plugins.sql.models import Base

__all__ = ["Terminator", "ReadOnlyAt", "read_only", "snapshot", "sqlite_path", "corrupt_page"]

# Serial keys and row versions depend on how many transactions ran, not on what they stored.
_UNCOMPARED = {"id", "version"}


def sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


class _AtStatements:
    """Calls ``self.fault(conn)`` before the store's n-th statements (1-based), for the
    numbers in ``at``: a listener on the store's SQLAlchemy engine."""

    def __init__(self, store, at):
        self.store, self.at, self.count, self.hits = store, set(at), 0, 0
        event.listen(store.engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        if self.count in self.at:
            self.hits += 1
            self.fault(conn)

    def disarm(self) -> None:
        event.remove(self.store.engine, "before_cursor_execute", self._before)


class Terminator:
    """``pg_terminate_backend`` of the connection inside the store's transaction, from
    another connection, waiting until the backend is gone, at the n-th crash points the
    store passes (1-based, for the numbers in ``at``), counted over every transaction.

    A transaction on PostgreSQL passes ``locked`` (its reads done, its locks held),
    ``flushed`` (its writes sent) and ``commit``; a point is used rather than a statement
    because the hot path's statements go to the driver in pipelines, past SQLAlchemy's
    statement events. The connection is the one the store checked out last (the tests
    run one transaction at a time)."""

    def __init__(self, store, at):
        self.store, self.numbers, self.count, self.hits = store, set(at), 0, 0
        self.inner, store.faults = store.faults, self
        self.admin = create_engine(store.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.pid: int | None = None
        event.listen(store.engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        self.pid = dbapi_connection.info.backend_pid

    def _passed(self) -> None:
        self.count += 1
        if self.count in self.numbers and self.pid is not None:
            self.hits += 1
            with self.admin.connect() as admin:
                assert admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": self.pid}).scalar()

    def at(self, point: str) -> None:
        if point in {"locked", "flushed"}:
            self._passed()
        self.inner.at(point)

    def commit(self, conn) -> None:
        self._passed()
        self.inner.commit(conn)

    def disarm(self) -> None:
        self.store.faults = self.inner
        event.remove(self.store.engine, "checkout", self._checkout)
        self.admin.dispose()


class ReadOnlyAt(_AtStatements):
    """The store's SQLite file (and its WAL) made read-only at a statement."""

    def __init__(self, store, at):
        super().__init__(store, at)
        self.path = sqlite_path(store.url)
        self.undo = None

    def fault(self, conn) -> None:
        if self.undo is None:
            self.undo = _make_read_only(self.path)
            if os.geteuid() != 0:  # permissions bind only files opened after them
                self.store.engine.dispose()

    def restore(self) -> None:
        if self.undo is not None:
            self.undo()
            self.undo = None


def _files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def _make_read_only(path: Path):
    """Read-only even for an open file descriptor and for root: the immutable attribute
    as root (permissions do not bind root), permissions otherwise. Returns the undo."""
    files = _files(path)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)
        return lambda: subprocess.run(["chattr", "-i", *map(str, files)], check=True)
    modes = {p: p.stat().st_mode for p in files}
    for p in files:
        p.chmod(0o444)
    return lambda: [p.chmod(mode) for p, mode in modes.items()]


@contextmanager
def read_only(path: Path):
    undo = _make_read_only(path)
    try:
        yield
    finally:
        undo()


def snapshot(store) -> dict[str, list]:
    """Every ledger row, without serial keys and versions: append-only tables in the
    order they were written per member, state tables sorted."""
    tables = {}
    with store.read() as conn, conn.begin():
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if c.name not in _UNCOMPARED]
            order = [table.c.member_id, table.c.id] if "id" in table.c and "member_id" in table.c else []
            rows = [tuple(row) for row in conn.execute(select(*columns).order_by(*order))]
            tables[table.name] = rows if order else sorted(rows, key=repr)
    return tables


def corrupt_page(path: Path, page: int) -> bytes:
    """Overwrite a b-tree page's header (its first bytes) with garbage; returns the file's
    bytes afterwards. The page must hold a table or an index (page 1 is the header)."""
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big") or 65536
    start = (page - 1) * size
    data[start:start + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    return bytes(data)
