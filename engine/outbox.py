"""The transactional outbox: what a decision asks to be said or done after its commit
(a message, a webhook, a derived event), written in the decision's own transaction and
drained by the senders (:mod:`punchcard.engine.messaging.send`, the webhook dispatcher,
the referral settler). Every store that keeps one implements :class:`Outbox`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .runtime.decision import Decision, Outcome, to_jsonable
from .runtime.referral import derived_requests
from .runtime.webhooks import WEBHOOK, webhook_requests

__all__ = ["OUTBOX_STATUSES", "DONE_STATUSES", "OutboxRow", "Outbox", "outbox_rows", "done_before"]

OUTBOX_STATUSES = ("pending", "sent", "failed", "expired")  # expired: past its request's expires_at, never sent
_QUEUED = (Outcome.APPLIED, Outcome.REVIEW)  # a rejected or blocked event tells the member nothing


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One chosen message in a store's outbox, written in its decision's transaction.

    ``request`` is the message effect's detail as JSON-ready data (exact decimal text, ISO
    times); ``lease_until`` ends ``lease_owner``'s claim or a pause; ``composed`` is stored before
    the first delivery, so a retry sends the same text; ``attempts`` counts claims."""

    id: str
    member_id: str
    event_id: str
    ruleset: str
    channel: str
    send_at: dt.datetime
    request: dict[str, Any]
    status: str = "pending"  # one of OUTBOX_STATUSES
    attempts: int = 0  # times a sender claimed it to send it
    lease_until: dt.datetime | None = None
    lease_owner: str | None = None
    composed: dict[str, Any] | None = None
    sent_at: dt.datetime | None = None
    receipt: str | None = None
    last_error: str | None = None
    failed_at: dt.datetime | None = None  # when the last attempt failed (``last_error`` says why)

    def to_json(self) -> dict[str, Any]:
        return dict(to_jsonable({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}))


def outbox_rows(decision: Decision, webhooks: bool = False) -> list[OutboxRow]:
    """An applied or held decision's rows: a ``message`` effect, a derived event, with ``webhooks`` a notable effect."""
    if decision.outcome not in _QUEUED:
        return []
    requests = [to_jsonable(effect.detail) for effect in decision.effects if effect.kind == "message"]
    requests += (webhook_requests(decision) if webhooks else []) + derived_requests(decision)  # webhooks: no channel
    return [OutboxRow(str(r["id"]), decision.member_id, decision.event_id, decision.ruleset, r.get("channel", WEBHOOK),
                      dt.datetime.fromisoformat(r.get("send_at") or r["created"]), r) for r in requests]


@runtime_checkable
class Outbox(Protocol):
    """A store's outbox, as the sender (:mod:`punchcard.engine.messaging.send`) drains it.
    Every change is conditional, so two senders never both hold a row, and a row is marked
    sent once."""

    def outbox_claim(self, now: dt.datetime, limit: int, until: dt.datetime, owner: str,
                     channels: Collection[str]) -> list[OutboxRow]:
        """Claim up to ``limit`` pending rows due by ``now`` on ``channels`` whose lease is
        free or over, leasing them to ``owner`` until ``until``, one attempt more; oldest first."""

    def outbox_compose(self, message_id: str, owner: str, composed: Mapping[str, Any]) -> bool:
        """Store the composed text, if ``owner`` still holds the row's lease."""

    def outbox_sent(self, message_id: str, at: dt.datetime, receipt: str | None) -> bool:
        """Mark the row sent, if it is still pending: true for the one call that did."""

    def outbox_retry(self, message_id: str, owner: str, error: str, retry_at: dt.datetime | None,
                     at: dt.datetime | None = None) -> bool:
        """A failed attempt (at ``at``, kept as ``failed_at``): pending again from ``retry_at``,
        or ``failed`` when it is None; only while ``owner`` holds the lease."""

    def outbox_release(self, message_id: str, owner: str, until: dt.datetime | None) -> bool:
        """Give ``owner``'s claim back untried (no attempt): pending from ``until``, or ``expired`` if None."""

    def outbox_list(self, status: str | None = None, limit: int | None = None) -> list[OutboxRow]:
        """The rows, oldest first (by ``send_at``, then id), optionally of one status."""

    def outbox_due(self, now: dt.datetime) -> dict[str, int]:
        """Pending rows due by ``now``, leased or not, per channel."""

    def outbox_prune(self, before: dt.datetime, statuses: Collection[str] = ("sent",)) -> dict[str, int]:
        """Delete the done rows of ``statuses`` (some of :data:`DONE_STATUSES`) dated before
        ``before``, as :func:`done_before` dates them; a pending row is never deleted. The rows
        deleted, per status."""


DONE_STATUSES = ("sent", "failed", "expired")  # nothing more will happen to such a row


def done_before(row: OutboxRow, before: dt.datetime, statuses: Collection[str] = ("sent",)) -> bool:
    """A row :meth:`Outbox.outbox_prune` deletes: done with one of ``statuses``, and dated before
    ``before``. A sent row is dated when it was sent. A failed or expired row keeps no time of
    its end, so it is dated when it was first due (``send_at``): older than its end."""
    last = row.sent_at if row.status == "sent" and row.sent_at is not None else row.send_at
    return row.status in DONE_STATUSES and row.status in statuses and last < before
