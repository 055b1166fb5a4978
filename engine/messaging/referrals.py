"""Settling referrals: the derived events friends' decisions queued in the outbox, each
processed through the engine after the commit that queued it (docs/referrals.md).

A friend's qualifying decision writes one outbox row on channel
:data:`~punchcard.engine.runtime.referral.DERIVED` in its own transaction: the referrer's
``referral_bonus`` event, with the id ``referral:<the friend's event id>``. :func:`settle`
claims due rows with a lease (so two drains running at once take different rows), processes
each event with :meth:`Engine.process <punchcard.engine.engine.Engine.process>` (one unit of
work, the referrer's lock only), then marks the row sent with the decision's outcome.

Exactly once comes from the event id, not the lease: a drain killed between processing an
event and marking its row, or two drains that both process one row after a lease ran out,
meet the stored decision the second time (``duplicate``) and pay nothing again. A store
failure leaves the row pending, tried again after a pause.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime.decision import Decision, Outcome
from ..runtime.referral import DERIVED
from ..store import Outbox, OutboxRow, Processor, StoreError

__all__ = ["SettleReport", "settle", "LEASE", "MAX_ATTEMPTS"]

LEASE = dt.timedelta(minutes=5)  # a drain that dies holding a row gives it up after this
MAX_ATTEMPTS = 8  # claims of one row that never finished: failed for good, kept for the operator
_PAUSE = dt.timedelta(seconds=30)  # after a store failure, doubling per attempt


@dataclass
class SettleReport:
    """What one drain did: rows settled, by the outcome of their derived event."""

    settled: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    retrying: int = 0
    failed: int = 0
    decisions: list[Decision] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.retrying or self.failed)

    def to_json(self) -> dict[str, Any]:
        return {"settled": self.settled, "outcomes": dict(sorted(self.outcomes.items())),
                "retrying": self.retrying, "failed": self.failed}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def settle(outbox: Outbox, engine: Processor, *, limit: int | None = None,
           clock: Callable[[], dt.datetime] = _utcnow, owner: str | None = None) -> SettleReport:
    """Process the outbox's due derived events (at most ``limit``), each once by its id.
    A store failure while processing one leaves it pending (``retrying``) and stops the run."""
    owner = owner or f"{os.getpid()}-{secrets.token_hex(8)}"
    report = SettleReport()
    while limit is None or report.settled + report.retrying + report.failed < limit:
        now = clock()
        rows = outbox.outbox_claim(now, 1, now + LEASE, owner, [DERIVED])
        if not rows:
            break
        if not _settle_one(outbox, engine, rows[0], owner, now, report):
            break
    return report


def _settle_one(outbox: Outbox, engine: Processor, row: OutboxRow, owner: str, now: dt.datetime,
                report: SettleReport) -> bool:
    """Process one row's event and mark it; False when the store failed (the run stops)."""
    if row.attempts > MAX_ATTEMPTS:
        outbox.outbox_retry(row.id, owner, "abandoned: claimed too many times without finishing", None)
        report.failed += 1
        return True
    try:
        decision = engine.process(row.request["event"])
    except StoreError as exc:  # the event was not stored: the row waits for the next drain
        pause = _PAUSE * 2 ** min(row.attempts - 1, 7)
        outbox.outbox_retry(row.id, owner, f"StoreError: {str(exc).splitlines()[0][:200]}", now + pause)
        report.retrying += 1
        return False
    outbox.outbox_sent(row.id, now, str(decision.outcome))
    report.settled += 1
    report.outcomes[str(decision.outcome)] += 1
    if decision.outcome != Outcome.DUPLICATE:
        report.decisions.append(decision)
    return True
