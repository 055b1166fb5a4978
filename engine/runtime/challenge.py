"""A member's standing in one challenge (engine/policies/challenges.py owns what happens to it).
Treated as immutable, like a lot: a change is a new record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["ChallengeRecord"]


@dataclass(slots=True)
class ChallengeRecord:
    period: int  # the local period the progress belongs to (0: a challenge that does not repeat)
    progress: Decimal = Decimal(0)  # at most the challenge's target
    joined_at: dt.datetime | None = None  # an opt-in challenge: when the member joined it (None: not yet)
    completed_at: dt.datetime | None = None  # when the progress reached the target in this period
    lot: str | None = None  # the lot its bonus was paid into in this period
    paid: Decimal = Decimal(0)  # the bonus points paid in this period
    orders: tuple[tuple[str, Decimal], ...] = ()  # (order, progress it added) in this period: refunds take it back
    wins: int = 0  # periods completed and not taken back since
