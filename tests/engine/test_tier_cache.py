"""The tier plan (levels, thresholds and window deadlines worked out once per ruleset)
never changes a result: every tier function gives what the plain computation gives, for
any windows, levels and instant, with the plan's caches cold or warm."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.policies import tier_windows, tiers
from punchcard.engine.program import TierPlan
from punchcard.engine.runtime import calendar
from punchcard.engine.runtime.decision import Effect, TierView
from punchcard.engine.runtime.state import FORGET, ZERO, MemberState, TierState

RULESET = """punchcard: 1
ruleset: tier-cache
version: 1.0.0
timezone: Europe/Paris
currency: EUR
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
tiers: %s
"""
LEVELS = [{"name": "member", "min": 0}, {"name": "silver", "min": 1000, "earn_multiplier": 1.25},
          {"name": "gold", "min": 5000, "earn_multiplier": 1.5}, {"name": "star", "min": 5000.5}]
DOWNGRADES = ["never", {"keep_through": "this_window"}, {"keep_through": "next_window"},
              {"keep_through": "next_window", "grace": "1 month"}, {"keep_through": "this_window", "grace": "10 days"}]
WINDOWS = ["calendar_year", "rolling_12_months", "anniversary_year"]
COMPILED = {(w, i): compile_ruleset(RULESET % json.dumps({"metric": "spend", "window": w, "levels": LEVELS,
                                                          "downgrade": d}))
            for w in WINDOWS for i, d in enumerate(DOWNGRADES)}
TZ = COMPILED["calendar_year", 0].tz


# -- the plain computation, as it was before the plan --------------------------------------
def _status_until(model, key, joined, tz, keep=True):
    downgrade = model.downgrade
    extra = 1 if keep and not isinstance(downgrade, str) and downgrade.keep_through == "next_window" else 0
    if model.window == "rolling_12_months" and extra:
        extra = 12
    end = tier_windows.window_end(model, key + extra, joined, tz)
    if not isinstance(downgrade, str) and downgrade.grace is not None:
        end = calendar.add(end, downgrade.grace.amount, downgrade.grace.unit, tz)
    return end


def _metric(model, state, key):
    if model.window == "rolling_12_months":
        return sum((state.tier.metric.get(k, ZERO) for k in range(key - 11, key + 1)), ZERO)
    return state.tier.metric.get(key, ZERO)


def _status(c, state, key, keep=True):
    return _status_until(c.model.tiers, key, state.joined, c.tz, keep)


def ref_tier_index(c, state, now):
    model = c.model.tiers
    if isinstance(model.downgrade, str):
        return max([*state.tier.reached.values(), *state.tier.closed.values(), 0])
    if model.window == "rolling_12_months":
        current = tier_windows.window_key(model, now, state.joined)
        best = max(state.tier.reached.get(current, 0),
                   tier_windows.level_for(model.levels, _metric(model, state, current)))
        for key in range(current - 1, current - 37, -1):
            if now >= _status(c, state, key):
                break
            best = max(best, state.tier.reached.get(key, 0),
                       tier_windows.level_for(model.levels, _metric(model, state, key)))
        return best
    best = 0
    for key, index in state.tier.reached.items():
        if now < _status(c, state, key, key not in state.tier.closed):
            best = max(best, index)
    for key, index in state.tier.closed.items():
        if now < _status(c, state, key):
            best = max(best, index)
    return best


def ref_status_deadlines(c, state):
    if isinstance(c.model.tiers.downgrade, str):
        return []
    return [_status(c, state, k, k not in state.tier.closed) for k in state.tier.reached] + \
        [_status(c, state, k) for k in state.tier.closed]


def ref_change(c, state, now, why):
    levels = c.model.tiers.levels
    new = levels[ref_tier_index(c, state, now)].name
    old = state.tier.level or levels[0].name
    if state.tier.level != new:
        state.set_tier_level(new)
    if new == old:
        return []
    names = [lv.name for lv in levels]
    direction = "up" if names.index(new) > names.index(old) else "down"
    return [Effect("tier_change", None, None, {"from": old, "to": new, "direction": direction, "why": why})]


def ref_upgrade(c, state, local):
    model = c.model.tiers
    key = tier_windows.window_key(model, local, state.joined)
    reached = tier_windows.level_for(model.levels, _metric(model, state, key))
    if reached > state.tier.reached.get(key, 0):
        state.put_tier("reached", key, reached)
        state.schedule(tier_windows.window_end(model, key, state.joined, c.tz))
    return ref_change(c, state, local, "threshold reached")


def ref_add_metric(c, state, amount, local):
    key = tier_windows.window_key(c.model.tiers, local, state.joined)
    if key not in state.tier.metric:
        state.schedule(tier_windows.window_end(c.model.tiers, key, state.joined, c.tz))
    state.put_tier("metric", key, state.tier.metric.get(key, ZERO) + amount)
    return key


def ref_close_windows(c, state, now):
    model = c.model.tiers
    never = model.downgrade == "never"  # levels are kept for good: only metrics are forgotten
    if model.window != "rolling_12_months":
        for key in sorted(set(state.tier.metric) | set(state.tier.reached)):
            if key not in state.tier.closed and tier_windows.window_end(model, key, state.joined, c.tz) <= now:
                state.put_tier("closed", key, tier_windows.level_for(model.levels, _metric(model, state, key)))
        for key in list(state.tier.closed):
            if _status(c, state, key) <= now:
                for which in ("metric",) if never else ("closed", "reached", "metric"):
                    if which in ("closed", "reached") or key in state.tier.metric:
                        state.put_tier(which, key, FORGET)
    else:
        oldest = tier_windows.window_key(model, now, state.joined) - 37 - 12
        for which in ("metric",) if never else ("metric", "reached"):
            for key in [k for k in getattr(state.tier, which) if k < oldest]:
                state.put_tier(which, key, FORGET)
    return ref_change(c, state, now, "window ended")


def ref_view(c, state, local):
    model = c.model.tiers
    names = [level.name for level in model.levels]
    current = state.tier.level if state.tier.level in names else names[0]
    index = names.index(current)
    metric = _metric(model, state, tier_windows.window_key(model, local, state.joined))
    nxt = model.levels[index + 1] if index + 1 < len(model.levels) else None
    keep = model.levels[index].min - metric
    return TierView(current, metric, nxt.name if nxt else None, max(nxt.min - metric, ZERO) if nxt else None,
                    keep if keep > 0 and index > 0 else None)


# -- states and instants ------------------------------------------------------------------
def instants():
    local = st.datetimes(dt.datetime(2023, 1, 1), dt.datetime(2029, 12, 31)).map(lambda d: d.replace(tzinfo=TZ))
    edges = st.builds(lambda y, m, s: dt.datetime(y, m, 1, tzinfo=TZ) + dt.timedelta(seconds=s),
                      st.integers(2024, 2029), st.integers(1, 12), st.integers(-2, 2))
    return st.one_of(local, edges, local.map(lambda d: d.astimezone(dt.UTC)))


def _keys(window):
    if window == "calendar_year":
        return st.integers(2023, 2029)
    if window == "rolling_12_months":
        return st.integers(2023 * 12, 2029 * 12 + 11)
    return st.integers(0, 5)


@st.composite
def cases(draw):
    window = draw(st.sampled_from(WINDOWS))
    compiled = COMPILED[window, draw(st.integers(0, len(DOWNGRADES) - 1))]
    keys = _keys(window)
    amounts = st.decimals(0, 30000, places=2, allow_nan=False)
    tier = TierState(draw(st.sampled_from([None, "member", "silver", "gold", "star"])),
                     draw(st.dictionaries(keys, amounts, max_size=4)),
                     draw(st.dictionaries(keys, st.integers(0, 3), max_size=4)),
                     draw(st.dictionaries(keys, st.integers(0, 3), max_size=3)))
    joined = draw(instants().map(lambda d: d.astimezone(TZ)))
    state = MemberState("m", joined=joined, tier=tier, due=draw(st.none() | instants()))
    return compiled, state, draw(instants().map(lambda d: d.astimezone(TZ)))


def _both(fast, slow, state, *args):
    """Run both on copies of ``state``: the same result and the same state after."""
    a, b = state.clone(), state.clone()
    assert fast(*args[:1], a, *args[1:]) == slow(*args[:1], b, *args[1:])
    assert a == b and a.tier == b.tier and a.due == b.due
    for which in ("metric", "reached", "closed"):  # stored states keep the order windows were written in
        assert list(getattr(a.tier, which)) == list(getattr(b.tier, which))


@settings(max_examples=400, deadline=None)
@given(cases())
def test_reads_equal_the_plain_computation(case):
    compiled, state, now = case
    assert tier_windows.tier_index(compiled, state, now) == ref_tier_index(compiled, state, now)
    assert tier_windows.status_deadlines(compiled, state) == ref_status_deadlines(compiled, state)
    assert tiers.view(compiled, state, now) == ref_view(compiled, state, now)
    names = [lv.name for lv in compiled.model.tiers.levels]
    level = compiled.model.tiers.levels[names.index(state.tier.level) if state.tier.level in names else 0]
    assert tiers.current_level(compiled, state) is level
    model = compiled.model.tiers
    key = tier_windows.window_key(model, now, state.joined)
    expected = [tier_windows.window_end(model, key, state.joined, compiled.tz)]
    expected += [d for d in ref_status_deadlines(compiled, state) if d > now]
    if model.window == "rolling_12_months" and not isinstance(model.downgrade, str) and model.downgrade.grace:
        expected.append(min(d for d in (_status(compiled, state, k) for k in range(key - 37, key + 1)) if d > now))
    assert tiers.deadlines(compiled, state, now) == expected


@settings(max_examples=400, deadline=None)
@given(cases(), st.decimals(-2000, 8000, places=2, allow_nan=False))
def test_writes_equal_the_plain_computation(case, amount):
    compiled, state, now = case
    _both(tiers.upgrade, ref_upgrade, state, compiled, now)
    _both(tiers.close_windows, ref_close_windows, state, compiled, now)
    _both(tiers.add_metric, ref_add_metric, state, compiled, amount, now)
    added = state.clone()
    tiers.add_metric(compiled, added, amount, now)
    _both(tiers.upgrade, ref_upgrade, added, compiled, now)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(0, 100, places=1, allow_nan=False), min_size=1, max_size=5),
       st.decimals(-10, 110, places=2, allow_nan=False))
def test_the_level_lookup_equals_the_scan_with_thresholds_in_any_order(mins, metric):
    from types import SimpleNamespace as NS

    levels = [NS(name=f"l{i}", min=m) for i, m in enumerate(mins)]
    plan = TierPlan(NS(levels=levels, window="calendar_year", downgrade="never"))
    assert tier_windows.level_of(plan, metric) == tier_windows.level_for(levels, metric)


def test_a_ruleset_without_tiers():
    plain = compile_ruleset(RULESET.replace("tiers: %s\n", ""))
    state = MemberState("m")
    assert tier_windows.plan_of(plain) is None
    assert tiers.current_level(plain, state) is None and tiers.view(plain, state, dt.datetime(2026, 1, 1)) is None
    assert tiers.deadlines(plain, state, dt.datetime(2026, 1, 1, tzinfo=TZ)) == []


def test_a_replaced_model_gets_its_own_plan():
    """``dataclasses.replace`` keeps the cache dict: the plan must follow the model, not the dict."""
    this = COMPILED["calendar_year", 1]  # a status lasts to the window's end
    other = dataclasses.replace(this, model=COMPILED["calendar_year", 3].model)  # a year more, and grace
    assert other.memo is this.memo
    assert tier_windows.plan_of(other).model is other.model.tiers
    assert tier_windows.plan_of(this).model is this.model.tiers
    state = MemberState("m", joined=dt.datetime(2026, 1, 1, tzinfo=TZ), tier=TierState(None, {}, {2026: 2}, {2025: 1}))
    for moment in (dt.datetime(2026, 6, 1, tzinfo=TZ), dt.datetime(2027, 6, 1, tzinfo=TZ)):
        for compiled in (this, other, this):
            assert tier_windows.status_deadlines(compiled, state) == ref_status_deadlines(compiled, state)
            assert tier_windows.tier_index(compiled, state, moment) == ref_tier_index(compiled, state, moment)


def test_an_unknown_level_fails_the_same_way():
    compiled = COMPILED["calendar_year", 2]
    state = MemberState("m", tier=TierState("retired", {2026: Decimal(6000)}, {2026: 2}, {}))
    now = dt.datetime(2026, 5, 1, tzinfo=TZ)
    with pytest.raises(ValueError) as fast:
        tiers.upgrade(compiled, state.clone(), now)
    with pytest.raises(ValueError) as slow:
        ref_upgrade(compiled, state.clone(), now)
    assert str(fast.value) == str(slow.value)
