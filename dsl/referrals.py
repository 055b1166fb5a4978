"""The ``referrals:`` section of a ruleset: a member refers a friend, and the friend's first
qualifying purchase rewards both (docs/referrals.md).

A member's referral code is derived from their member id (the engine's
``punchcard.engine.runtime.referral.referral_code``), so no member is ever read to find
whose a code is. The friend signs up with the built-in ``referred`` event; the referrer's
side is paid by the built-in ``referral_bonus`` event the friend's decision queues for the
referrer (an outbox row drained after the commit), decided under the referrer's own lock,
where the caps are counted. The models live here rather than in :mod:`.model`, which imports
them; :mod:`.referral_checks` checks what the models alone cannot see.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from .duration import DurationField
from .fields import EventTypes, Expr
from .fields import Strict as _Strict

__all__ = ["REFERRAL_EVENTS", "ReferralCap", "Referrals"]

# The built-in events of a ruleset with ``referrals:``: a friend signs up with a code; the
# referrer is paid for a friend's qualifying event (the engine queues this one itself).
REFERRAL_EVENTS: dict[str, dict[str, str]] = {
    "referred": {"code": "string"},
    "referral_bonus": {"friend": "string", "code": "string", "order": "string", "marks": "optional string"},
}
_MAX_POINTS = Decimal(10) ** 9
_MAX_TIMES = 1_000_000


class ReferralCap(_Strict):
    """At most ``times`` friends pay the referrer in one local calendar ``period``."""

    period: Literal["day", "week", "month", "year"] = "year"
    times: Annotated[int, Field(ge=1, le=_MAX_TIMES, strict=True)]


class Referrals(_Strict):
    """Both sides of a referral: what qualifies, what each side gets, and the fraud checks."""

    on: EventTypes  # the friend's event types that can qualify
    when: Expr | None = None  # the friend's qualifying event; unset: any event of ``on``
    friend: Decimal = Field(ge=0, le=_MAX_POINTS)  # points to the friend, once
    referrer: Decimal = Field(ge=0, le=_MAX_POINTS)  # points to the referrer, per friend
    within: DurationField | None = None  # the friend qualifies this long after signing up, at most
    cap: ReferralCap | None = None  # friends paid per referrer per period
    lifetime: Annotated[int, Field(ge=1, le=_MAX_TIMES, strict=True)] | None = None  # friends paid per referrer
    # member fields (a device id, a payment card fingerprint) a friend must not share with the referrer
    distinct: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=list,
                                                                                 max_length=8)
    description: str | None = Field(default=None, max_length=500)
