"""A message the engine chose, as plain data: what the outbox keeps and a messenger composes.

The messages policy (:mod:`punchcard.engine.policies.messages`) chooses a message when a
decision or housekeeping gives a reason to tell the member something, and records it on the
decision as an effect of kind ``message`` whose detail is :meth:`MessageRequest.to_detail`.
The store writes the same detail to its outbox in the decision's transaction; composing
(a messenger plugin, then the guardrails, else the fallback template) and delivery happen
after the commit, from the outbox, and never touch the decision.

A request carries everything composing needs, so the outbox can be drained without the
ruleset: the facts the text may state, the fallback template for the member's language,
the tone, the channel's length limit, the words the ruleset bans, and the words (tier
names, categories) the text may use only when a fact says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["CHANNELS", "WRITERS", "MessageRequest", "Draft", "Check", "Composed", "MessengerUnavailable"]

CHANNELS = ("sms", "push", "email")
WRITERS = ("template", "llm")  # who writes the text: the fallback template alone, or a model first


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One chosen message, before it is written."""

    id: str  # unique per message: the decision's event id and the rule that chose it
    member_id: str
    event_id: str
    ruleset: str  # id@version of the ruleset that chose it
    message: str  # the id of the ``messages:`` rule that chose it
    trigger: str  # tier_change | expiry_notice | offer_selected | offer_presented | streak_at_risk | redemption
    channel: str  # one of CHANNELS
    locale: str  # the member's language, e.g. "en"
    send_at: dt.datetime  # not before this instant (after quiet hours)
    facts: Mapping[str, Any]  # name -> str | int | Decimal | date | datetime: all the text may state
    template: str  # the fallback template for ``locale``: "{fact}" placeholders, nothing else
    tone: str = ""
    max_length: int = 160
    banned: tuple[str, ...] = ()  # words and topics the ruleset bans, in any case
    vocabulary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "tiers", "categories"
    quoted: Mapping[str, str] = field(default_factory=dict)  # text a member or host supplied: data only
    version: str = ""  # digest of the template, tone and facts' names: part of the compose cache key
    writer: str = "template"  # one of WRITERS
    # not sent after this instant (the offer ended, the streak broke, the points expired, or the
    # program's stale_after passed): the sender marks it expired instead. None: no limit
    expires_at: dt.datetime | None = None
    quiet: tuple[str, str] | None = None  # the ruleset's quiet hours ("21:00", "08:00"), local to quiet_zone
    # the ruleset's timezone (an IANA key): quiet hours are kept in it at send time, summer time included.
    # None (a row stored before it was kept): the UTC offset of send_at
    quiet_zone: str | None = None

    def to_detail(self) -> dict[str, Any]:
        """The effect's detail (and the outbox row's body): everything but the decision's own ids."""
        return {"id": self.id, "message": self.message, "trigger": self.trigger, "channel": self.channel,
                "locale": self.locale, "send_at": self.send_at, "facts": dict(self.facts),
                "template": self.template, "tone": self.tone, "max_length": self.max_length,
                "banned": list(self.banned), "vocabulary": {k: list(v) for k, v in self.vocabulary.items()},
                "quoted": dict(self.quoted), "version": self.version, "writer": self.writer,
                "expires_at": self.expires_at, "quiet": list(self.quiet) if self.quiet else None,
                "quiet_zone": self.quiet_zone}

    @classmethod
    def from_detail(cls, member_id: str, event_id: str, ruleset: str, detail: Mapping[str, Any]) -> MessageRequest:
        """The request back from an effect's detail, as stored (times may come back as ISO text)."""
        send_at, expires_at = _moment(detail["send_at"]), _moment(detail.get("expires_at"))
        quiet = detail.get("quiet")
        return cls(str(detail["id"]), member_id, event_id, ruleset, str(detail["message"]),
                   str(detail["trigger"]), str(detail["channel"]), str(detail["locale"]), send_at,
                   dict(detail.get("facts") or {}), str(detail["template"]), str(detail.get("tone") or ""),
                   int(detail.get("max_length") or 160), tuple(detail.get("banned") or ()),
                   {k: tuple(v) for k, v in (detail.get("vocabulary") or {}).items()},
                   dict(detail.get("quoted") or {}), str(detail.get("version") or ""),
                   str(detail.get("writer") or "template"), expires_at,
                   (str(quiet[0]), str(quiet[1])) if quiet else None,
                   str(detail["quiet_zone"]) if detail.get("quiet_zone") else None)


def _moment(value: Any) -> Any:
    """A time as stored: a datetime, or ISO text after a JSON round trip (None stays None)."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


class MessengerUnavailable(RuntimeError):
    """A messenger could not write this message (no key, a timeout, an API error): the
    fallback template is used. The message names the cause, never a key or the facts."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What a messenger returned, before the guardrails have seen it."""

    text: str
    messenger: str  # the messenger's name
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)  # in US dollars, exact
    cached: bool = False  # the same facts, template version and model were paid for before


@dataclass(frozen=True, slots=True)
class Check:
    """One guardrail's verdict on a text."""

    name: str  # numbers | promises | banned | compliance | length | language | injection | template
    passed: bool
    detail: str = ""  # what failed, in words ("'triple' is not a fact given")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Composed:
    """The text that will be sent, where it came from, and why."""

    text: str
    source: str  # "llm" or "template"
    checks: tuple[Check, ...] = ()  # every guardrail run on the model's text (empty: none was asked)
    reason: str | None = None  # why the template was used: the failed check, or the messenger's error
    draft: Draft | None = None  # the model's text and its cost, when one was asked

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "source": self.source,
                               "checks": [c.to_json() for c in self.checks], "reason": self.reason}
        if self.draft is not None:
            out.update(model=self.draft.model, messenger=self.draft.messenger, input_tokens=self.draft.input_tokens,
                       output_tokens=self.draft.output_tokens, cost=str(self.draft.cost), cached=self.draft.cached,
                       draft=self.draft.text)
        return out
