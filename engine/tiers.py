"""Tiers: a qualifying metric per window, immediate upgrades, downgrades at window end.

Model (docs/semantics.md): ``reached[w]`` is the highest level reached during window
``w``; it never goes down while ``w`` is open, so a refund cannot downgrade early.
When ``w`` closes, ``closed[w]`` is the level its final metric (refunds included)
qualifies for, and that status lasts to the end of ``w`` (``keep_through:
this_window``) or of the window after it (``next_window``), plus ``grace``. The
member's tier is the highest level any window still grants.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from . import calendar
from .decision import Effect, TierView
from .state import FORGET, MemberState, ZERO

__all__ = ["window_key", "window_end", "tier_index", "current_level", "add_metric", "upgrade", "close_windows",
           "view", "level_for", "status_deadlines"]


def window_key(tiers, local: dt.datetime, joined: dt.datetime | None) -> int:
    if tiers.window == "calendar_year":
        return local.year
    if tiers.window == "rolling_12_months":
        return local.year * 12 + local.month - 1
    anchor = joined or local
    years = local.year - anchor.year
    if calendar.add_months(anchor.replace(tzinfo=None), 12 * years) > local.replace(tzinfo=None):
        years -= 1
    return years


def window_end(tiers, key: int, joined: dt.datetime | None, tz) -> dt.datetime:
    """The first instant after window ``key``."""
    if tiers.window == "calendar_year":
        return dt.datetime(key + 1, 1, 1, tzinfo=tz)
    if tiers.window == "rolling_12_months":
        return calendar.period_start(key + 1, "month", tz)
    return calendar.add(calendar.local(joined, tz), key + 1, "year", tz)


def level_for(levels, metric: Decimal) -> int:
    index = 0
    for i, level in enumerate(levels):
        if metric >= level.min:
            index = i
    return index


def _metric(tiers, state: MemberState, key: int) -> Decimal:
    if tiers.window == "rolling_12_months":
        return sum((state.tier.metric.get(k, ZERO) for k in range(key - 11, key + 1)), ZERO)
    return state.tier.metric.get(key, ZERO)


def _status_until(tiers, key: int, joined, tz, keep: bool = True, cache: dict | None = None) -> dt.datetime:
    """Until when window ``key`` grants its level: its end, or the next window's end with
    ``keep_through: next_window`` (``keep``), plus ``grace``. Calendar windows do not depend
    on the member, so ``cache`` (the compiled ruleset's) keeps them."""
    if cache is not None and tiers.window != "anniversary_year":
        found = cache.get(("status", key, keep))
        if found is None:
            found = cache[("status", key, keep)] = _status_until(tiers, key, joined, tz, keep)
        return found
    downgrade = tiers.downgrade
    extra = 1 if keep and not isinstance(downgrade, str) and downgrade.keep_through == "next_window" else 0
    if tiers.window == "rolling_12_months" and extra:
        extra = 12  # a rolling status earned in one month is kept for the twelve after it
    end = window_end(tiers, key + extra, joined, tz)
    if not isinstance(downgrade, str) and downgrade.grace is not None:
        end = calendar.add(end, downgrade.grace.amount, downgrade.grace.unit, tz)
    return end


def _status(compiled, state: MemberState, key: int, keep: bool = True) -> dt.datetime:
    return _status_until(compiled.model.tiers, key, state.joined, compiled.tz, keep, compiled.expiry_cache)


def tier_index(compiled, state: MemberState, now: dt.datetime) -> int:
    tiers = compiled.model.tiers
    if isinstance(tiers.downgrade, str):
        return max([*state.tier.reached.values(), *state.tier.closed.values(), 0])
    if tiers.window == "rolling_12_months":
        return _rolling_index(compiled, state, now)
    best = 0
    for key, index in state.tier.reached.items():
        # a level reached during a window holds to its end (plus grace), whatever refunds do to the metric
        if now < _status(compiled, state, key, key not in state.tier.closed):
            best = max(best, index)
    for key, index in state.tier.closed.items():
        if now < _status(compiled, state, key):
            best = max(best, index)
    return best


def _rolling_index(compiled, state: MemberState, now: dt.datetime) -> int:
    """Rolling windows: the trailing twelve months as of each month end still granting status."""
    tiers = compiled.model.tiers
    current = window_key(tiers, now, state.joined)
    best = state.tier.reached.get(current, 0)
    for key in range(current - 1, current - _ROLLING_LOOKBACK, -1):
        if now >= _status(compiled, state, key):
            break
        best = max(best, level_for(tiers.levels, _metric(tiers, state, key)))
    return best


_ROLLING_LOOKBACK = 12 + 12 + 13  # keep_through adds 12 months; grace is bounded by the checker's durations


def status_deadlines(compiled, state: MemberState) -> list[dt.datetime]:
    """Instants at which some window stops granting its level (for housekeeping's schedule)."""
    tiers = compiled.model.tiers
    if isinstance(tiers.downgrade, str):
        return []
    found = [_status(compiled, state, k, k not in state.tier.closed) for k in state.tier.reached]
    found += [_status(compiled, state, k) for k in state.tier.closed]
    return found


def current_level(compiled, state: MemberState):
    tiers = compiled.model.tiers
    if tiers is None:
        return None
    names = [level.name for level in tiers.levels]
    return tiers.levels[names.index(state.tier.level)] if state.tier.level in names else tiers.levels[0]


def add_metric(compiled, state: MemberState, amount: Decimal, local: dt.datetime) -> int:
    key = window_key(compiled.model.tiers, local, state.joined)
    if key not in state.tier.metric:  # a new window will need closing
        state.schedule(window_end(compiled.model.tiers, key, state.joined, compiled.tz))
    state.put_tier("metric", key, state.tier.metric.get(key, ZERO) + amount)
    return key


def _change(compiled, state: MemberState, now: dt.datetime, why: str) -> list[Effect]:
    levels = compiled.model.tiers.levels
    new = levels[tier_index(compiled, state, now)].name
    old = state.tier.level or levels[0].name
    if state.tier.level != new:
        state.set_tier_level(new)
    if new == old:
        return []
    direction = "up" if [lv.name for lv in levels].index(new) > [lv.name for lv in levels].index(old) else "down"
    return [Effect("tier_change", None, None, {"from": old, "to": new, "direction": direction, "why": why})]


def upgrade(compiled, state: MemberState, local: dt.datetime) -> list[Effect]:
    """After an event: the current window's metric may reach a higher level at once."""
    tiers = compiled.model.tiers
    key = window_key(tiers, local, state.joined)
    reached = level_for(tiers.levels, _metric(tiers, state, key))
    if reached > state.tier.reached.get(key, 0):
        state.put_tier("reached", key, reached)
        state.schedule(window_end(tiers, key, state.joined, compiled.tz))
    return _change(compiled, state, local, "threshold reached")


def close_windows(compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """Housekeeping: fix the level of every window that has ended, then re-evaluate."""
    tiers = compiled.model.tiers
    if tiers.window != "rolling_12_months":
        for key in sorted(set(state.tier.metric) | set(state.tier.reached)):
            if key not in state.tier.closed and window_end(tiers, key, state.joined, compiled.tz) <= now:
                state.put_tier("closed", key, level_for(tiers.levels, _metric(tiers, state, key)))
    _forget_old_windows(compiled, state, now)
    return _change(compiled, state, now, "window ended")


def _forget_old_windows(compiled, state: MemberState, now: dt.datetime) -> None:
    tiers = compiled.model.tiers
    if tiers.window == "rolling_12_months":
        oldest = window_key(tiers, now, state.joined) - _ROLLING_LOOKBACK - 12
        for which in ("metric", "reached"):
            for key in [k for k in getattr(state.tier, which) if k < oldest]:
                state.put_tier(which, key, FORGET)
        return
    for key in list(state.tier.closed):
        if _status(compiled, state, key) <= now:
            for which in ("closed", "reached", "metric"):
                state.put_tier(which, key, FORGET)


def view(compiled, state: MemberState, local: dt.datetime) -> TierView | None:
    tiers = compiled.model.tiers
    if tiers is None:
        return None
    names = [level.name for level in tiers.levels]
    current = state.tier.level if state.tier.level in names else names[0]
    index = names.index(current)
    metric = _metric(tiers, state, window_key(tiers, local, state.joined))
    nxt = tiers.levels[index + 1] if index + 1 < len(tiers.levels) else None
    keep = tiers.levels[index].min - metric
    return TierView(current, metric, nxt.name if nxt else None, max(nxt.min - metric, ZERO) if nxt else None,
                    keep if keep > 0 and index > 0 else None)
