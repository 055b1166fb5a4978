"""Draining a store's outbox: compose each due message, deliver it, mark it sent, once.

Decisions write the messages they chose to the outbox in their own transaction; this
sender works after the commit, so composing and delivery never delay or fail a decision.
For each run it:

1. claims one due row (pending, ``send_at`` passed, not leased by another sender) at a
   time with a lease, so two senders never work on one row at once. One at a time, so
   the lease covers only this row's composing and delivery (a slow model, 15 s x 3 tries,
   never eats into the lease of rows claimed with it), and each claim counts an attempt of
   that row alone: a row that hangs or kills its sender every time is failed after
   ``max_attempts`` claims instead of being claimed first (oldest first) for ever, and no
   row claimed beside it pays for it;
2. gives back untried a row whose request has expired (``expires_at`` passed: the offer
   ended, the streak broke, the message went stale), marking it ``expired``, and one
   reached inside its request's quiet hours (local to ``send_at``), left pending until
   they end: neither is composed nor counted as an attempt;
3. composes each through :func:`punchcard.engine.messaging.compose.compose` (a messenger
   plugin under the guardrails, else the fallback template) and stores the result on the
   row *before* delivering it, so a retry after a crash delivers the same text and pays
   for no second model call;
4. hands the text to the channel's delivery plugin with the message's id, and marks the
   row sent with a conditional update: the first sender to deliver it marks it, once.

Delivery is at least once: a sender killed after a delivery and before marking the row
leaves it pending, and after its lease the next run delivers it again with the same id,
which the channel drops (see the ``punchcard_deliveries`` hook). A sender killed at any
other point leaves every row pending (claimable again once its lease is over) or sent.

A delivery that raises is tried again later, after an exponential, bounded pause; after
``max_attempts`` claims the row is ``failed``. The expiry is checked again just before
delivery, so a slow model never makes a message late. A message that cannot be composed (its
template cannot be filled from its facts: the same on every try) is failed at once.
The error is kept as the exception's type and first line, with the text and the facts
masked. Messages on a channel no delivery plugin serves are left pending, and the report
says so. Webhook rows (channel ``webhook``, see :mod:`punchcard.engine.runtime.webhooks`) share the
outbox but are the webhook dispatcher's: never claimed here, nor counted in the report.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from punchcard.engine.runtime.calendar import window_end
from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.message import Composed, MessageRequest
from punchcard.engine.runtime.referral import DERIVED
from punchcard.engine.runtime.webhooks import WEBHOOK
from punchcard.engine.store import Outbox, OutboxRow, StoreError

from .compose import compose

__all__ = ["Sending", "SendReport", "Composer", "Abandoned", "drain", "backoff", "quiet_until", "error_text",
           "MAX_ATTEMPTS"]

MAX_ATTEMPTS = 8  # claims (tries) before a message is failed for good
ERROR_CHARS = 200  # of an error's first line kept on the row
SHORTEST_SECRET = 3  # masking shorter facts ("5", "en") would mask unrelated words

Composer = Callable[..., Composed]  # compose(request, messengers, *, messenger=None) -> Composed


@dataclass(frozen=True)
class Sending:
    """How a run composes, claims and retries: the messenger to ask (None: as the request's
    writer says), how long a claim holds (longer than composing, with a model's retries,
    and delivering one message take), the claims a message gets, and the backoff."""

    messenger: str | None = None
    lease: dt.timedelta = dt.timedelta(minutes=5)
    max_attempts: int = MAX_ATTEMPTS
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)


def backoff(attempts: int, sending: Sending) -> dt.timedelta:
    """The pause after the ``attempts``-th failed delivery: doubling from the base, capped."""
    pause: dt.timedelta = sending.backoff_base * (2 ** min(max(attempts - 1, 0), 30))
    return min(pause, sending.backoff_cap)


@dataclass
class SendReport:
    """What one run did. ``pending``: due messages still pending after it, per channel;
    ``undeliverable``: the channels among them that no delivery plugin serves."""

    composed: int = 0
    sent: int = 0
    already_sent: int = 0  # delivered, but another sender had marked it sent first
    retrying: int = 0  # a delivery failed; tried again after a pause
    failed: int = 0  # failed for good in this run
    expired: int = 0  # past its request's expires_at: never to be sent
    deferred: int = 0  # inside its quiet hours: pending until they end
    lost: int = 0  # the lease ran out before the text was stored: another sender has it
    by_source: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # by exception type
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    pending: dict[str, int] = field(default_factory=dict)
    undeliverable: list[str] = field(default_factory=list)

    @property
    def left_pending(self) -> int:
        return sum(self.pending.values())

    @property
    def ok(self) -> bool:
        """Nothing failed in this run, and no due message waits for a channel nobody delivers."""
        return not (self.retrying or self.failed or self.undeliverable)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable({
            "composed": self.composed, "sent": self.sent, "already_sent": self.already_sent,
            "retrying": self.retrying, "failed": self.failed, "expired": self.expired, "deferred": self.deferred,
            "lost_lease": self.lost,
            "by_source": dict(sorted(self.by_source.items())), "by_reason": dict(sorted(self.by_reason.items())),
            "errors": dict(sorted(self.errors.items())), "cached": self.cached, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "cost": self.cost, "left_pending": self.left_pending,
            "pending": dict(sorted(self.pending.items())), "undeliverable": self.undeliverable})
        return out


def error_text(exc: BaseException, secrets_: Any = ()) -> str:
    """An error as kept on the row: its type and first line, short, with every text in
    ``secrets_`` (the message's text, its facts) masked."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    for secret in sorted({str(s) for s in secrets_ if len(str(s)) >= SHORTEST_SECRET}, key=len, reverse=True):
        first = first.replace(secret, "…")
    return f"{type(exc).__name__}: {first}"[:ERROR_CHARS] if first else type(exc).__name__


class Abandoned(RuntimeError):
    """A row claimed ``max_attempts`` times that no sender ever finished (it hung, or killed
    the sender): failed for good rather than claimed first on every run."""


def quiet_until(request: MessageRequest, now: dt.datetime) -> dt.datetime | None:
    """The end of the request's quiet hours when ``now`` is inside them, read in the ruleset's
    timezone (``quiet_zone``, so a message deferred across a change to or from summer time
    keeps the hours as the members' clocks show them; a row stored without it reads them at
    its ``send_at``'s UTC offset); None outside them (or with none)."""
    if not request.quiet:
        return None
    start, end = (dt.time.fromisoformat(hour) for hour in request.quiet)
    return window_end(now.astimezone(_quiet_zone(request)), start, end)


def _quiet_zone(request: MessageRequest) -> dt.tzinfo:
    """The zone the request's quiet hours are kept in (a key this machine does not know: the
    UTC offset of its ``send_at``, as before the zone was kept)."""
    if request.quiet_zone:
        try:
            return ZoneInfo(request.quiet_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return request.send_at.tzinfo or dt.UTC


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Run:
    outbox: Outbox
    deliveries: Mapping[str, Any]
    messengers: Mapping[str, Any]
    composer: Composer
    sending: Sending
    clock: Callable[[], dt.datetime]
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(8)}")
    report: SendReport = field(default_factory=SendReport)

    def claim(self) -> OutboxRow | None:
        now = self.clock()
        channels = sorted(channel for channel in self.deliveries if channel not in (WEBHOOK, DERIVED))  # not messages
        rows = self.outbox.outbox_claim(now, 1, now + self.sending.lease, self.owner, channels)
        return rows[0] if rows else None

    def send(self, row: OutboxRow) -> None:
        """Compose (unless a run before did), deliver, mark sent; a failure is retried later."""
        composed = row.composed
        try:
            request = MessageRequest.from_detail(row.member_id, row.event_id, row.ruleset, row.request)
            if not self._sendable(row, request):
                return
            if composed is None:
                composed = self._compose(row, request)
                if composed is None:
                    return
        except StoreError:
            raise  # the outbox itself failed: the run stops, and the row stays as it was
        except Exception as exc:  # a template that cannot be filled, a malformed row: the same next time
            self._failed(row, exc, None, final=True)
            return
        if self._expired(row, request):  # composing took long: still never late
            return
        try:
            receipt = self.deliveries[row.channel].deliver(self._message(row, request, composed))
        except Exception as exc:  # the channel's failure: tried again later
            self._failed(row, exc, composed)
            return
        if self.outbox.outbox_sent(row.id, self.clock(), None if receipt is None else str(receipt)):
            self.report.sent += 1
        else:
            self.report.already_sent += 1

    def _sendable(self, row: OutboxRow, request: MessageRequest) -> bool:
        """False when the row was given back (expired, or in quiet hours) or failed (abandoned)."""
        if self._expired(row, request):
            return False
        wait = quiet_until(request, self.clock())
        if wait is not None:
            self.report.deferred += self.outbox.outbox_release(row.id, self.owner, wait)
            return False
        if row.attempts > self.sending.max_attempts:  # this claim is one more than allowed
            self._failed(row, Abandoned(f"claimed {row.attempts - 1} times, never finished"), None, final=True)
            return False
        return True

    def _expired(self, row: OutboxRow, request: MessageRequest) -> bool:
        expires = request.expires_at
        if expires is None or self.clock() <= (expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)):
            return False
        self.report.expired += self.outbox.outbox_release(row.id, self.owner, None)
        return True

    def _compose(self, row: OutboxRow, request: MessageRequest) -> dict[str, Any] | None:
        """The composed message, stored on the row; None when the lease was lost meanwhile."""
        composed = self.composer(request, self.messengers, messenger=self.sending.messenger)
        stored = composed.to_json()
        if not self.outbox.outbox_compose(row.id, self.owner, stored):
            self.report.lost += 1
            return None
        self._count(composed)
        return stored

    def _count(self, composed: Composed) -> None:
        report = self.report
        report.composed += 1
        report.by_source[composed.source] += 1
        if composed.reason:
            report.by_reason[composed.reason] += 1
        draft = composed.draft
        if draft is not None and draft.cached:
            report.cached += 1
        elif draft is not None:  # paid for now: a cached draft cost nothing this time
            report.input_tokens += draft.input_tokens
            report.output_tokens += draft.output_tokens
            report.cost += draft.cost

    @staticmethod
    def _message(row: OutboxRow, request: MessageRequest, composed: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": row.id, "member_id": row.member_id, "channel": row.channel, "locale": request.locale,
                "text": str(composed["text"])}

    def _failed(self, row: OutboxRow, exc: Exception, composed: Mapping[str, Any] | None,
                final: bool = False) -> None:
        """Record a failure: tried again after a pause, or failed for good (``final``, or
        after the last attempt)."""
        attempts = row.attempts  # this claim counted
        final = final or attempts >= self.sending.max_attempts
        now = self.clock()
        retry_at = None if final else now + backoff(attempts, self.sending)
        secret = [composed.get("text", "")] if composed else []
        facts = row.request.get("facts") or {}
        secret += [*facts.values(), *(row.request.get("quoted") or {}).values()] if isinstance(facts, Mapping) else []
        if self.outbox.outbox_retry(row.id, self.owner, error_text(exc, secret), retry_at, now):
            self.report.errors[type(exc).__name__] += 1
            if retry_at is None:
                self.report.failed += 1
            else:
                self.report.retrying += 1


def drain(outbox: Outbox, deliveries: Mapping[str, Any], messengers: Mapping[str, Any], *,
          limit: int | None = None, composer: Composer = compose, sending: Sending = Sending(),
          clock: Callable[[], dt.datetime] = _utcnow,
          progress: Callable[[SendReport], None] | None = None) -> SendReport:
    """Send the outbox's due messages (at most ``limit``) through ``deliveries`` (channel ->
    :class:`~punchcard.plugins.protocols.Delivery`), composing them with ``messengers`` (name
    -> Messenger; ``sending.messenger`` picks one). ``progress`` hears the report after each
    message.
    A store failure raises :class:`~punchcard.engine.store.StoreError`; what was marked sent
    stays sent, and the rest is pending for the next run."""
    run = _Run(outbox, deliveries, messengers, composer, sending, clock)
    handled = 0
    while (limit is None or handled < limit) and (row := run.claim()) is not None:
        run.send(row)
        handled += 1
        if progress is not None:
            progress(run.report)
    now = clock()
    run.report.pending = {channel: n for channel, n in outbox.outbox_due(now).items()
                          if channel not in (WEBHOOK, DERIVED)}
    run.report.undeliverable = sorted(channel for channel in run.report.pending if channel not in deliveries)
    return run.report
