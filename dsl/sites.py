"""Where expressions live in a ruleset, what type each must have and where it runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .checker import Scope
from .model import Ruleset
from .offers import OFFER_CHOOSE
from .sourcemap import Path
from .types import BOOL, MONEY, NUMBER, Type

__all__ = ["Site", "expression_sites", "event_type_sites", "base_path"]

NUMERIC = (NUMBER, MONEY)


class _NamesEvents(Protocol):
    """A rule, streak or achievement: the event types it runs on (None: every type)."""

    @property
    def on(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class Site:
    path: Path
    text: str
    expected: tuple[Type, ...]
    scope: Scope
    what: str
    owner: str  # graph node that reads this expression, e.g. "rule:big-basket"


def base_path(ruleset: Ruleset, index: int) -> Path:
    return ("earning", "base", index) if isinstance(ruleset.earning.base, list) else ("earning", "base")


def expression_sites(ruleset: Ruleset) -> Iterator[Site]:
    """Every expression of the document except ``let`` bodies, which are typed where used."""
    for i, base in enumerate(ruleset.earning.bases):
        path, scope, owner = base_path(ruleset, i), Scope(tuple(base.on), item=bool(base.per_item)), f"base:{i}"
        yield Site((*path, "points"), base.points, NUMERIC, scope, "points:", owner)
        for key in ("when", "unless"):
            if getattr(base, key) is not None:
                yield Site((*path, key), getattr(base, key), (BOOL,), scope, f"{key}:", owner)
    for i, rule in enumerate(ruleset.earning.rules):
        path, scope, owner = ("earning", "rules", i), Scope(tuple(rule.on), item=bool(rule.per_item)), f"rule:{rule.id}"
        for key, expected in (("when", (BOOL,)), ("unless", (BOOL,)), ("multiply", (NUMBER,)), ("bonus", NUMERIC)):
            if getattr(rule, key) is not None:
                yield Site((*path, key), getattr(rule, key), expected, scope, f"{key}:", owner)
    yield from _tier_sites(ruleset)
    yield from _gamification_sites(ruleset)
    yield from _challenge_sites(ruleset)
    for i, fraud in enumerate(ruleset.fraud):
        yield Site(("fraud", i, "when"), fraud.when, (BOOL,), Scope(tuple(fraud.on)), "when:", f"fraud:{fraud.id}")
    for i, forbid in enumerate(ruleset.compliance.forbid):
        # a no_offer rule is asked about each candidate offer too: it may read offer.<field>
        scope = Scope(tuple(forbid.on) if forbid.on else None, offer=forbid.action == "no_offer")
        yield Site(("compliance", "forbid", i, "when"), forbid.when, (BOOL,), scope, "when:", f"forbid:{forbid.id}")
    yield from _offer_sites(ruleset)
    if ruleset.messages is not None:  # a message may follow any event, a tick included: no event fields
        for i, send in enumerate(ruleset.messages.send):
            if send.when is not None:
                yield Site(("messages", "send", i, "when"), send.when, (BOOL,), Scope(None, eventless=True),
                           "when:", f"message:{send.id}")
        for i, restrict in enumerate(ruleset.messages.restrict):
            yield Site(("messages", "restrict", i, "when"), restrict.when, (BOOL,), Scope(None, eventless=True),
                       "when:", f"message:restrict:{restrict.id}")
    yield from _referral_sites(ruleset)


def _referral_sites(ruleset: Ruleset) -> Iterator[Site]:
    """A friend's qualifying event: read after the walk, as messages are (engine/policies/referrals.py)."""
    referrals = ruleset.referrals
    if referrals is not None and referrals.when is not None:
        yield Site(("referrals", "when"), referrals.when, (BOOL,), Scope(tuple(referrals.on)), "when:", "referral")


def _tier_sites(ruleset: Ruleset) -> Iterator[Site]:
    for path, metric in ruleset.tiers.metric_paths() if ruleset.tiers else ():
        if not isinstance(metric, str):
            # a refund re-evaluates the refunded order's add: (engine.builtins): it never runs on the refund
            scope = Scope(tuple(t for t in metric.on if t != "refund") or tuple(metric.on))
            # a named metric is its own node, so each runs the tier phase on its own event types
            owner = "tiers" if len(path) == 2 else f"tiers:{path[-1]}"  # noqa: PLR2004 (tiers.metric)
            yield Site((*path, "add"), metric.add, NUMERIC, scope, "add:", owner)


def _gamification_sites(ruleset: Ruleset) -> Iterator[Site]:
    for i, streak in enumerate(ruleset.streaks):
        scope, owner = Scope(tuple(streak.on)), f"streak:{streak.id}"
        if streak.when is not None:
            yield Site(("streaks", i, "when"), streak.when, (BOOL,), scope, "when:", owner)
        for j, reward in enumerate(streak.rewards):
            yield Site(("streaks", i, "rewards", j, "bonus"), reward.bonus, NUMERIC,
                       Scope(tuple(streak.on), streak=True), "bonus:", owner)
    for i, achievement in enumerate(ruleset.achievements):
        scope, owner = Scope(tuple(achievement.on)), f"achievement:{achievement.id}"
        yield Site(("achievements", i, "when"), achievement.when, (BOOL,), scope, "when:", owner)
        if achievement.bonus is not None:
            yield Site(("achievements", i, "bonus"), achievement.bonus, NUMERIC, scope, "bonus:", owner)


def _challenge_sites(ruleset: Ruleset) -> Iterator[Site]:
    """A challenge's when:, progress: and bonus: run on its events (a refund asks the order again)."""
    for i, challenge in enumerate(ruleset.challenges):
        scope, owner, path = Scope(tuple(challenge.on)), f"challenge:{challenge.id}", ("challenges", i)
        for key, expected, text in (("when", (BOOL,), challenge.when), ("progress", NUMERIC, challenge.progress)):
            if text is not None:
                yield Site((*path, key), text, expected, scope, f"{key}:", owner)
        if challenge.reward.bonus is not None:
            yield Site((*path, "reward", "bonus"), challenge.reward.bonus, NUMERIC, scope, "bonus:", owner)


def _offer_sites(ruleset: Ruleset) -> Iterator[Site]:
    """Choosing runs with or without an event (eventless); a granted rule runs on its events."""
    offers = ruleset.offers
    if offers is None:
        return
    choosing = Scope((OFFER_CHOOSE, *offers.choose.on), offer=True, eventless=True)
    yield Site(("offers", "choose", "rank"), offers.choose.rank, NUMERIC, choosing, "rank:", "offers")
    for i, template in enumerate(offers.templates):
        path = ("offers", "templates", i)
        if template.eligible is not None:
            yield Site((*path, "eligible"), template.eligible, (BOOL,), choosing, "eligible:", "offers")
        scope, grant = Scope(tuple(template.grant.on), offer=True), template.grant
        for key, expected in (("when", (BOOL,)), ("multiply", (NUMBER,)), ("bonus", NUMERIC)):
            if getattr(grant, key) is not None:
                yield Site((*path, "grant", key), getattr(grant, key), expected, scope, f"{key}:",
                           f"offer:{template.id}")


def event_type_sites(ruleset: Ruleset) -> Iterator[tuple[Path, str]]:
    """Every place that names an event type (``on:``, activity lists, count(type) metrics)."""
    for i, base in enumerate(ruleset.earning.bases):
        yield from (((*base_path(ruleset, i), "on", j), t) for j, t in enumerate(base.on))
    groups: tuple[tuple[Path, Sequence[_NamesEvents]], ...] = (
        (("earning", "rules"), ruleset.earning.rules), (("streaks",), ruleset.streaks),
        (("achievements",), ruleset.achievements), (("fraud",), ruleset.fraud),
        (("compliance", "forbid"), ruleset.compliance.forbid), (("challenges",), ruleset.challenges))
    for prefix, items in groups:
        for i, item in enumerate(items):
            for j, t in enumerate(item.on or []):
                yield (*prefix, i, "on", j), t
    for path, metric in ruleset.tiers.metric_paths() if ruleset.tiers else ():
        if isinstance(metric, str) and metric.startswith("count("):
            yield path, metric[len("count("):-1]
        elif not isinstance(metric, str):
            yield from (((*path, "on", j), t) for j, t in enumerate(metric.on))
    if ruleset.offers is not None:
        yield from ((("offers", "choose", "on", j), t) for j, t in enumerate(ruleset.offers.choose.on))
        for i, template in enumerate(ruleset.offers.templates):
            yield from ((("offers", "templates", i, "grant", "on", j), t) for j, t in enumerate(template.grant.on))
    if ruleset.referrals is not None:
        yield from ((("referrals", "on", j), t) for j, t in enumerate(ruleset.referrals.on))
    expiry = ruleset.points.expiry
    if not isinstance(expiry, str) and expiry.inactivity is not None:
        yield from ((("points", "expiry", "activity", j), t) for j, t in enumerate(expiry.activity))
