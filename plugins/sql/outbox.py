"""The outbox's queries: claiming due messages, storing their text, marking them sent.

Rows are written by the decisions' own transactions (writes.py); the sender changes
them here, each change a short transaction of its own and each conditional, so that
two senders never hold one row at once and a row is marked sent exactly once:

- a claim leases due rows (pending, ``send_at`` passed, lease free or over) to one
  sender. PostgreSQL picks them with ``FOR UPDATE SKIP LOCKED``, so concurrent senders
  take different rows without waiting; SQLite's write lock (``BEGIN IMMEDIATE``) already
  serialises claims. Either way the lease is set by an ``UPDATE`` that checks the row is
  still free, and only the rows it changed are handed out;
- a claim counts an attempt (``attempts``), so a row that stops its sender every time
  runs out of attempts and is failed rather than claimed first for ever;
- storing the composed text, recording a failed attempt and giving a claim back untried
  (quiet hours, or ``expired``) hold only while the sender's lease does (``lease_owner``);
- marking sent changes a row only while it is pending: the first sender to deliver
  it marks it, and ``sent_at`` is set once;
- pruning deletes only rows that are done, so it never races a sender.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from punchcard.engine.outbox import DONE_STATUSES, OutboxRow
from punchcard.engine.runtime.decision import to_jsonable

from .errors import failures
from .errors import release as release_connection
from .models import OutboxMessage

__all__ = ["Ledger", "PRUNE_BATCH", "claim", "compose", "sent", "retry", "release", "rows", "due", "prune"]

_O = OutboxMessage.__table__
_FIELDS = [c.name for c in _O.columns]


class Ledger(Protocol):
    """What these queries use of a :class:`~punchcard.plugins.sql.store.SqlStore`."""

    shown_url: str
    dialect: Any

    def begin(self) -> Connection: ...

    def read(self) -> Connection: ...


def _row(record: Any) -> OutboxRow:
    return OutboxRow(**{name: getattr(record, name) for name in _FIELDS})


def _write(store: Ledger, doing: str, work: Callable[[Connection], Any]) -> Any:
    """``work(conn)`` in one write transaction, committed; a failure is a StoreError."""
    with failures(doing, store.shown_url):
        conn = store.begin()
        try:
            result = work(conn)
            conn.commit()
            return result
        finally:
            release_connection(conn)


def claim(store: Ledger, now: dt.datetime, limit: int, until: dt.datetime, owner: str,
          channels: Collection[str]) -> list[OutboxRow]:
    free = or_(_O.c.lease_until.is_(None), _O.c.lease_until <= now)
    wanted = (_O.c.status == "pending", _O.c.send_at <= now, free, _O.c.channel.in_(sorted(channels)))

    def work(conn: Connection) -> list[OutboxRow]:
        pick = select(_O.c.id).where(*wanted).order_by(_O.c.send_at, _O.c.id).limit(limit)
        if store.dialect.postgres:
            pick = pick.with_for_update(skip_locked=True)
        ids = [row.id for row in conn.execute(pick)]
        if not ids:
            return []
        conn.execute(update(_O).where(_O.c.id.in_(ids), *wanted).values(lease_until=until, lease_owner=owner,
                                                                         attempts=_O.c.attempts + 1))
        held = select(_O).where(_O.c.id.in_(ids), _O.c.lease_owner == owner, _O.c.lease_until == until)
        return [_row(record) for record in conn.execute(held.order_by(_O.c.send_at, _O.c.id))]

    return _write(store, "claiming messages from the outbox", work) if channels else []


def _change(store: Ledger, doing: str, message_id: str, owner: str | None, **values: Any) -> bool:
    where = [_O.c.id == message_id, _O.c.status == "pending"]
    if owner is not None:
        where.append(_O.c.lease_owner == owner)
    return bool(_write(store, doing, lambda conn: conn.execute(update(_O).where(*where).values(**values)).rowcount))


def compose(store: Ledger, message_id: str, owner: str, composed: Mapping[str, Any]) -> bool:
    return _change(store, "storing a composed message", message_id, owner, composed=to_jsonable(dict(composed)))


def sent(store: Ledger, message_id: str, at: dt.datetime, receipt: str | None) -> bool:
    return _change(store, "marking a message sent", message_id, None, status="sent", sent_at=at, receipt=receipt,
                   lease_until=None, lease_owner=None)


def retry(store: Ledger, message_id: str, owner: str, error: str, retry_at: dt.datetime | None,
          at: dt.datetime | None = None) -> bool:
    return _change(store, "recording a failed delivery", message_id, owner,
                   status="pending" if retry_at is not None else "failed", last_error=error, failed_at=at,
                   lease_until=retry_at, lease_owner=None)


def release(store: Ledger, message_id: str, owner: str, until: dt.datetime | None) -> bool:
    return _change(store, "giving a message back", message_id, owner, status="pending" if until is not None
                   else "expired", attempts=_O.c.attempts - 1, lease_until=until, lease_owner=None)


def rows(store: Ledger, status: str | None = None, limit: int | None = None) -> list[OutboxRow]:
    query = select(_O).order_by(_O.c.send_at, _O.c.id).limit(limit)
    if status is not None:
        query = query.where(_O.c.status == status)
    with failures("reading the outbox", store.shown_url), store.read() as conn, conn.begin():
        return [_row(record) for record in conn.execute(query)]


def due(store: Ledger, now: dt.datetime) -> dict[str, int]:
    query = (select(_O.c.channel, func.count()).where(_O.c.status == "pending", _O.c.send_at <= now)
             .group_by(_O.c.channel))
    with failures("reading the outbox", store.shown_url), store.read() as conn, conn.begin():
        return {channel: count for channel, count in conn.execute(query)}


PRUNE_BATCH = 5_000  # rows deleted per transaction: a large first prune never holds one long one


def prune(store: Ledger, before: dt.datetime, statuses: Collection[str] = ("sent",),
          batch: int = PRUNE_BATCH) -> dict[str, int]:
    """Delete the done rows of ``statuses`` dated before ``before``, as
    :func:`~punchcard.engine.outbox.done_before` dates them: ``batch`` rows a transaction,
    each committed, so senders and decisions never wait long behind a large prune. Done
    rows never change again, so the batches need no lock between them."""
    last = case((_O.c.sent_at.is_not(None) & (_O.c.status == "sent"), _O.c.sent_at), else_=_O.c.send_at)
    wanted = sorted(set(statuses) & set(DONE_STATUSES))
    some = select(_O.c.id).where(_O.c.status.in_(wanted), last < before).order_by(_O.c.id).limit(batch)
    query = delete(_O).where(_O.c.id.in_(some.scalar_subquery())).returning(_O.c.status)
    deleted: Counter[str] = Counter()
    while wanted:
        done = _write(store, "pruning the outbox", lambda conn: [row.status for row in conn.execute(query)])
        deleted.update(done)
        if len(done) < batch:
            break
    return dict(deleted)
