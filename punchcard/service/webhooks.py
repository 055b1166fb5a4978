"""Webhooks: signing a notification, verifying one, and the dispatcher that delivers them.

A store whose ``webhooks`` setting is on writes a decision's notable effects (a tier change,
points about to expire, a review hold, a redemption: :mod:`punchcard.engine.runtime.webhooks`)
to its outbox on channel ``webhook``, in the decision's own transaction. :func:`dispatch`
drains those rows after the commit, as the message sender drains messages (and neither
touches the other's rows):

1. it claims one due row at a time with a lease, so two dispatchers never hold one row;
2. it POSTs the row's payload, as compact JSON with sorted keys (the same bytes on every
   try), to each endpoint, signed (:func:`sign`) and carrying the row's id as the delivery
   id (``Punchcard-Delivery``), the same on every retry;
3. when every endpoint answered 2xx it marks the row sent, once; otherwise the endpoints
   that did answer 2xx are remembered on the row (so a retry skips them) and the row is
   tried again after an exponential, bounded pause, and failed after ``max_attempts``.

Delivery is at least once: a dispatcher stopped between a POST and marking the row sent
leaves it pending, and once its lease is over the next run POSTs it again, with the same
delivery id, which the host uses to drop the repeat.

The signature is Stripe's scheme: ``Punchcard-Signature: t=<unix time>,v1=<hex>``, where
``<hex>`` is HMAC-SHA256 of ``"<t>.<body>"`` under the endpoint's secret. Hosts check it
with :func:`verify` (or the recipe in docs/service.md, in any language). Secrets come from
the environment and never reach a log, an error or the outbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets as tokens
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from punchcard.engine.messaging.send import Sending, backoff
from punchcard.engine.runtime.webhooks import WEBHOOK
from punchcard.engine.store import Outbox, OutboxRow, StoreError

__all__ = ["Endpoint", "Dispatching", "DispatchReport", "SignatureError", "sign", "verify", "body_of", "dispatch",
           "dispatch_until", "SIGNATURE_HEADER", "DELIVERY_HEADER", "EVENT_HEADER", "TOLERANCE", "ROUND"]

SIGNATURE_HEADER = "Punchcard-Signature"
DELIVERY_HEADER = "Punchcard-Delivery"  # the outbox row's id: the same on every retry
EVENT_HEADER = "Punchcard-Event"  # the payload's type, for routing without parsing
TOLERANCE = 300  # seconds a signature's timestamp may be off: older ones are replays
ROUND = 100  # rows per round of dispatch_until, so a stop is heard between rounds of a long backlog
_DELIVERED = "delivered_to"  # on the row's ``composed``: endpoints (by digest) that already took it

log = logging.getLogger(__name__)


class SignatureError(ValueError):
    """A webhook whose signature does not verify: a wrong secret, a changed body, or too old."""


def _mac(secret: str, timestamp: int, payload: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Punchcard-Signature`` header of ``payload`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, payload)}"


def verify(payload: bytes | str, header: str, secret: str, tolerance: int = TOLERANCE, *,
           now: float | None = None) -> dict[str, Any]:
    """The webhook's payload, decoded, once its ``Punchcard-Signature`` ``header`` is checked:
    one of its ``v1`` signatures must be the HMAC of the raw body under ``secret``, and its
    timestamp within ``tolerance`` seconds of ``now`` (default: the clock). Raises
    :class:`SignatureError` otherwise. Pass the body exactly as received, before any parsing."""
    body = payload.encode() if isinstance(payload, str) else payload
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value.strip() for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise SignatureError("the signature header is malformed")
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("the signature's timestamp is outside the tolerance")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureError("no signature matches the body")
    decoded: dict[str, Any] = json.loads(body)
    return decoded


def body_of(row: OutboxRow) -> bytes:
    """The bytes POSTed for a row: its payload as compact JSON, keys sorted, the same every try."""
    return json.dumps(row.request, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Endpoint:
    """A host's URL and the secret its webhooks are signed with (never shown)."""

    url: str
    secret: str = field(repr=False)

    @property
    def key(self) -> str:
        """How the row remembers this endpoint took it: a digest, never the URL (it may hold a token)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Dispatching:
    """How a run claims and retries: the lease a claim holds (longer than POSTing to every
    endpoint takes), the claims a row gets, the backoff, and each request's timeout."""

    lease: dt.timedelta = dt.timedelta(minutes=2)
    max_attempts: int = 12
    backoff_base: dt.timedelta = dt.timedelta(seconds=10)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    timeout: float = 10.0


@dataclass
class DispatchReport:
    """What one run did; ``pending``: webhook rows due and still pending after it."""

    delivered: int = 0
    already_sent: int = 0  # delivered, but another dispatcher had marked it sent first
    retrying: int = 0
    failed: int = 0
    lost: int = 0  # the lease ran out mid-delivery: another dispatcher has the row
    errors: Counter[str] = field(default_factory=Counter)  # "HTTP 500", or the exception's type
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.retrying or self.failed)

    @property
    def handled(self) -> int:
        """Rows claimed and dealt with in the run."""
        return self.delivered + self.already_sent + self.retrying + self.failed + self.lost

    def to_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "already_sent": self.already_sent, "retrying": self.retrying,
                "failed": self.failed, "lost_lease": self.lost, "errors": dict(sorted(self.errors.items())),
                "pending": self.pending}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Run:
    outbox: Outbox
    endpoints: Sequence[Endpoint]
    http: httpx.Client
    dispatching: Dispatching
    clock: Callable[[], dt.datetime]
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{tokens.token_hex(8)}")
    report: DispatchReport = field(default_factory=DispatchReport)

    def claim(self) -> OutboxRow | None:
        now = self.clock()
        rows = self.outbox.outbox_claim(now, 1, now + self.dispatching.lease, self.owner, [WEBHOOK])
        return rows[0] if rows else None

    def deliver(self, row: OutboxRow) -> None:
        """POST the row to every endpoint that has not taken it yet; mark it sent, or retry it."""
        if row.attempts > self.dispatching.max_attempts:  # claimed once more than allowed: it never finished
            self._retry(row, set(), "abandoned: claimed and never finished", final=True)
            return
        done = set((row.composed or {}).get(_DELIVERED, []))
        errors = []
        for endpoint in self.endpoints:
            if endpoint.key in done:  # took it on an earlier try
                continue
            error = self._post(row, endpoint)
            if error is None:
                done.add(endpoint.key)
            else:
                errors.append(error)
        if errors:
            self._retry(row, done, errors[0])
        elif self.outbox.outbox_sent(row.id, self.clock(), f"{len(self.endpoints)} endpoint(s)"):
            self.report.delivered += 1
        else:
            self.report.already_sent += 1

    def _post(self, row: OutboxRow, endpoint: Endpoint) -> str | None:
        """POST the row to one endpoint: None when it answered 2xx, else the error as kept."""
        body = body_of(row)
        headers = {"Content-Type": "application/json", "User-Agent": "punchcard-webhooks",
                   SIGNATURE_HEADER: sign(body, endpoint.secret, int(self.clock().timestamp())),
                   DELIVERY_HEADER: row.id, EVENT_HEADER: str(row.request.get("type", ""))}
        try:
            response = self.http.post(endpoint.url, content=body, headers=headers, timeout=self.dispatching.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # its text may quote the URL: only the type is kept
            return type(exc).__name__
        return None if response.is_success else f"HTTP {response.status_code}"

    def _retry(self, row: OutboxRow, done: set[str], error: str, final: bool = False) -> None:
        """Remember who took it, then pending again after a pause, or failed for good."""
        if done and not self.outbox.outbox_compose(row.id, self.owner, {_DELIVERED: sorted(done)}):
            self.report.lost += 1
            return
        final = final or row.attempts >= self.dispatching.max_attempts
        pause = Sending(backoff_base=self.dispatching.backoff_base, backoff_cap=self.dispatching.backoff_cap)
        now = self.clock()
        retry_at = None if final else now + backoff(row.attempts, pause)
        if self.outbox.outbox_retry(row.id, self.owner, error, retry_at, now):
            self.report.errors[error.split(":", maxsplit=1)[0]] += 1
            self.report.failed += final
            self.report.retrying += not final
        log.info("webhook %s not delivered (%s); %s", row.id, error, "failed" if final else "will retry")


def dispatch(store: Outbox, endpoints: Sequence[Endpoint], *, clock: Callable[[], dt.datetime] = _utcnow,
             http: httpx.Client | None = None, limit: int | None = None,
             dispatching: Dispatching = Dispatching()) -> DispatchReport:
    """Deliver the store's due webhook rows (at most ``limit``) to every endpoint, signed;
    ``http`` is the client to POST with (default: one made for this run). A store failure
    raises :class:`~punchcard.engine.store.StoreError`; what was marked sent stays sent."""
    if not endpoints:
        raise ValueError("no webhook endpoint: give at least one URL and its secret")
    client = http if http is not None else httpx.Client(follow_redirects=False)
    try:
        run = _Run(store, endpoints, client, dispatching, clock)
        handled = 0
        while (limit is None or handled < limit) and (row := run.claim()) is not None:
            run.deliver(row)
            handled += 1
        run.report.pending = store.outbox_due(clock()).get(WEBHOOK, 0)
        return run.report
    finally:
        if http is None:
            client.close()


def dispatch_until(stop: threading.Event, store: Outbox, endpoints: Sequence[Endpoint], *, interval: float = 1.0,
                   clock: Callable[[], dt.datetime] = _utcnow, http: httpx.Client | None = None,
                   dispatching: Dispatching = Dispatching(),
                   heard: Callable[[DispatchReport], None] | None = None) -> None:
    """Dispatch in rounds of at most :data:`ROUND` rows until ``stop`` is set (a service's
    background thread, or ``punchcard webhooks dispatch`` without ``--once``), pausing
    ``interval`` seconds after a round that emptied the queue. A store failure is logged and
    tried again after the pause: the rows stay as they were."""
    while not stop.is_set():
        try:
            report = dispatch(store, endpoints, clock=clock, http=http, limit=ROUND, dispatching=dispatching)
        except StoreError as exc:
            log.warning("webhooks: the store failed (%s); trying again", exc)
        else:
            if heard is not None:
                heard(report)
            if report.handled >= ROUND:  # more may be due at once
                continue
        stop.wait(interval)
