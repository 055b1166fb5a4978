"""The unit of work of a preview (``Engine.dry``): it reads what a real event's unit would,
and can store nothing.

A checkout asks what a basket would earn while other events are being written, and it
should neither wait for them nor hold them up. So a preview takes no lock and claims
nothing: it reads the member, the event id's earlier outcome and the budgets in one
read-only transaction, which sees one snapshot of committed rows (SQLite's deferred
``BEGIN`` in WAL mode, PostgreSQL's ``REPEATABLE READ``). It answers as a real event
would have at that moment; the real event, which locks, may still find another state. In
particular an id another unit has claimed but not yet committed is not seen: the preview
answers as for a new event, where the real one would wait and answer as its duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from punchcard.engine.runtime.state import MemberState
from punchcard.engine.store import BaseUnit, ProcessedEvent

from .errors import release, translated
from .repository import processed_events, read_member

__all__ = ["SqlPreview"]

class SqlPreview(BaseUnit):
    """A unit that reads and never writes; its states are the store's (the engine copies them)."""

    def __init__(self, store: Any, member_id: str):
        self.store, self.member_id = store, member_id
        self._conn: Connection | None = None

    @translated("reading a member for a preview")
    def __enter__(self) -> SqlPreview:
        conn = self.store.read()
        try:
            if self.store.dialect.postgres:  # one snapshot for every read of the unit
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            conn.begin()
        except BaseException:
            release(conn)
            raise
        self._conn = conn
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        release(conn)  # rolled back: there is nothing to keep

    @property
    def shown_url(self) -> str:
        return str(self.store.shown_url)

    @property
    def _open(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("a SQL preview is used inside its with block")
        return self._conn

    @translated("reading an event's idempotency record")
    def processed(self, event_id: str) -> ProcessedEvent | None:
        return processed_events(self._open, [event_id]).get(event_id)

    @translated("reading a member")
    def load_member(self, member_id: str) -> MemberState | None:
        return read_member(self._open, member_id, self.store.cache)

    @translated("reading budgets")
    def budgets_used(self, rules: Iterable[str]) -> dict[str, Decimal]:
        return self.store.dialect.budgets(self._open, rules, lock=False)

    def save(self, *args: object) -> None:
        raise RuntimeError("a preview stores nothing")

    def commit(self) -> None:
        raise RuntimeError("a preview stores nothing")
