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
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from decimal import Decimal

from ..runtime import calendar
from ..runtime.decision import Effect, TierView
from ..runtime.state import FORGET, ZERO, MemberState

__all__ = ["window_key", "window_end", "tier_index", "current_level", "add_metric", "upgrade", "close_windows",
           "view", "level_for", "status_deadlines", "TierPlan", "plan_of", "deadlines", "hold_levels"]


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


class TierPlan:
    """The member-independent part of a ruleset's tiers, worked out once.

    ``keep_until`` / ``end_until`` hold, per window key, when a window's level stops
    counting with and without ``keep_through``; ``ends`` when the window itself ends.
    They are filled on first use, and only for calendar and rolling windows: an
    anniversary window depends on when the member joined."""

    __slots__ = ("model", "levels", "names", "mins", "rank", "ascending", "calendar", "rolling",
                 "never", "grace", "shared", "ends", "keep_until", "end_until", "ahead")

    def __init__(self, tiers) -> None:
        self.model = tiers
        self.levels = tuple(tiers.levels)
        self.names = tuple(level.name for level in self.levels)
        self.mins = tuple(level.min for level in self.levels)
        self.rank: dict[str, int] = {}
        for i, name in enumerate(self.names):
            self.rank.setdefault(name, i)  # names.index() finds the first
        self.ascending = all(a <= b for a, b in zip(self.mins, self.mins[1:]))
        self.calendar = tiers.window == "calendar_year"
        self.rolling = tiers.window == "rolling_12_months"
        self.never = isinstance(tiers.downgrade, str)
        self.grace = not self.never and tiers.downgrade.grace is not None
        self.shared = tiers.window != "anniversary_year"  # deadlines the same for every member
        self.ends: dict[int, dt.datetime] = {}
        self.keep_until: dict[int, dt.datetime] = {}
        self.end_until: dict[int, dt.datetime] = {}
        # per level index: (next level's name, its threshold), or None at the top
        self.ahead = tuple((self.names[i + 1], self.mins[i + 1]) if i + 1 < len(self.levels) else None
                           for i in range(len(self.levels)))


_PLAN = "tiers.plan"  # the key of the plan in ``compiled.expiry_cache``


def plan_of(compiled) -> TierPlan | None:
    """The ruleset's tier plan (None without tiers); rebuilt if the model was replaced."""
    tiers = compiled.model.tiers
    plan = compiled.expiry_cache.get(_PLAN)
    if plan is None or plan.model is not tiers:
        if tiers is None:
            return None
        plan = compiled.expiry_cache[_PLAN] = TierPlan(tiers)
    return plan


def _level(plan: TierPlan, metric: Decimal) -> int:
    """``level_for`` on the plan: thresholds in order make the levels reached a prefix."""
    if plan.ascending:
        found = bisect_right(plan.mins, metric) - 1
        return found if found > 0 else 0
    return level_for(plan.levels, metric)


def _end(compiled, plan: TierPlan, key: int, joined: dt.datetime | None) -> dt.datetime:
    if not plan.shared:
        return window_end(plan.model, key, joined, compiled.tz)
    found = plan.ends.get(key)
    if found is None:
        found = plan.ends[key] = window_end(plan.model, key, joined, compiled.tz)
    return found


def _metric(plan: TierPlan, state: MemberState, key: int) -> Decimal:
    if plan.rolling:
        return sum((state.tier.metric.get(k, ZERO) for k in range(key - 11, key + 1)), ZERO)
    return state.tier.metric.get(key, ZERO)


def _status_until(tiers, key: int, joined, tz, keep: bool = True) -> dt.datetime:
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


def _status(compiled, plan: TierPlan, state: MemberState, key: int, keep: bool = True) -> dt.datetime:
    if not plan.shared:
        return _status_until(plan.model, key, state.joined, compiled.tz, keep)
    cache = plan.keep_until if keep else plan.end_until
    found = cache.get(key)
    if found is None:
        found = cache[key] = _status_until(plan.model, key, None, compiled.tz, keep)
    return found


def tier_index(compiled, state: MemberState, now: dt.datetime) -> int:
    return _index(compiled, plan_of(compiled), state, now)


def _index(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
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
                or _status(compiled, plan, state, key, key not in closed)
            if now < until:
                best = index
    for key, index in closed.items():
        if index > best and now < (keep_until.get(key) or _status(compiled, plan, state, key)):
            best = index
    return best


def _member_index(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    """Anniversary windows: the same as above, with deadlines that depend on the member."""
    closed = state.tier.closed
    best = 0
    for key, index in state.tier.reached.items():
        if index > best and now < _status(compiled, plan, state, key, key not in closed):
            best = index
    for key, index in closed.items():
        if index > best and now < _status(compiled, plan, state, key):
            best = index
    return best


def _rolling_index(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> int:
    """Rolling windows: the level the trailing metric meets now, or a higher one held in a
    month whose status still lasts. A month holds the level its trailing metric meets and
    every level reached during it (``reached``), so a refund lowers the level only once the
    month is over; ``keep_through: next_window`` and ``grace`` make earlier months last longer."""
    current = window_key(plan.model, now, state.joined)
    reached = state.tier.reached
    best = max(reached.get(current, 0), _level(plan, _metric(plan, state, current)))
    for key in range(current - 1, current - _ROLLING_LOOKBACK, -1):
        if now >= _status(compiled, plan, state, key):
            break  # deadlines grow with the key: no older month lasts longer
        best = max(best, reached.get(key, 0), _level(plan, _metric(plan, state, key)))
    return best


def hold_levels(compiled, state: MemberState, first: int, now: dt.datetime) -> None:
    """Rolling windows, before a refund lowers the metric of month ``first``: record the level
    each month from ``first`` on held, where its status still lasts, so the refund cannot take
    back a level already held (it lowers the level from the end of the month, as a window end)."""
    plan = plan_of(compiled)
    if plan is None or not plan.rolling or plan.never:
        return
    current = window_key(plan.model, now, state.joined)
    for key in range(current, max(first, current - _ROLLING_LOOKBACK + 1) - 1, -1):
        if key < current and now >= _status(compiled, plan, state, key):
            break
        level = _level(plan, _metric(plan, state, key))
        if level > state.tier.reached.get(key, 0):
            state.put_tier("reached", key, level)


def _rolling_deadline(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> dt.datetime | None:
    """With ``grace`` a month's status ends mid-month, after the month ends: the first such end
    after ``now`` (without grace they are month starts, which the current month's end covers)."""
    current = window_key(plan.model, now, state.joined)
    for key in range(current - _ROLLING_LOOKBACK, current + 1):
        until = _status(compiled, plan, state, key)
        if until > now:
            return until
    return None


_ROLLING_LOOKBACK = 12 + 12 + 13  # keep_through adds 12 months; grace is bounded by the checker's durations


def status_deadlines(compiled, state: MemberState) -> list[dt.datetime]:
    """Instants at which some window stops granting its level (for housekeeping's schedule)."""
    plan = plan_of(compiled)
    if plan.never:
        return []
    closed = state.tier.closed
    if not plan.shared:
        found = [_status(compiled, plan, state, k, k not in closed) for k in state.tier.reached]
        found += [_status(compiled, plan, state, k) for k in closed]
        return found
    keep_until, end_until = plan.keep_until, plan.end_until
    found = [(end_until if k in closed else keep_until).get(k) or _status(compiled, plan, state, k, k not in closed)
             for k in state.tier.reached]
    found += [keep_until.get(k) or _status(compiled, plan, state, k) for k in closed]
    return found


def current_level(compiled, state: MemberState):
    plan = plan_of(compiled)
    if plan is None:
        return None
    return plan.levels[plan.rank.get(state.tier.level, 0)]


def deadlines(compiled, state: MemberState, now: dt.datetime) -> list[dt.datetime]:
    """When housekeeping must next look at the tiers: the end of the window ``now`` falls in,
    then every status deadline after ``now``."""
    plan = plan_of(compiled)
    if plan is None:
        return []
    key = now.year if plan.calendar else window_key(plan.model, now, state.joined)
    found = [_end(compiled, plan, key, state.joined)]
    found += [d for d in status_deadlines(compiled, state) if d > now]
    if plan.rolling and plan.grace:
        found += [d for d in (_rolling_deadline(compiled, plan, state, now),) if d is not None]
    return found


def add_metric(compiled, state: MemberState, amount: Decimal, local: dt.datetime) -> int:
    plan = plan_of(compiled)
    key = local.year if plan.calendar else window_key(plan.model, local, state.joined)
    metric = state.tier.metric
    if key not in metric:  # a new window will need closing
        state.schedule(_end(compiled, plan, key, state.joined))
    state.put_tier("metric", key, metric.get(key, ZERO) + amount)
    return key


def _change(compiled, plan: TierPlan, state: MemberState, now: dt.datetime, why: str) -> list[Effect]:
    new = plan.names[_index(compiled, plan, state, now)]
    level = state.tier.level
    old = level or plan.names[0]
    if level != new:
        state.set_tier_level(new)
    if new == old:
        return []
    rank = plan.rank
    if old not in rank:
        list(plan.names).index(old)  # an unknown level fails as it always has (ValueError)
    direction = "up" if rank[new] > rank[old] else "down"
    return [Effect("tier_change", None, None, {"from": old, "to": new, "direction": direction, "why": why})]


def upgrade(compiled, state: MemberState, local: dt.datetime) -> list[Effect]:
    """After an event: the current window's metric may reach a higher level at once."""
    plan = plan_of(compiled)
    key = local.year if plan.calendar else window_key(plan.model, local, state.joined)
    reached = _level(plan, _metric(plan, state, key))
    if reached > state.tier.reached.get(key, 0):
        state.put_tier("reached", key, reached)
        state.schedule(_end(compiled, plan, key, state.joined))
    return _change(compiled, plan, state, local, "threshold reached")


def close_windows(compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """Housekeeping: fix the level of every window that has ended, then re-evaluate."""
    plan = plan_of(compiled)
    if not plan.rolling:
        for key in _ended(compiled, plan, state, now):
            state.put_tier("closed", key, _level(plan, _metric(plan, state, key)))
    _forget_old_windows(compiled, plan, state, now)
    return _change(compiled, plan, state, now, "window ended")


def _ended(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> list[int]:
    """Windows not closed yet that have ended by ``now``, oldest first (the order they are written)."""
    tier = state.tier
    closed, metric, ends = tier.closed, tier.metric, plan.ends
    found = []
    for k in metric:
        if k not in closed and (ends.get(k) or _end(compiled, plan, k, state.joined)) <= now:
            found.append(k)
    for k in tier.reached:
        if k not in closed and k not in metric and (ends.get(k) or _end(compiled, plan, k, state.joined)) <= now:
            found.append(k)
    if len(found) > 1:
        found.sort()
    return found


def _forget_old_windows(compiled, plan: TierPlan, state: MemberState, now: dt.datetime) -> None:
    """Old windows are forgotten once they grant nothing. With ``downgrade: never`` every
    window's level still counts (the tier is the highest ever reached): only its metric goes."""
    kinds = ("metric",) if plan.never else ("metric", "reached")
    if plan.rolling:
        oldest = window_key(plan.model, now, state.joined) - _ROLLING_LOOKBACK - 12
        for which in kinds:
            for key in [k for k in getattr(state.tier, which) if k < oldest]:
                state.put_tier(which, key, FORGET)
        return
    keep_until = plan.keep_until if plan.shared else {}
    gone = []  # decided before any is forgotten: forgetting one window changes no other's status
    for key in state.tier.closed:
        if (keep_until.get(key) or _status(compiled, plan, state, key)) <= now:
            gone.append(key)
    metric = state.tier.metric
    for key in gone:
        if plan.never:
            if key in metric:
                state.put_tier("metric", key, FORGET)
            continue
        for which in ("closed", "reached", "metric"):
            state.put_tier(which, key, FORGET)


def view(compiled, state: MemberState, local: dt.datetime) -> TierView | None:
    plan = plan_of(compiled)
    if plan is None:
        return None
    tier = state.tier
    index = plan.rank.get(tier.level, 0)
    if plan.calendar:
        metric = tier.metric.get(local.year, ZERO)
    else:
        metric = _metric(plan, state, window_key(plan.model, local, state.joined))
    ahead = plan.ahead[index]
    to_next = max(ahead[1] - metric, ZERO) if ahead is not None else None
    keep = plan.mins[index] - metric if index > 0 else ZERO  # the lowest level needs nothing to keep
    return TierView(plan.names[index], metric, ahead[0] if ahead is not None else None, to_next,
                    keep if keep > ZERO else None)

