"""The ``messages:`` section of a ruleset: which decisions tell the member something, on
which channel, stating which facts, how often at most, and never in quiet hours
(docs/messages.md).

The pydantic models live here, as the offers' do in :mod:`.offers`; :mod:`.message_checks`
checks what the models alone cannot see.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .duration import Duration, DurationField
from .fields import Expr, Id
from .fields import Strict as _Strict

__all__ = ["CHANNELS", "TRIGGERS", "COMMON_FACTS", "MEMBER_FACTS", "LENGTH_LIMITS", "Channel", "Trigger", "Cap",
           "Caps", "QuietHours", "Restrict", "Send", "Messages", "placeholders", "max_length"]

CHANNELS = ("sms", "push", "email")
Channel = Literal["sms", "push", "email"]
# What each trigger lets a message state, beyond the facts every message may state.
TRIGGERS: dict[str, tuple[str, ...]] = {
    "tier_change": ("tier_from", "tier_to", "direction"),
    "expiry_notice": ("expiring_points", "expires_on"),
    "offer_selected": ("offer", "offer_type", "offer_category", "offer_value", "offer_min_purchase",
                       "offer_valid_until"),
    "offer_presented": ("offer", "offer_type", "offer_category", "offer_value", "offer_min_purchase",
                        "offer_valid_until"),
    "streak_at_risk": ("streak", "streak_length", "streak_ends"),
    "redemption": ("redeemed_points",),
    "earned": ("earned_points",),
    "badge": ("badge",),
}
Trigger = Literal["tier_change", "expiry_notice", "offer_selected", "offer_presented", "streak_at_risk",
                  "redemption", "earned", "badge"]
COMMON_FACTS = ("first_name", "tier", "balance", "date")
# Facts read from the member's declared fields: the schema must declare them to state them.
MEMBER_FACTS = {"first_name": "first_name"}
LENGTH_LIMITS = {"sms": 160, "push": 178, "email": 2000}  # defaults; a ruleset may lower or raise them
_MAX_LENGTH = {"sms": 1600, "push": 1000, "email": 20000}  # past these no channel would carry it
_LOCALE = r"^[a-z]{2}(-[A-Z]{2})?$"
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Cap(_Strict):
    """At most this many messages to a member a local day, and a week (Monday first)."""

    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)


class Caps(Cap):
    """Caps over every channel, and per channel."""

    channels: dict[Channel, Cap] = Field(default_factory=dict)


class QuietHours(_Strict):
    """Local hours no message is sent in: one chosen then waits for ``to`` (``then: defer``)
    or is not sent at all (``then: drop``)."""

    from_: dt.time = Field(alias="from")
    to: dt.time
    then: Literal["defer", "drop"] = "defer"

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, str) and not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day; write it as HH:MM, e.g. '21:00'")
        if isinstance(value, int):  # YAML reads 21:00 unquoted as a number of minutes (sexagesimal)
            return dt.time(value // 60 % 24, value % 60)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.from_ == self.to:
            raise ValueError("quiet hours from and to are the same time: leave quiet_hours out for none")
        return self


class Send(_Strict):
    """One kind of message: the trigger it answers, its channel, what it may state, its templates."""

    id: Id
    on: Trigger
    channel: Channel
    facts: list[Annotated[str, Field(pattern=r"^[a-z_]+$")]] = Field(default_factory=list)
    template: dict[Annotated[str, Field(pattern=_LOCALE)], Annotated[str, Field(min_length=1, max_length=20000)]] = \
        Field(min_length=1)
    when: Expr | None = None  # read about the member, e.g. member.marketing_opt_in
    tone: str | None = Field(default=None, max_length=500)
    length: int | None = Field(default=None, ge=10)
    before: DurationField | None = None  # streak_at_risk: this long before the streak would break
    cooldown: DurationField | None = None  # at most one of this message to a member in this long

    @model_validator(mode="after")
    def _before_only_for_streaks(self) -> Send:
        if self.before is not None and self.on != "streak_at_risk":
            raise ValueError("before: is for streak_at_risk messages only")
        if self.before is not None and (self.before.timedelta() is None or self.before.amount == 0):
            raise ValueError("before: is a fixed length more than 0, in minutes, hours, days or weeks")
        return self


class Restrict(_Strict):
    """Words no message to some members may use, e.g. no alcohol to minors: ``when`` is asked
    about the member, and one that cannot tell restricts too (compliance is never guessed)."""

    id: Id
    when: Expr
    words: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1)


class Messages(_Strict):
    """The ruleset's messages: who writes them, the program's voice, caps and the message kinds."""

    writer: Literal["template", "llm"] = "template"
    default_locale: Annotated[str, Field(pattern=_LOCALE)] = "en"
    tone: str = Field(default="", max_length=500)
    banned: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    categories: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    length: dict[Channel, int] = Field(default_factory=dict)
    caps: Caps = Caps()
    quiet_hours: QuietHours | None = None
    restrict: list[Restrict] = Field(default_factory=list)
    stale_after: DurationField = Duration(amount=2, unit="day")  # never sent later than this after its send_at
    send: list[Send] = Field(min_length=1)

    def limit(self, send: Send) -> int:
        """The length limit of ``send``: its own, else the channel's."""
        return send.length or self.length.get(send.channel) or LENGTH_LIMITS[send.channel]


def placeholders(template: str) -> list[str]:
    """The fact names a template fills in, in order. Only plain ``{name}``: a format spec, a
    conversion or attribute access is refused (ValueError), so a template can only state facts."""
    names = []
    for _text, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is "
                             "not a fact placeholder; write {name} with a fact's name")
        names.append(name)
    return names


def max_length(channel: str) -> int:
    """The longest text ``channel`` carries at all (an SMS of ten parts, a push, an email)."""
    return _MAX_LENGTH[channel]
