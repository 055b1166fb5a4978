"""Tiers: a qualifying metric per window, immediate upgrades, downgrades at window end.

Model (docs/semantics.md): ``reached[w]`` is the highest level reached during window
``w``; it never goes down while ``w`` is open, so a refund cannot downgrade early.
When ``w`` closes, ``closed[w]`` is the level its final metric (refunds included)
qualifies for, and that status lasts to the end of ``w`` (``keep_through:
this_window``) or of the window after it (``next_window``), plus ``grace``. The
member's tier is the highest level any window still grants.

A rolling window (``rolling_12_months``) keeps the metric per calendar month: the trailing
metric of a month is its own and the eleven before it. The member holds the level that
trailing metric meets now, or a higher one held in a month whose status still lasts (to
the month's end, or twelve months more with ``next_window``, plus ``grace``); ``reached``
records the levels held in a month, so a refund lowers the level only at the month's end.

What the tier rules fix once per ruleset (names, thresholds, how windows end, the
deadlines of calendar windows) is worked out once in a :class:`TierPlan` kept with the
compiled ruleset, so an event only looks at the member's own windows.

This module owns what tiers do to an event (:func:`on_event`, :func:`on_refund`), their
deadlines (:func:`deadlines`) and their housekeeping (:func:`housekeep`: closing windows);
the window arithmetic is in :mod:`.tier_windows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from punchcard.dsl.model import TierLevel

from ..program import Compiled, Plan, TierPlan
from ..runtime.context import EvalContext
from ..runtime.decision import Effect, Step, TierView
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Run
from ..runtime.state import FORGET, ZERO, MemberState, OrderRecord
from . import tier_metrics as named
from .lifecycle.lots import lift_expiry
from .tier_windows import (
    ROLLING_LOOKBACK,
    held_until,
    hold_levels,
    level_index,
    override_index,
    plan_of,
    rolling_deadline,
    status_deadlines,
    tier_plan,
    window_close,
    window_key,
    window_level,
    window_metric,
)

__all__ = ["on_event", "on_refund", "housekeep", "deadlines", "metric_amount", "order_window", "current_name",
           "current_level", "add_metric", "upgrade", "close_windows", "view", "MetricView", "set_override",
           "re_evaluate", "by_metric"]

# What the rules saw of an order at a given amount: (event values, member values, context).
MetricView = Callable[[Decimal], tuple[dict[str, Any], dict[str, Any], EvalContext]]
_INSTANT = dt.timedelta(microseconds=1)  # the last instant of a window is its end less this


def _rank(plan: TierPlan, level: str | None) -> int:
    """The index of the member's level (a member who never reached one is at the lowest)."""
    return plan.rank.get(level, 0) if level is not None else 0


def current_name(compiled: Compiled, state: MemberState) -> str | None:
    """The member's level now, as ``member.tier`` reads it (None without tiers)."""
    plan = compiled.tier_plan
    if plan is None:
        return None
    return plan.names[_rank(plan, state.tier.level)]


def current_level(compiled: Compiled, state: MemberState) -> TierLevel | None:
    plan = plan_of(compiled)
    if plan is None:
        return None
    return plan.levels[_rank(plan, state.tier.level)]


def deadlines(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[dt.datetime]:
    """When housekeeping must next look at the tiers: the end of the window ``now`` falls in,
    then every status deadline after ``now``."""
    plan = plan_of(compiled)
    if plan is None:
        return []
    key = now.year if plan.calendar else window_key(plan.model, now, state.joined)
    found = [window_close(compiled, plan, key, state.joined)]
    found += [d for d in status_deadlines(compiled, state) if d > now]
    if state.tier_override is not None:
        found.append(state.tier_override[1])  # the override ends: back to what the metrics give
    if plan.rolling and plan.grace:
        found += [d for d in (rolling_deadline(compiled, plan, state, now),) if d is not None]
    return found


def add_metric(compiled: Compiled, state: MemberState, amount: Decimal | dict[str, Decimal],
               local: dt.datetime) -> int:
    """Add to the window ``local`` falls in: an amount to the one metric, or a map of amounts
    to named metrics (:mod:`.tier_metrics`)."""
    plan = tier_plan(compiled)
    key = local.year if plan.calendar else window_key(plan.model, local, state.joined)
    if isinstance(amount, dict):
        if key not in set(named.window_keys(state)):  # a new window will need closing
            state.schedule(window_close(compiled, plan, key, state.joined))
        named.add_named(state, amount, key)
        return key
    metric = state.tier.metric
    if key not in metric:  # a new window will need closing
        state.schedule(window_close(compiled, plan, key, state.joined))
    state.put_tier("metric", key, metric.get(key, ZERO) + amount)
    return key


def _change(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime, why: str) -> list[Effect]:
    # an override in force is a floor: the member holds it, or more if the metrics give more
    earned, held = level_index(compiled, plan, state, now), override_index(plan, state, now)
    new = plan.names[max(earned, held)]
    level = state.tier.level
    old = level or plan.names[0]
    if level != new:
        state.set_tier_level(new)
    if new == old:
        # the level held has not moved: it lifted what it had to when it was reached, unless an
        # override hides that the metrics have just reached a level whose points never expire
        return _lift(plan, state, earned) if held else []
    rank = plan.rank
    if old not in rank:
        list(plan.names).index(old)  # an unknown level fails as it always has (ValueError)
    direction = "up" if rank[new] > rank[old] else "down"
    effects = [Effect("tier_change", None, None, {"from": old, "to": new, "direction": direction, "why": why})]
    return effects + _lift(plan, state, earned)


def _lift(plan: TierPlan, state: MemberState, earned: int) -> list[Effect]:
    """Lots held stop expiring when the member *qualifies* (``earned``: the level the metrics
    give) for a level whose points never expire. An override never lifts them: a one-day status
    match would otherwise make the whole balance permanent (docs/tiers.md)."""
    if plan.levels[earned].expiry != "never":
        return []
    return lift_expiry(state, plan.names[earned])


def re_evaluate(compiled: Compiled, state: MemberState, now: dt.datetime, why: str) -> list[Effect]:
    """The member's level now (an override set or ended), with a tier_change effect if it moved."""
    return _change(compiled, tier_plan(compiled), state, now, why)


def upgrade(compiled: Compiled, state: MemberState, local: dt.datetime) -> list[Effect]:
    """After an event: the current window's metric may reach a higher level at once."""
    plan = tier_plan(compiled)
    key = local.year if plan.calendar else window_key(plan.model, local, state.joined)
    reached = window_level(plan, state, key)
    if reached > state.tier.reached.get(key, 0):
        state.put_tier("reached", key, reached)
        state.schedule(window_close(compiled, plan, key, state.joined))
    return _change(compiled, plan, state, local, "threshold reached")


def close_windows(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """Housekeeping: fix the level of every window that has ended, then re-evaluate."""
    plan = tier_plan(compiled)
    if not plan.rolling:
        for key in _ended(compiled, plan, state, now):  # in order: a window kept counts for the next one's close
            state.put_tier("closed", key, _closing_level(compiled, plan, state, key))
    _forget_old_windows(compiled, plan, state, now)
    return _change(compiled, plan, state, now, "window ended")


def _closing_level(compiled: Compiled, plan: TierPlan, state: MemberState, key: int) -> int:
    """The level window ``key`` grants once it ends: what its final metric qualifies for or,
    with retention (``keep:``), the highest level held just before it ended whose retention
    threshold that metric meets. An override is left out: it ends on its own date."""
    reached = window_level(plan, state, key)
    if not any(level.keep is not None for level in plan.levels):
        return reached
    end = window_close(compiled, plan, key, state.joined)
    held = level_index(compiled, plan, state, end - _INSTANT)
    if held <= reached:
        return reached
    metric = window_metric(plan, state, key)
    have = named.values(plan, state, key) if plan.model.metrics is not None else {}
    for index in range(held, reached, -1):
        if named.keeps(plan.levels[index], have, metric):
            return index
    return reached


def _ended(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> list[int]:
    """Windows not closed yet that have ended by ``now``, oldest first (the order they are written)."""
    tier = state.tier
    closed, metric, ends = tier.closed, tier.metric, plan.ends
    if plan.model.metrics is not None:  # named metrics: their windows close the same way
        metric = dict.fromkeys(named.window_keys(state), ZERO)
    found: list[int] = []
    for k in metric:
        if k not in closed and (ends.get(k) or window_close(compiled, plan, k, state.joined)) <= now:
            found.append(k)
    for k in tier.reached:
        if k not in closed and k not in metric \
                and (ends.get(k) or window_close(compiled, plan, k, state.joined)) <= now:
            found.append(k)
    if len(found) > 1:
        found.sort()
    return found


def _forget_old_windows(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> None:
    """Old windows are forgotten once they grant nothing. With ``downgrade: never`` every
    window's level still counts (the tier is the highest ever reached): only its metric goes."""
    kinds = ("metric",) if plan.never else ("metric", "reached")
    if plan.rolling:
        oldest = window_key(plan.model, now, state.joined) - ROLLING_LOOKBACK - 12
        for which in kinds:
            for key in [k for k in getattr(state.tier, which) if k < oldest]:
                state.put_tier(which, key, FORGET)
        named.forget_windows(state, lambda k: k < oldest)
        return
    keep_until = plan.keep_until if plan.shared else {}
    gone: list[int] = []  # decided before any is forgotten: forgetting one window changes no other's status
    for key in state.tier.closed:
        if (keep_until.get(key) or held_until(compiled, plan, state, key)) <= now:
            gone.append(key)
    metric = state.tier.metric
    if gone and state.tier_metrics:
        named.forget_windows(state, set(gone).__contains__)
    for key in gone:
        if plan.never:
            if key in metric:
                state.put_tier("metric", key, FORGET)
            continue
        for which in ("closed", "reached", "metric"):
            state.put_tier(which, key, FORGET)


def view(compiled: Compiled, state: MemberState, local: dt.datetime) -> TierView | None:
    plan = plan_of(compiled)
    if plan is None:
        return None
    tier = state.tier
    index = _rank(plan, tier.level)
    ahead = plan.ahead[index]
    if plan.model.metrics is not None:  # several metrics: the first here, all of them in the trace
        have = named.values(plan, state, window_key(plan.model, local, state.joined))
        return TierView(plan.names[index], next(iter(have.values())), ahead[0] if ahead is not None else None)
    if plan.calendar:
        metric = tier.metric.get(local.year, ZERO)
    else:
        metric = window_metric(plan, state, window_key(plan.model, local, state.joined))
    to_next = max(ahead[1] - metric, ZERO) if ahead is not None else None
    level = plan.levels[index]
    keep_at = level.keep if isinstance(level.keep, Decimal) else plan.mins[index]  # retention asks less
    keep = keep_at - metric if index > 0 else ZERO  # the lowest level needs nothing to keep
    return TierView(plan.names[index], metric, ahead[0] if ahead is not None else None, to_next,
                    keep if keep > ZERO else None)


def by_metric(compiled: Compiled, state: MemberState, local: dt.datetime) -> dict[str, Any] | None:
    """With several metrics (tiers: metrics:), where the member stands on each at ``local``: what
    each way to the next level and keeping the current one still need (None: one metric, which
    :func:`view` covers)."""
    plan = plan_of(compiled)
    if plan is None or plan.model.metrics is None:
        return None
    have = named.values(plan, state, window_key(plan.model, local, state.joined))
    return named.progress(plan, have, _rank(plan, state.tier.level))


def on_event(run: Run, plan: Plan) -> None:
    """The tier phase: the event's metric counts in its window, and an upgrade is immediate."""
    compiled, state = run.compiled, run.state
    tiers = tier_plan(compiled)
    if tiers.model.metrics is not None:
        _on_named(run, plan, tiers)
        return
    amount = metric_amount(run, plan)
    if amount:
        add_metric(compiled, state, amount, run.now)
    run.effects += upgrade(compiled, state, run.now)


def _on_named(run: Run, plan: Plan, tiers: TierPlan) -> None:
    """Named metrics: each adds what the event gives it; the trace says where the member stands
    on every metric and what each path to the next level still needs."""
    compiled, state = run.compiled, run.state
    amounts = named.event_amounts(run, plan, tiers)
    key = add_metric(compiled, state, amounts, run.now) if amounts else None
    run.effects += upgrade(compiled, state, run.now)
    if key is not None and run.tracing:
        note, shown = named.progress_note(tiers, named.values(tiers, state, key), _rank(tiers, state.tier.level))
        run.trace.append(Step("tiers", "progress", None, note, shown))


def metric_amount(run: Run, plan: Plan) -> Decimal:
    """What this event adds to the qualifying metric."""
    metric = tier_plan(run.compiled).model.metric
    if metric == "spend":
        return run.values().get("amount", ZERO) if plan.is_order else ZERO
    if metric == "points_earned":
        return run.earned
    if isinstance(metric, str):
        return Decimal(1) if metric == f"count({run.event.type})" else ZERO
    if plan.metric is None:
        return ZERO
    try:
        return Decimal(run_rule(plan.metric, run.values(), run.member_view(), run.context(), "tiers.metric"))
    except RuleFailure as exc:
        run.trace.append(Step("tiers", "metric", False, str(exc)))
        return ZERO


def order_window(compiled: Compiled, state: MemberState, local: dt.datetime) -> int | None:
    """The window an order counts in, kept with it so a refund lowers that window's metric."""
    model = compiled.model.tiers
    return None if model is None else window_key(model, local, state.joined)


def on_refund(run: Run, order: OrderRecord, amount: Decimal, clawback: Decimal, metric_view: MetricView) -> None:
    """The refund comes off the metric of the window the order counted in. ``metric_view``
    gives what the rules saw of the order at a given amount, for a custom ``add:`` metric."""
    model = run.compiled.model.tiers
    if model is None or order.window is None:
        return
    if model.metrics is not None:
        lowered_by = named.lowered_by(run, tier_plan(run.compiled), order, amount, clawback, metric_view)
        if lowered_by:
            hold_levels(run.compiled, run.state, order.window, run.now)  # held levels last to the month end
            named.lower_named(run.state, lowered_by, order.window)
        return
    if model.metric == "spend":
        lowered = amount
    elif model.metric == "points_earned":
        lowered = clawback
    elif model.metric is None or isinstance(model.metric, str):
        return  # counts are of events: a refund does not undo one
    else:
        # {on, add} with refund in on: the order's add: before and after the refund (tier_metrics)
        fn = run.compiled.plans[order.type].metric if "refund" in model.metric.on else None
        lowered = named.custom_lowered(run, fn, order, amount, metric_view, "tiers.metric")
        if lowered <= 0:
            return
    hold_levels(run.compiled, run.state, order.window, run.now)  # held levels last to the month end
    run.state.put_tier("metric", order.window, run.state.tier.metric.get(order.window, ZERO) - lowered)


def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> list[dt.datetime]:
    """Close the windows that ended by ``now``; returns when the tiers next need a look."""
    if compiled.model.tiers is None:
        return []
    effects += _end_override(compiled, state, now)
    effects += close_windows(compiled, state, now)
    return deadlines(compiled, state, now)


def _end_override(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """An override never outlives its end date: it goes (audited) and the tier is re-evaluated."""
    override = state.tier_override
    if override is None or now < override[1]:
        return []
    set_override(state, None)
    level, until, by = override
    ended = Effect("tier_override_end", None, None, {"level": level, "until": until, "set_by": by})
    return [ended, *re_evaluate(compiled, state, now, "override ended")]


def set_override(state: MemberState, override: tuple[str, dt.datetime, str] | None) -> None:
    """Replace the member's override (undone with the rest of the event if it fails)."""
    if state.journal is not None:
        state.journal.replaced_attribute(state, "tier_override", state.tier_override)
    state.tier_override = override
