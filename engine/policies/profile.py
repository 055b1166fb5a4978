"""The member profile: a compact history folded from each analyst event.

The profile lives on the member's state as ``MemberState.activity`` (a
:class:`~..runtime.state.Profile`; the name ``profile`` already holds the member's declared
fields). This module owns its meaning: :func:`fold` adds one event, and the readers below
(:func:`favourite_category`, :func:`usual_hours`, :func:`recency_days`, ...) are what
features, segments and offers read. Training folds events through the same :func:`fold_event`
the engine runs, so a model never sees a history the engine would not keep.

What an event adds:

- a *visit*, for every analyst event (:func:`counts`: never a built-in event such as ``refund``,
  ``redeem`` or ``review_decision``, which the engine decides outside any plan): its local hour
  and weekday counted, and its day's bucket (day, visits, spend);
- a *purchase* (:func:`is_purchase`), when it also carries a positive ``amount``: first and
  latest purchase, lifetime count and spend, the day bucket's spend, and the spend of its
  ``category`` (if it has one);
- an *offer response*, for ``offer_presented`` and ``offer_used`` events: the count for the
  offer's ``offer_type`` and ``category`` (:func:`offer_key`).

Bounded whatever the history: day buckets cover the last :data:`HORIZON_DAYS` days before
the latest one seen, categories and offer keys at most :data:`MAX_KEYS` each (past that, the
rest is counted under ``"other"``). Every count is a sum, and the horizon is measured from the
latest day seen, so folding the same events in any order gives the same profile (while the
keys stay under their bound).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from punchcard.dsl.challenges import CHALLENGE_EVENTS
from punchcard.dsl.conversion import VOUCHER_EVENTS
from punchcard.dsl.offers import OFFER_EVENTS as OFFER_BUILT_INS
from punchcard.dsl.referrals import REFERRAL_EVENTS
from punchcard.dsl.vocabulary import BUILTIN_EVENTS, TIER_EVENTS

from ..program import Plan
from ..runtime.events import Event
from ..runtime.run import Run
from ..runtime.state import ZERO, MemberState, Profile

__all__ = [
    "HORIZON_DAYS",
    "MAX_KEYS",
    "OTHER",
    "OFFER_EVENTS",
    "BUILT_IN_TYPES",
    "Profile",
    "counts",
    "is_purchase",
    "fold",
    "fold_event",
    "fold_all",
    "on_event",
    "profile_of",
    "offer_key",
    "favourite_category",
    "usual_hours",
    "usual_weekdays",
    "category_shares",
    "hour_shares",
    "weekday_shares",
    "recency_days",
    "visits_within",
    "spend_within",
    "offer_response",
]

HORIZON_DAYS = 400  # the longest window features read (365 days), and some slack
MAX_KEYS = 32  # categories, offer keys: past this many, the rest counts as OTHER
OTHER = "other"
OFFER_EVENTS = {"offer_presented": 0, "offer_used": 1}  # event type -> which count it adds to
# The built-in event types: the engine decides each with a handler of its own, and never walks
# an analyst plan (so never the profile phase) for one. engine/evaluate.py's BUILT_IN holds the
# same names (tests/models/test_fold_agrees.py holds them to it).
BUILT_IN_TYPES = frozenset({*BUILTIN_EVENTS, "profile", *OFFER_BUILT_INS, *VOUCHER_EVENTS, *TIER_EVENTS,
                            *CHALLENGE_EVENTS, *REFERRAL_EVENTS})
USUAL_SHARE = Decimal("0.6")  # usual hours and weekdays hold at least this share of visits
_EMPTY = Profile()


def profile_of(state: MemberState) -> Profile:
    """The member's profile, empty when nothing has been folded yet."""
    return state.activity if state.activity is not None else _EMPTY


def offer_key(offer_type: object, category: object) -> str:
    """What "similar offers" means for a member's past response: same type, same category."""
    return f"{offer_type or '-'}:{category or '-'}"


def counts(event_type: str) -> bool:
    """Does the profile fold an event of this type? Every analyst event, and the offer responses
    (:data:`OFFER_EVENTS`); never a built-in one. The one rule for the engine (whose profile phase
    runs on analyst events only) and for training from a file of events (plugins/sklearn/data.py)."""
    return event_type in OFFER_EVENTS or event_type not in BUILT_IN_TYPES


def is_purchase(event: Event) -> bool:
    """Is ``event`` a purchase as the profile counts one: an event it folds as a visit, with a
    positive ``amount``? (A refund carries an amount too, and is no purchase.)"""
    amount = event.fields.get("amount")
    return (isinstance(amount, Decimal) and amount > 0 and counts(event.type)
            and event.type not in OFFER_EVENTS)


# -- folding ---------------------------------------------------------------------------
def fold(profile: Profile | None, time: dt.datetime, amount: Decimal | None = None, category: str | None = None,
         offer: tuple[str, int] | None = None) -> Profile:
    """``profile`` with one more event: a visit at ``time`` (local to the ruleset), a purchase
    when ``amount`` is positive, an offer response when ``offer`` is (key, 0 presented / 1 used)."""
    old = profile or _EMPTY
    spend = amount if amount is not None and amount > 0 else None
    if offer is not None:  # a response is not a visit: the host reports it, the member did not come
        return replace(old, offers=_add_offer(old.offers, offer))
    hours = _bump(old.hours, time.hour)
    weekdays = _bump(old.weekdays, time.weekday())
    days = _add_day(old.days, time.date().toordinal(), spend or ZERO)
    if spend is None:
        return replace(old, days=days, hours=hours, weekdays=weekdays)
    categories = _add_spend(old.categories, category, spend) if category else old.categories
    first = time if old.first is None or time < old.first else old.first
    last = time if old.last is None or time > old.last else old.last
    return Profile(first, last, days, categories, hours, weekdays, old.purchases + 1, old.spend + spend, old.offers)


def fold_event(profile: Profile | None, event: Event) -> Profile:
    """:func:`fold` of an engine event: its ``amount`` and ``category`` fields, if it has them."""
    fields = event.fields
    amount = fields.get("amount")
    category = fields.get("category")
    which = OFFER_EVENTS.get(event.type)
    offer = (offer_key(fields.get("offer_type"), category), which) if which is not None else None
    return fold(profile, event.time, amount if isinstance(amount, Decimal) else None,
                category if isinstance(category, str) else None, offer)


def fold_all(events: Iterable[Event], profile: Profile | None = None) -> Profile:
    for event in events:
        profile = fold_event(profile, event)
    return profile or _EMPTY


def on_event(run: Run, plan: Plan) -> None:
    """The profile phase: fold this event into the member's profile (a savepoint undoes it)."""
    state = run.state
    if state.journal is not None:
        state.journal.replaced_attribute(state, "activity", state.activity)
    state.activity = fold_event(state.activity, run.event)


def _bump(counts: tuple[int, ...], index: int) -> tuple[int, ...]:
    return (*counts[:index], counts[index] + 1, *counts[index + 1:])


def _add_day(days: tuple[tuple[int, int, Decimal], ...], day: int,
             spend: Decimal) -> tuple[tuple[int, int, Decimal], ...]:
    """Day buckets in order, the one for ``day`` added to, none older than the horizon allows."""
    if days and days[-1][0] == day:  # the usual case: another event on the latest day
        _, visits, total = days[-1]
        return (*days[:-1], (day, visits + 1, total + spend))
    merged = dict((d, (v, s)) for d, v, s in days)
    visits, total = merged.get(day, (0, ZERO))
    merged[day] = (visits + 1, total + spend)
    since = max(merged) - HORIZON_DAYS
    return tuple((d, v, s) for d, (v, s) in sorted(merged.items()) if d > since)


def _add_spend(categories: tuple[tuple[str, Decimal], ...], name: str,
               spend: Decimal) -> tuple[tuple[str, Decimal], ...]:
    merged = dict(categories)
    if name not in merged and len(merged) >= MAX_KEYS:
        name = OTHER
    merged[name] = merged.get(name, ZERO) + spend
    return tuple(sorted(merged.items()))


def _add_offer(offers: tuple[tuple[str, int, int], ...], offer: tuple[str, int]) -> tuple[tuple[str, int, int], ...]:
    merged = {key: [shown, used] for key, shown, used in offers}
    key, which = offer
    if key not in merged and len(merged) >= MAX_KEYS:
        key = OTHER
    merged.setdefault(key, [0, 0])[which] += 1
    return tuple((k, c[0], c[1]) for k, c in sorted(merged.items()))


# -- reading ---------------------------------------------------------------------------
def favourite_category(profile: Profile) -> str | None:
    """The category the member spent most on (ties: the first by name); None before any."""
    if not profile.categories:
        return None
    return max(profile.categories, key=lambda item: item[1])[0]  # sorted by name: max keeps the first


def usual_hours(profile: Profile) -> tuple[int, int] | None:
    """The narrowest run of local hours ``(start, end)`` (end exclusive, never past midnight)
    holding at least 60% of the member's visits; the earliest among equals. None before any visit."""
    return _usual(profile.hours)


def usual_weekdays(profile: Profile) -> tuple[int, int] | None:
    """As :func:`usual_hours`, over weekdays (0 Monday .. 7): ``(start, end)``, end exclusive."""
    return _usual(profile.weekdays)


def _usual(counts: tuple[int, ...]) -> tuple[int, int] | None:
    total = sum(counts)
    if total == 0:
        return None
    need = USUAL_SHARE * total
    for width in range(1, len(counts) + 1):
        for start in range(len(counts) - width + 1):
            if sum(counts[start:start + width]) >= need:
                return start, start + width
    return 0, len(counts)  # unreachable: the whole range holds every visit


def category_shares(profile: Profile) -> dict[str, Decimal]:
    """Each category's share of the member's categorised spend (sums to 1, or empty)."""
    total = sum((spend for _, spend in profile.categories), ZERO)
    return {name: spend / total for name, spend in profile.categories} if total > 0 else {}


def hour_shares(profile: Profile) -> tuple[Decimal, ...]:
    return _shares(profile.hours)


def weekday_shares(profile: Profile) -> tuple[Decimal, ...]:
    return _shares(profile.weekdays)


def _shares(counts: tuple[int, ...]) -> tuple[Decimal, ...]:
    total = sum(counts)
    return tuple(Decimal(c) / total if total else ZERO for c in counts)


def recency_days(profile: Profile, at: dt.datetime) -> int | None:
    """Whole local days from the latest purchase to ``at``; None before any purchase."""
    if profile.last is None:
        return None
    return max(0, at.date().toordinal() - profile.last.astimezone(at.tzinfo).date().toordinal())


def _within(profile: Profile, at: dt.datetime, days: int) -> Iterable[tuple[int, int, Decimal]]:
    """The day buckets of the ``days`` local days up to and including ``at``'s."""
    today = at.date().toordinal()
    return (bucket for bucket in profile.days if today - days < bucket[0] <= today)


def visits_within(profile: Profile, at: dt.datetime, days: int) -> int:
    return sum(visits for _, visits, _ in _within(profile, at, days))


def spend_within(profile: Profile, at: dt.datetime, days: int) -> Decimal:
    return sum((spend for _, _, spend in _within(profile, at, days)), ZERO)


def offer_response(profile: Profile, key: str) -> tuple[int, int]:
    """(presented, used) for offers like ``key`` (:func:`offer_key`)."""
    for name, shown, used in profile.offers:
        if name == key:
            return shown, used
    return 0, 0

