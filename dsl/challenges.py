"""The ``challenges:`` section of a ruleset: time-boxed goals with progress, such as "buy coffee
5 times in March" or a weekly quest (docs/challenges.md).

A challenge counts the events named in ``on`` for which ``when`` holds: each adds ``progress``
(1 unless stated, so the challenge counts events) until the progress reaches ``target``, which
completes it and pays its ``reward`` once. Only events on local days from ``from`` to
``until`` (both included) count; a challenge with a ``period`` starts again each local day,
week or month, and pays at most once in each. An ``opt_in`` challenge counts only after the
member joins it with the built-in ``challenge_join`` event. The models live here rather than in
:mod:`.model`, which imports them; :mod:`.challenge_checks` checks what the models alone cannot see.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from .fields import EventTypes, Expr, Id
from .fields import Strict as _Strict

__all__ = ["CHALLENGE_EVENTS", "MAX_TARGET", "Challenge", "ChallengeReward", "join_events"]

# The built-in event a host sends when a member joins an opt-in challenge (only in rulesets with challenges:).
CHALLENGE_EVENTS: dict[str, dict[str, str]] = {"challenge_join": {"challenge": "string"}}
MAX_TARGET = Decimal(10) ** 12  # a target past this is a typo, not a goal


class ChallengeReward(_Strict):
    """What completing the challenge pays, once per period: bonus points, a badge, or both."""

    bonus: Expr | None = None  # points, asked of the event that completes the challenge
    badge: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)

    @model_validator(mode="after")
    def _something(self) -> ChallengeReward:
        if self.bonus is None and self.badge is None:
            raise ValueError("a challenge's reward gives bonus:, badge:, or both")
        return self


class Challenge(_Strict):
    """A goal over the events in ``on``: progress up to ``target`` within the dates and period."""

    id: Id
    on: EventTypes = Field(min_length=1)
    when: Expr | None = None  # which of those events count; none: all of them
    progress: Expr | None = None  # what one counted event adds; none: 1 (the challenge counts events)
    target: Decimal = Field(gt=0, le=MAX_TARGET)
    from_: dt.date | None = Field(default=None, alias="from")  # the first local day that counts
    until: dt.date | None = None  # the last local day that counts (included)
    period: Literal["day", "week", "month"] | None = None  # starts again each local period (a quest)
    opt_in: bool = False  # counts only after a challenge_join event for it
    reward: ChallengeReward
    description: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _time_boxed(self) -> Challenge:
        if self.until is None and self.period is None:
            raise ValueError("a challenge is time-boxed: give it until: (its last day), period: (day, week or "
                             "month, to start again each period), or both")
        if self.from_ is not None and self.until is not None and self.until < self.from_:
            raise ValueError("until: is the challenge's last day: it cannot be before from:")
        return self


def join_events(challenges: list[Challenge]) -> dict[str, dict[str, str]]:
    """The built-in event types a ruleset with these challenges accepts: challenge_join, with any."""
    return CHALLENGE_EVENTS if challenges else {}
