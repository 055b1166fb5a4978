"""Tier windows: which window an instant falls in, when it ends, what level a metric
reaches, and how long a window's level lasts (docs/semantics.md). The member-independent
parts are kept on the ruleset's :class:`~engine.program.TierPlan`; :mod:`.tiers` uses them
for what tiers do to an event, their deadlines and their housekeeping."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from punchcard.dsl.model import TierLevel, Tiers

from ..program import Compiled, TierPlan
from ..runtime import calendar
from ..runtime.state import ZERO, MemberState
from .tier_metrics import level_reached, values

__all__ = ["window_key", "window_end", "level_for", "plan_of", "tier_plan", "level_of", "window_close", "window_metric",
           "held_until", "tier_index", "window_level", "override_index", "level_index", "hold_levels",
           "rolling_deadline", "ROLLING_LOOKBACK", "status_deadlines"]


def window_key(tiers: Tiers, local: dt.datetime, joined: dt.datetime | None) -> int:
    if tiers.window == "calendar_year":
        return local.year
    if tiers.window == "rolling_12_months":
        return local.year * 12 + local.month - 1
    anchor = joined or local
    years = local.year - anchor.year
    if calendar.add_months(anchor.replace(tzinfo=None), 12 * years) > local.replace(tzinfo=None):
        years -= 1
    return years


def window_end(tiers: Tiers, key: int, joined: dt.datetime | None, tz: ZoneInfo) -> dt.datetime:
    """The first instant after window ``key``."""
    if tiers.window == "calendar_year":
        return dt.datetime(key + 1, 1, 1, tzinfo=tz)
    if tiers.window == "rolling_12_months":
        return calendar.period_start(key + 1, "month", tz)
    if joined is None:  # the engine sets it on a member's first event, before any window is looked at
        raise ValueError("an anniversary window is counted from the day the member joined, which is not known")
    return calendar.add(calendar.local(joined, tz), key + 1, "year", tz)


def level_for(levels: Sequence[TierLevel], metric: Decimal) -> int:
    index = 0
    for i, level in enumerate(levels):
        if level.min is not None and metric >= level.min:  # every level has one with tiers.metric
            index = i
    return index


def plan_of(compiled: Compiled) -> TierPlan | None:
    """The ruleset's tier plan (None without tiers)."""
    return compiled.tier_plan


def tier_plan(compiled: Compiled) -> TierPlan:
    """The tier plan of a ruleset that has tiers (what runs only with tiers asks for it)."""
    plan = compiled.tier_plan
    if plan is None:
        raise ValueError(f"{compiled.label} has no tiers")
    return plan


def level_of(plan: TierPlan, metric: Decimal) -> int:
    """``level_for`` on the plan: thresholds in order make the levels reached a prefix."""
    if plan.ascending:
        found = bisect_right(plan.mins, metric) - 1
        return found if found > 0 else 0
    return level_for(plan.levels, metric)


def window_close(compiled: Compiled, plan: TierPlan, key: int, joined: dt.datetime | None) -> dt.datetime:
    if not plan.shared:
        return window_end(plan.model, key, joined, compiled.tz)
    found = plan.ends.get(key)
    if found is None:
        found = plan.ends[key] = window_end(plan.model, key, joined, compiled.tz)
    return found


def window_metric(plan: TierPlan, state: MemberState, key: int) -> Decimal:
    if plan.rolling:
        return sum((state.tier.metric.get(k, ZERO) for k in range(key - 11, key + 1)), ZERO)
    return state.tier.metric.get(key, ZERO)


def window_level(plan: TierPlan, state: MemberState, key: int) -> int:
    """The level window ``key``'s metric reaches (named metrics: :mod:`.tier_metrics`)."""
    if plan.model.metrics is not None:
        return level_reached(plan, values(plan, state, key))
    return level_of(plan, window_metric(plan, state, key))


def override_index(plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    """The level a manual override in force holds the member at (0: none, or it has ended)."""
    override = state.tier_override
    if override is None or now >= override[1]:
        return 0
    return plan.rank.get(override[0], 0)


def _status_until(tiers: Tiers, key: int, joined: dt.datetime | None, tz: ZoneInfo, keep: bool = True) -> dt.datetime:
    """Until when window ``key`` grants its level: its end, or the next window's end with
    ``keep_through: next_window`` (``keep``), plus ``grace``."""
    downgrade = tiers.downgrade
    extra = 1 if keep and not isinstance(downgrade, str) and downgrade.keep_through == "next_window" else 0
    if tiers.window == "rolling_12_months" and extra:
        extra = 12  # a rolling status earned in one month is kept for the twelve after it
    end = window_end(tiers, key + extra, joined, tz)
    if not isinstance(downgrade, str) and downgrade.grace is not None:
        end = calendar.add(end, downgrade.grace.amount, downgrade.grace.unit, tz)
    return end


def held_until(compiled: Compiled, plan: TierPlan, state: MemberState, key: int, keep: bool = True) -> dt.datetime:
    if not plan.shared:
        return _status_until(plan.model, key, state.joined, compiled.tz, keep)
    cache = plan.keep_until if keep else plan.end_until
    found = cache.get(key)
    if found is None:
        found = cache[key] = _status_until(plan.model, key, None, compiled.tz, keep)
    return found


def tier_index(compiled: Compiled, state: MemberState, now: dt.datetime) -> int:
    return level_index(compiled, tier_plan(compiled), state, now)


def level_index(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    tier = state.tier
    if plan.never:
        return max([*tier.reached.values(), *tier.closed.values(), 0])
    if plan.rolling:
        return _rolling_index(compiled, plan, state, now)
    if not plan.shared:
        return _member_index(compiled, plan, state, now)
    closed, keep_until, end_until = tier.closed, plan.keep_until, plan.end_until
    best = 0
    # only a window that would raise the level needs its deadline looked up
    for key, index in tier.reached.items():
        # a level reached during a window holds to its end (plus grace), whatever refunds do to the metric
        if index > best:
            until = (end_until if key in closed else keep_until).get(key) \
                or held_until(compiled, plan, state, key, key not in closed)
            if now < until:
                best = index
    for key, index in closed.items():
        if index > best and now < (keep_until.get(key) or held_until(compiled, plan, state, key)):
            best = index
    return best


def _member_index(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    """Anniversary windows: the same as above, with deadlines that depend on the member."""
    closed = state.tier.closed
    best = 0
    for key, index in state.tier.reached.items():
        if index > best and now < held_until(compiled, plan, state, key, key not in closed):
            best = index
    for key, index in closed.items():
        if index > best and now < held_until(compiled, plan, state, key):
            best = index
    return best


def _rolling_index(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    """Rolling windows: the level the trailing metric meets now, or a higher one held in a
    month whose status still lasts. A month holds the level its trailing metric meets and
    every level reached during it (``reached``), so a refund lowers the level only once the
    month is over; ``keep_through: next_window`` and ``grace`` make earlier months last longer."""
    current = window_key(plan.model, now, state.joined)
    reached = state.tier.reached
    best = max(reached.get(current, 0), window_level(plan, state, current))
    for key in range(current - 1, current - ROLLING_LOOKBACK, -1):
        if now >= held_until(compiled, plan, state, key):
            break  # deadlines grow with the key: no older month lasts longer
        best = max(best, reached.get(key, 0), window_level(plan, state, key))
    return best


def hold_levels(compiled: Compiled, state: MemberState, first: int, now: dt.datetime) -> None:
    """Rolling windows, before a refund lowers the metric of month ``first``: record the level
    each month from ``first`` on held, where its status still lasts, so the refund cannot take
    back a level already held (it lowers the level from the end of the month, as a window end)."""
    plan = plan_of(compiled)
    if plan is None or not plan.rolling or plan.never:
        return
    current = window_key(plan.model, now, state.joined)
    for key in range(current, max(first, current - ROLLING_LOOKBACK + 1) - 1, -1):
        if key < current and now >= held_until(compiled, plan, state, key):
            break
        level = window_level(plan, state, key)
        if level > state.tier.reached.get(key, 0):
            state.put_tier("reached", key, level)


def rolling_deadline(compiled: Compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> dt.datetime | None:
    """With ``grace`` a month's status ends mid-month, after the month ends: the first such end
    after ``now`` (without grace they are month starts, which the current month's end covers)."""
    current = window_key(plan.model, now, state.joined)
    for key in range(current - ROLLING_LOOKBACK, current + 1):
        until = held_until(compiled, plan, state, key)
        if until > now:
            return until
    return None


ROLLING_LOOKBACK = 12 + 12 + 13  # keep_through adds 12 months; grace is bounded by the checker's durations


def status_deadlines(compiled: Compiled, state: MemberState) -> list[dt.datetime]:
    """Instants at which some window stops granting its level (for housekeeping's schedule)."""
    plan = tier_plan(compiled)
    if plan.never:
        return []
    closed = state.tier.closed
    if not plan.shared:
        found = [held_until(compiled, plan, state, k, k not in closed) for k in state.tier.reached]
        found += [held_until(compiled, plan, state, k) for k in closed]
        return found
    keep_until, end_until = plan.keep_until, plan.end_until
    found = [(end_until if k in closed else keep_until).get(k) or held_until(compiled, plan, state, k, k not in closed)
             for k in state.tier.reached]
    found += [keep_until.get(k) or held_until(compiled, plan, state, k) for k in closed]
    return found
