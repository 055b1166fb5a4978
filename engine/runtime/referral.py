"""Referrals as data: a member's referral record, referral codes, and the derived event a
friend's reward queues for the referrer (engine/policies/referrals.py owns what they mean;
docs/referrals.md).

A referral code is the member id, a dash and four check letters worked out from the id
(``ana-7KQ2``): whose code it is needs no lookup, so the friend's unit of work never reads
another member, and a mistyped code is refused rather than credited to somebody else.

The referrer is paid by a *derived event*: the friend's decision carries a
``referral_reward`` effect, and a store writes, in that decision's transaction, one outbox
row on channel :data:`DERIVED` holding a ``referral_bonus`` event for the referrer with the
id ``referral:<the friend's event id>``. Draining the row processes that event like any other
(engine/messaging/referrals.py): once by its id, under the referrer's own lock.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .decision import Decision, Outcome, to_jsonable
from .events import MAX_ID

__all__ = ["Referral", "DERIVED", "BONUS", "referral_code", "referrer_of", "derived_id", "marks", "derived_requests"]

DERIVED = "event"  # the outbox channel of derived events; message senders and webhook dispatchers never claim it
BONUS = "referral_bonus"  # the derived event's type
_CHECK = 4  # check letters in a code
_PREFIX = "referral:"
_QUEUED = (Outcome.APPLIED, Outcome.REVIEW)


@dataclass(slots=True)
class Referral:
    """A member's part in referrals, as a friend and as a referrer (None until either happens).
    Treated as immutable: a change is a new record."""

    code: str | None = None  # the code the member signed up with
    referrer: str | None = None  # whose code it is
    signed_at: dt.datetime | None = None  # when the ``referred`` event came
    rewarded: str | None = None  # the event that qualified the member as a friend: paid once
    paid: int = 0  # as a referrer: friends that paid them, lifetime
    period: int | None = None  # as a referrer: the calendar period ``in_period`` counts
    in_period: int = 0


def _check(member_id: str) -> str:
    digest = hashlib.sha256(("punchcard-referral\0" + member_id).encode()).digest()
    return base64.b32encode(digest).decode()[:_CHECK]


def referral_code(member_id: str) -> str:
    """The member's referral code: the same for ever, for every ruleset."""
    return f"{member_id}-{_check(member_id)}"


def referrer_of(code: str) -> str | None:
    """Whose code ``code`` is (check letters in any case; spaces around it, typed with it, are
    dropped unless they are the member id's own), or None when it is not a code."""
    for text in dict.fromkeys((code, code.strip())):
        member, dash, check = text.rpartition("-")
        if dash and member and check.upper() == _check(member):
            return member
    return None


def derived_id(event_id: str) -> str:
    """The id of the referrer's event for the friend's qualifying event ``event_id``: the same
    on every replay, and a valid event id however long the friend's was."""
    if len(_PREFIX) + len(event_id) <= MAX_ID:
        return _PREFIX + event_id
    return _PREFIX + hashlib.sha256(event_id.encode()).hexdigest()


def marks(profile: Mapping[str, Any], fields: Iterable[str]) -> str:
    """What the referrer's side compares of the fields a friend must not share (a device id):
    a short digest per field, so no member's value travels in the outbox. A field the member
    has not given is an empty mark, which matches nothing."""
    found = []
    for name in fields:
        value = profile.get(name)
        text = "" if value is None or value == "" else str(to_jsonable(value))
        found.append(hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()[:16] if text else "")
    return ",".join(found)


def derived_requests(decision: Decision) -> list[dict[str, Any]]:
    """The outbox requests of a decision's derived events, JSON-ready: one per friend's
    ``referral_reward``, when the decision is kept (applied, or held for review)."""
    if decision.outcome not in _QUEUED:
        return []
    out = []
    for effect in decision.effects:
        if effect.kind != "referral_reward" or effect.detail.get("side") != "friend":
            continue
        detail, time = effect.detail, to_jsonable(decision.time)
        event = {"type": BONUS, "id": detail["referrer_event"], "member": detail["referrer"], "time": time,
                 "friend": decision.member_id, "code": detail["code"], "order": decision.event_id}
        if detail.get("marks"):
            event["marks"] = detail["marks"]
        out.append({"id": f"{decision.event_id}/{BONUS}", "channel": DERIVED, "send_at": time, "event": event})
    return out
