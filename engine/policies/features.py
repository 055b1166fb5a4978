"""The one feature definition: what models see of a member, read from the profile.

Training (``punchcard model train``) and scoring (the engine's ``score("NAME")``, ``punchcard
model score``) both call :func:`features` (and :func:`offer_features` for an offer) on a
profile folded by :mod:`.profile`, so the two cannot drift. Every feature is a Decimal within
its bound in :data:`BOUNDS` whatever the history: models never see a value they were not
trained on the range of.

RFM segments (:func:`segment_of`) score recency, frequency and monetary value 1-5 against
quintile cut points fitted on a population (:func:`fit_segments`), and name the segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext

from ..program import Compiled
from ..runtime.state import ZERO, MemberState, Profile
from .profile import category_shares, favourite_category, offer_key, offer_response, recency_days
from .tiers import current_name

__all__ = [
    "WINDOWS",
    "OFFER_TYPES",
    "MEMBER_FEATURES",
    "OFFER_FEATURES",
    "BOUNDS",
    "CONTEXT",
    "RULESET_FEATURES",
    "features",
    "tier_index",
    "streak_length",
    "member_features",
    "offer_features",
    "SegmentCuts",
    "SEGMENTS",
    "rfm",
    "fit_segments",
    "rfm_scores",
    "segment_name",
    "segment_of",
    "population_segments",
]

WINDOWS = (30, 90, 365)  # days: recency, frequency and monetary value over each
OFFER_TYPES = ("double_points", "category_bonus", "basket_bonus", "streak_reward")
MAX_DAYS = Decimal(730)  # recency and tenure stop counting here ("a long time")
MAX_COUNT = Decimal(100_000)
MAX_SPEND = Decimal(10_000_000)
ONE = Decimal(1)
# hours of the day grouped as a model can use them: night, morning, midday, afternoon, evening
DAYPARTS = (("night", 0, 6), ("morning", 6, 11), ("midday", 11, 14), ("afternoon", 14, 18), ("evening", 18, 24))

MEMBER_FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "purchases", "spend", "avg_basket",
    *(f"visits_{d}d" for d in WINDOWS), *(f"spend_{d}d" for d in WINDOWS),
    "top_category_share", "categories",
    *(f"hours_{name}" for name, _, _ in DAYPARTS), "weekend_share",
    "tier", "streak",
)
OFFER_FEATURES: tuple[str, ...] = (
    *(f"offer_{kind}" for kind in OFFER_TYPES), "offer_value", "offer_category_share", "offer_favourite",
    "offer_presented", "offer_used", "offer_use_rate",
)
# what only the engine's state holds, for a ruleset with tiers: (tier) and streaks: (streak)
RULESET_FEATURES = ("tier", "streak")
BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    **dict.fromkeys(("recency_days", "tenure_days"), (ZERO, MAX_DAYS)),
    **dict.fromkeys(("purchases", "categories", "tier", "streak", "offer_presented", "offer_used",
                     *(f"visits_{d}d" for d in WINDOWS)), (ZERO, MAX_COUNT)),
    **dict.fromkeys(("spend", "avg_basket", "offer_value", *(f"spend_{d}d" for d in WINDOWS)), (ZERO, MAX_SPEND)),
    **dict.fromkeys(("top_category_share", "weekend_share", "offer_category_share", "offer_favourite",
                     "offer_use_rate", *(f"hours_{name}" for name, _, _ in DAYPARTS),
                     *(f"offer_{kind}" for kind in OFFER_TYPES)), (ZERO, ONE)),
}


# The arithmetic features are read in, whoever reads them: a decision runs in its ruleset's context,
# whose precision follows its rounding step, and training in Python's default one. Pinned, the same
# member gives the same row either way (28 digits: the default, so models trained before read the same).
CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def _clip(name: str, value: Decimal) -> Decimal:
    low, high = BOUNDS[name]
    return min(max(value, low), high)


def features(profile: Profile, tier: int, streak: int, at: dt.datetime) -> dict[str, Decimal]:
    """The member's features at ``at``, named as :data:`MEMBER_FEATURES`. ``tier`` is the
    member's level index (0: the first level, or no tiers), ``streak`` its longest current streak."""
    with localcontext(CONTEXT):
        return _features(profile, tier, streak, at)


def _features(profile: Profile, tier: int, streak: int, at: dt.datetime) -> dict[str, Decimal]:
    recency = recency_days(profile, at)
    first = profile.days[0][0] if profile.days else None
    spends = [spend for _, spend in profile.categories]
    categorised = sum(spends, ZERO)
    visits = sum(profile.hours)
    values = {
        "recency_days": MAX_DAYS if recency is None else Decimal(recency),
        "tenure_days": Decimal(at.date().toordinal() - first if first is not None else 0),
        "purchases": Decimal(profile.purchases),
        "spend": profile.spend,
        "avg_basket": profile.spend / profile.purchases if profile.purchases else ZERO,
        **_windows(profile, at),
        "top_category_share": max(spends) / categorised if categorised > 0 else ZERO,
        "categories": Decimal(len(spends)),
        **{f"hours_{name}": _share(sum(profile.hours[start:end]), visits) for name, start, end in DAYPARTS},
        "weekend_share": _share(profile.weekdays[5] + profile.weekdays[6], visits),
        "tier": Decimal(tier),
        "streak": Decimal(streak),
    }
    return {name: _clip(name, values[name]) for name in MEMBER_FEATURES}


def tier_index(compiled: Compiled, state: MemberState) -> int:
    """The ``tier`` feature: the position of the member's level (0: the first, or no tiers)."""
    name, plan = current_name(compiled, state), compiled.tier_plan
    return plan.rank.get(name, 0) if plan is not None and name is not None else 0


def streak_length(state: MemberState) -> int:
    """The ``streak`` feature: the longest of the member's current streaks (0: none)."""
    return max((streak.length for streak in state.streaks.values()), default=0)


def member_features(compiled: Compiled, state: MemberState, profile: Profile, at: dt.datetime) -> dict[str, Decimal]:
    """:func:`features` of a member as the engine keeps it under ``compiled``: ``profile``, and
    the tier and streak of ``state`` (housekept up to ``at`` by the caller, as a decision is)."""
    return features(profile, tier_index(compiled, state), streak_length(state), at)


def _share(part: int, whole: int) -> Decimal:
    return Decimal(part) / whole if whole else ZERO


def _windows(profile: Profile, at: dt.datetime) -> dict[str, Decimal]:
    """Visits and spend in each window of :data:`WINDOWS` days up to and including ``at``'s day,
    in one pass over the day buckets (as :func:`.profile.visits_within` and ``spend_within`` count)."""
    today = at.date().toordinal()
    visits, spend = dict.fromkeys(WINDOWS, 0), dict.fromkeys(WINDOWS, ZERO)
    for day, count, amount in profile.days:
        if day <= today:
            for days in WINDOWS:
                if today - days < day:
                    visits[days] += count
                    spend[days] += amount
    return {**{f"visits_{d}d": Decimal(visits[d]) for d in WINDOWS}, **{f"spend_{d}d": spend[d] for d in WINDOWS}}


def offer_features(profile: Profile, offer_type: str, category: str | None, value: Decimal) -> dict[str, Decimal]:
    """An offer's features for this member: its type, category and value, and how the member
    answered similar offers before (same type and category: :func:`.profile.offer_key`)."""
    with localcontext(CONTEXT):
        return _offer_features(profile, offer_type, category, value)


def _offer_features(profile: Profile, offer_type: str, category: str | None, value: Decimal) -> dict[str, Decimal]:
    shown, used = offer_response(profile, offer_key(offer_type, category))
    values = {
        **{f"offer_{kind}": ONE if offer_type == kind else ZERO for kind in OFFER_TYPES},
        "offer_value": value,
        "offer_category_share": category_shares(profile).get(category, ZERO) if category else ZERO,
        "offer_favourite": ONE if category is not None and category == favourite_category(profile) else ZERO,
        "offer_presented": Decimal(shown),
        "offer_used": Decimal(used),
        # smoothed towards one in two, so one unanswered offer does not read as "never uses offers"
        "offer_use_rate": (Decimal(used) + ONE) / (Decimal(shown) + 2),
    }
    return {name: _clip(name, values[name]) for name in OFFER_FEATURES}


# -- RFM segments ------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentCuts:
    """Quintile cut points (four each, ascending) of recency days, 365-day visits and spend."""

    recency: tuple[Decimal, ...]
    frequency: tuple[Decimal, ...]
    monetary: tuple[Decimal, ...]


# (name, lowest recency score, lowest frequency score, highest frequency score), first match wins
SEGMENTS = (
    ("champions", 4, 4, 5),
    ("loyal", 3, 4, 5),
    ("new", 4, 1, 1),
    ("promising", 4, 1, 3),
    ("needs_attention", 3, 1, 3),
    ("at_risk", 1, 3, 5),
    ("hibernating", 1, 1, 2),
)


def rfm(profile: Profile, at: dt.datetime) -> tuple[Decimal, Decimal, Decimal]:
    """Recency (days), frequency (visits in 365 days) and monetary value (spend in 365 days)."""
    values = features(profile, 0, 0, at)
    return values["recency_days"], values["visits_365d"], values["spend_365d"]


def _quintiles(values: Sequence[Decimal]) -> tuple[Decimal, ...]:
    ordered = sorted(values)
    if not ordered:
        return (ZERO,) * 4
    return tuple(ordered[min(len(ordered) - 1, len(ordered) * q // 5)] for q in range(1, 5))


def fit_segments(rows: Sequence[tuple[Decimal, Decimal, Decimal]]) -> SegmentCuts:
    """Quintile cut points of a population's :func:`rfm` values."""
    return SegmentCuts(*(_quintiles([row[i] for row in rows]) for i in range(3)))


def _score(value: Decimal, cuts: tuple[Decimal, ...]) -> int:
    return 1 + sum(1 for cut in cuts if value > cut)


def rfm_scores(values: tuple[Decimal, Decimal, Decimal], cuts: SegmentCuts) -> tuple[int, int, int]:
    """Scores 1-5 each; recency is reversed, so 5 is the most recent."""
    recency, frequency, monetary = values
    return 6 - _score(recency, cuts.recency), _score(frequency, cuts.frequency), _score(monetary, cuts.monetary)


def segment_name(scores: tuple[int, int, int]) -> str:
    recency, frequency, _ = scores
    for name, low_r, low_f, high_f in SEGMENTS:
        if recency >= low_r and low_f <= frequency <= high_f:
            return name
    return "others"


def segment_of(profile: Profile, at: dt.datetime, cuts: SegmentCuts) -> str:
    return segment_name(rfm_scores(rfm(profile, at), cuts))


def population_segments(profiles: Mapping[str, Profile], at: dt.datetime) -> dict[str, str]:
    """Each member's segment, the cut points fitted on these members themselves."""
    values = {member: rfm(profile, at) for member, profile in profiles.items()}
    cuts = fit_segments(list(values.values()))
    return {member: segment_name(rfm_scores(v, cuts)) for member, v in values.items()}
