"""Crash points for the crash tests: ``PUNCHCARD_SQL_CRASH=point[:n]`` makes the
process SIGKILL itself the n-th time (default 1st) it reaches ``point``.

Points: ``locked`` (member rows locked, nothing written), ``flushed`` (all rows
written, not committed), ``commit`` (PostgreSQL: COMMIT sent to the server, reply
not read: the outcome is unknown to the client), ``committed`` (commit returned).
Unset, this is one dictionary lookup per point.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "Faults"]

CRASH_ENV = "PUNCHCARD_SQL_CRASH"
POINTS = ("locked", "flushed", "commit", "committed")


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
            os.kill(os.getpid(), signal.SIGKILL)

    def commit(self, conn) -> None:
        """Commit ``conn``; armed at ``commit`` on PostgreSQL, send COMMIT and die before
        the reply, so the server decides alone whether the transaction happened."""
        if self.point == "commit" and conn.dialect.name == "postgresql" and self.reached("commit"):
            raw = conn.connection.dbapi_connection.pgconn
            raw.send_query(b"COMMIT")
            while raw.flush():
                pass
            os.kill(os.getpid(), signal.SIGKILL)
        conn.commit()
