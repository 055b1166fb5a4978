"""The facts a message may state, read from the decision and the member (docs/messages.md).

Facts are the only things a message's text may say: the fallback template is filled from
them, a model is given nothing else, and the guardrails compare every number, date, tier
name and category in a model's text against them. Each fact is exact: points and amounts
as Decimal, days as dates in the ruleset's timezone, names as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from punchcard.dsl.messages import MEMBER_FACTS

from ..runtime import calendar
from ..runtime.decision import Effect
from ..runtime.run import Run

__all__ = ["facts_of", "quoted_of", "valid_until", "QUOTED"]

_JUST_BEFORE = dt.timedelta(microseconds=1)
QUOTED = ("first_name",)  # facts a member or host wrote: passed to a model as quoted data only
Fact = Callable[[Run, Effect | None], Any]


def _last_day(run: Run, moment: Any) -> dt.date | None:
    """The last local day before an end instant (exclusive): points expiring at 1 April 00:00
    last through 31 March, and that is the day a message states."""
    if not isinstance(moment, dt.datetime):
        return None
    return calendar.local(moment - _JUST_BEFORE, run.compiled.tz).date()


def _offer(run: Run, effect: Effect | None) -> dict[str, Any]:
    """The filled-in offer behind an offer effect: its fields as the member got them."""
    record = run.state.offers.get(str(effect.detail.get("offer"))) if effect is not None else None
    if record is None:
        return {}
    fields = dict(record.fields)
    templates = run.compiled.model.offers.templates if run.compiled.model.offers is not None else []
    template = next((t for t in templates if t.id == record.template), None)
    return {"offer": (template.description if template and template.description else record.template),
            "offer_type": template.type if template else None, "offer_category": fields.get("category"),
            "offer_value": fields.get("value"), "offer_min_purchase": fields.get("min_purchase"),
            "offer_valid_until": _last_day(run, record.valid_until)}


def _redeemed(run: Run, _effect: Effect | None) -> Decimal:
    return -sum((e.points or Decimal(0) for e in run.effects if e.kind == "redeem"), Decimal(0))


_READERS: dict[str, Fact] = {
    "tier": lambda run, effect: None,  # filled by facts_of: the tiers policy names the level
    "balance": lambda run, effect: run.state.available(run.now),
    "date": lambda run, effect: calendar.local(run.now, run.compiled.tz).date(),
    "tier_from": lambda run, effect: effect.detail.get("from") if effect else None,
    "tier_to": lambda run, effect: effect.detail.get("to") if effect else None,
    "direction": lambda run, effect: effect.detail.get("direction") if effect else None,
    "expiring_points": lambda run, effect: effect.points if effect else None,
    "expires_on": lambda run, effect: _last_day(run, effect.detail.get("expires_at")) if effect else None,
    "streak": lambda run, effect: effect.detail.get("streak") if effect else None,
    "streak_length": lambda run, effect: effect.detail.get("length") if effect else None,
    "streak_ends": lambda run, effect: _last_day(run, effect.detail.get("breaks_at")) if effect else None,
    "redeemed_points": _redeemed,
    "earned_points": lambda run, effect: run.points,
    "badge": lambda run, effect: (effect.detail.get("badge") or effect.detail.get("achievement")) if effect else None,
}


def facts_of(run: Run, trigger: str, effect: Effect | None, names: list[str], tier: str | None) -> dict[str, Any]:
    """The facts ``names`` for this message; one with no value (no tier, no first name) is left out."""
    offer = _offer(run, effect) if trigger.startswith("offer_") else {}
    facts: dict[str, Any] = {}
    for name in names:
        if name in MEMBER_FACTS:
            value = run.state.profile.get(MEMBER_FACTS[name])
        elif name == "tier":
            value = tier
        elif name in offer:
            value = offer[name]
        else:
            value = _READERS[name](run, effect) if name in _READERS else None
        if value is not None and value != "":  # nothing to state (an offer without a category)
            facts[name] = value
    return facts


def valid_until(run: Run, trigger: str, effect: Effect | None) -> dt.datetime | None:
    """When what the message says stops being true: the offer's end, the streak's break, the
    points' expiry (None: the trigger has no such end)."""
    if effect is None:
        return None
    if trigger.startswith("offer_"):
        record = run.state.offers.get(str(effect.detail.get("offer")))
        return record.valid_until if record is not None else None
    moment = effect.detail.get({"expiry_notice": "expires_at", "streak_at_risk": "breaks_at"}.get(trigger, ""))
    return moment if isinstance(moment, dt.datetime) else None


def quoted_of(facts: Mapping[str, Any], limit: int) -> dict[str, str]:
    """The facts a member or host wrote, as text of at most ``limit`` characters: a model gets
    them as quoted data, never as instructions."""
    return {name: str(facts[name])[:limit] for name in QUOTED if name in facts}
