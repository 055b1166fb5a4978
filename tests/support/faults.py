"""Crash points for the crash tests: ``store.faults = Faults("point[:n]")`` makes the
process SIGKILL itself the n-th time (default 1st) the store reaches ``point``.

Points: ``locked`` (member rows locked, nothing written), ``flushed`` (all rows
written, not committed), ``commit`` (inside the commit, its outcome unknown to the
client), ``committed`` (commit returned). ``commit`` on PostgreSQL: COMMIT sent to the
server, reply not read, so the server decides alone whether the transaction happened.
On SQLite: killed from inside COMMIT, once the transaction is written and synced to
the WAL and before COMMIT returns (SQLite's WAL hook, see walhook.py), so it did
happen although the process never learnt it. A transaction that wrote nothing (a batch
of duplicates) puts nothing in the WAL, so SQLite never calls the hook: the process
dies as its COMMIT returns, which is the same moment for a commit that changes nothing.

The store's own crash points (``punchcard.plugins.sql.store.NoFaults``) do nothing and
cost one call each.
"""

from __future__ import annotations

import os
import signal

from .walhook import on_wal_commit

__all__ = ["POINTS", "Faults"]

POINTS = ("locked", "flushed", "commit", "committed")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Faults:
    """Crash points armed at ``spec`` (``point[:n]``; empty: none armed)."""

    def __init__(self, spec: str = ""):
        point, _, count = spec.partition(":")
        if point and point not in POINTS:
            raise ValueError(f"unknown crash point {point!r} (known: {', '.join(POINTS)})")
        self.point, self.left = point or None, int(count or 1)

    def reached(self, point: str) -> bool:
        """True when this is the armed point's n-th visit."""
        if point != self.point:
            return False
        self.left -= 1
        return self.left == 0

    def at(self, point: str) -> None:
        if self.reached(point):
            _die()

    def commit(self, conn) -> None:
        """Commit ``conn``; armed at ``commit``, die inside the commit (see above)."""
        if self.point == "commit" and self.reached("commit"):
            if conn.dialect.name == "postgresql":
                _send_commit_and_die(conn)
            _commit_sqlite_and_die(conn)
        conn.commit()


def _send_commit_and_die(conn) -> None:
    raw = conn.connection.dbapi_connection.pgconn
    raw.send_query(b"COMMIT")
    while raw.flush():
        pass
    _die()


def _commit_sqlite_and_die(conn) -> None:
    raw = conn.connection.dbapi_connection
    mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":  # outside WAL mode the hook never runs, writes or not
        raise RuntimeError(f"the commit crash point needs SQLite's WAL mode, not {mode!r}")
    on_wal_commit(raw, _die)
    conn.commit()
    # Reached only when COMMIT wrote no WAL frames (the hook runs for every commit that
    # writes): a transaction that changed nothing, whose commit has no outcome to lose.
    _die()
