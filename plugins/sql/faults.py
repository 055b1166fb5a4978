"""Crash points for the crash tests: ``PUNCHCARD_SQL_CRASH=point[:n]`` makes the
process SIGKILL itself the n-th time (default 1st) it reaches ``point``.

Points: ``locked`` (member rows locked, nothing written), ``flushed`` (all rows
written, not committed), ``commit`` (inside the commit, its outcome unknown to the
client), ``committed`` (commit returned). ``commit`` on PostgreSQL: COMMIT sent to the
server, reply not read, so the server decides alone whether the transaction happened.
On SQLite: killed from inside COMMIT, once the transaction is written and synced to
the WAL and before COMMIT returns (SQLite's WAL hook, see walhook.py), so it did
happen although the process never learnt it. Unset, this is one dictionary lookup per
point.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "POINTS", "Faults"]

CRASH_ENV = "PUNCHCARD_SQL_CRASH"
POINTS = ("locked", "flushed", "commit", "committed")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Faults:
    def __init__(self, spec: str | None = None):
        spec = os.environ.get(CRASH_ENV, "") if spec is None else spec
        point, _, count = spec.partition(":")
        if point and point not in POINTS:
            raise ValueError(f"{CRASH_ENV}: unknown crash point {point!r} (known: {', '.join(POINTS)})")
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
            from .walhook import on_wal_commit

            on_wal_commit(conn.connection.dbapi_connection, _die)
            conn.commit()
            raise RuntimeError("SQLite's WAL hook did not run inside COMMIT")
        conn.commit()


def _send_commit_and_die(conn) -> None:
    raw = conn.connection.dbapi_connection.pgconn
    raw.send_query(b"COMMIT")
    while raw.flush():
        pass
    _die()
