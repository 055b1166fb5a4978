"""A voucher: money a member holds after points were converted (engine/policies/conversion.py
owns what happens to it). Treated as immutable, like a lot: a change is a new record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Voucher", "ISSUED", "REDEEMED", "EXPIRED"]

ISSUED, REDEEMED, EXPIRED = "issued", "redeemed", "expired"


@dataclass(slots=True)
class Voucher:
    id: str  # "<member>/<the local month whose end converted>", the same on every replay
    value: Decimal  # money, exact in the ruleset's currency
    points: Decimal  # the points converted into it
    issued_at: dt.datetime  # the period end it was converted at
    expires_at: dt.datetime | None = None  # None: it never expires
    status: str = ISSUED  # issued | redeemed | expired
    ended_at: dt.datetime | None = None  # when it was redeemed or expired
    redeemed_by: str | None = None  # the event that redeemed it

    def live(self, now: dt.datetime) -> bool:
        """Can be spent at ``now``: issued, and not yet past its expiry."""
        return self.status == ISSUED and (self.expires_at is None or now < self.expires_at)
