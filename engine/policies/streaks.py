"""Streaks and achievements: consecutive local periods (day, week, month) with qualifying
activity, and badges won once.

This module owns what they do to an event (:func:`on_event`), the deadline a streak
needs (:func:`deadlines`: the start of the first period its freezes cannot cover) and
their housekeeping (:func:`housekeep`: breaking streaks whose periods were missed, and
saying a streak is at risk shortly before, when a ruleset's messages ask for it).

A missed period uses a freeze if one is left, otherwise the streak breaks. Rewards:
``at: N`` pays once when the streak reaches N, ``every: N`` at each multiple of N,
``each: period`` for every new qualifying period. A milestone pays once per streak
run: a broken streak starts a new run.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from punchcard.dsl.model import Streak, StreakReward

from ..program import Compiled, ExprFn, Plan
from ..runtime import calendar
from ..runtime.calendar import period_key
from ..runtime.decision import Effect, Step
from ..runtime.events import reward_lot_id
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Run
from ..runtime.state import ZERO, CapUsage, MemberState, StreakState
from .earning import at_most_max
from .earning_limits import round_points
from .lifecycle.lots import add_lot

__all__ = ["on_event", "housekeep", "deadlines", "streak_deadline", "advance", "check_break", "due_rewards"]


def on_event(run: Run, plan: Plan) -> None:
    """The streaks and achievements this event counts towards, and their bonuses."""
    for streak, when, bonuses in plan.streaks:
        if when is not None and not _holds(run, when, f"streak:{streak.id}"):
            continue
        state, effects, counted = advance(streak, run.state.streaks.get(streak.id), run.now)
        run.effects += effects
        if counted:
            state, due = due_rewards(streak, state)
            run.context().streak_length = state.length
            for label, reward in due:
                _bonus(run, label, f"streak:{label}", bonuses[id(reward)])
        run.state.put("streaks", streak.id, state)
        deadline = streak_deadline(streak, state, run.compiled.tz)
        run.state.schedule(deadline)
        if deadline is not None and run.compiled.streak_warning is not None:
            run.state.schedule(deadline - run.compiled.streak_warning)  # the at-risk warning
    for achievement, when, bonus in plan.achievements:
        if achievement.id in run.state.badges or not _holds(run, when, f"achievement:{achievement.id}"):
            continue
        run.state.badges = run.state.badges | {achievement.id}
        run.effects.append(Effect("badge", None, None, {"achievement": achievement.id, "badge": achievement.badge}))
        if bonus is not None:
            _bonus(run, f"achievement:{achievement.id}", f"achievement:{achievement.id}", bonus)


def _bonus(run: Run, label: str, source: str, fn: ExprFn) -> None:
    """A streak's or an achievement's bonus: rounded as earning rounds, held as the event is."""
    try:
        raw = Decimal(run_rule(fn, run.values(), run.member_view(), run.context(), label))
    except RuleFailure as exc:
        run.trace.append(Step("streaks", label, False, str(exc)))
        return
    rounding = run.compiled.model.rounding
    points = round_points(max(raw, ZERO), rounding.mode, rounding.step)
    at_most_max(points)
    run.trace.append(Step("streaks", label, True, "bonus", before=raw, after=points))
    if points > 0:
        lot_id = reward_lot_id(run.event.id, source)
        run.effects += add_lot(run.compiled, run.state, lot_id, source, points, run.now, order=run.event.id,
                               hold=run.hold)
        run.points += points


def _holds(run: Run, fn: ExprFn, label: str) -> bool:
    try:
        return bool(run_rule(fn, run.values(), run.member_view(), run.context(), label))
    except RuleFailure as exc:
        run.trace.append(Step("streaks", label, False, str(exc)))
        return False


def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> list[dt.datetime]:
    """Break the streaks whose missed periods exceed their freezes; returns their deadlines."""
    if not compiled.model.streaks:
        return []
    local = calendar.local(now, compiled.tz)
    for streak in compiled.model.streaks:
        updated, broken = check_break(streak, state.streaks.get(streak.id), local)
        if broken:
            state.put("streaks", streak.id, updated)
            effects += broken
        effects += _warn(compiled, state, streak, now)
    return deadlines(compiled, state)


def _warn(compiled: Compiled, state: MemberState, streak: Streak, now: dt.datetime) -> list[Effect]:
    """A streak that breaks within the ruleset's warning (a streak_at_risk message asks for one)
    is at risk: said once per streak period, remembered in ``state.caps``."""
    lead, current = compiled.streak_warning, state.streaks.get(streak.id)
    breaks = streak_deadline(streak, current, compiled.tz)
    if lead is None or breaks is None or current is None or not breaks - lead <= now < breaks \
            or _warned(state, streak, current):
        return []
    state.put("caps", f"risk:{streak.id}", CapUsage(current.last_period or 0))
    return [Effect("streak_at_risk", None, None, {"streak": streak.id, "length": current.length, "breaks_at": breaks})]


def _warned(state: MemberState, streak: Streak, current: StreakState) -> bool:
    usage = state.caps.get(f"risk:{streak.id}")
    return usage is not None and usage.period == current.last_period


def deadlines(compiled: Compiled, state: MemberState) -> list[dt.datetime]:
    found: list[dt.datetime] = []
    lead = compiled.streak_warning
    for streak in compiled.model.streaks:
        current = state.streaks.get(streak.id)
        deadline = streak_deadline(streak, current, compiled.tz)
        if deadline is not None:
            found.append(deadline)
            if lead is not None and current is not None and not _warned(state, streak, current):
                found.append(deadline - lead)
    return found


def streak_deadline(streak: Streak, current: StreakState | None, tz: ZoneInfo) -> dt.datetime | None:
    """The start of the first period whose miss the streak's freezes cannot cover."""
    if current is None or current.length == 0 or current.last_period is None:
        return None
    return calendar.period_start(current.last_period + current.freezes_left + 2, streak.period, tz)


def advance(streak: Streak, current: StreakState | None, local: dt.datetime) -> tuple[StreakState, list[Effect], bool]:
    """Count a qualifying event. Returns the new state, effects, and whether a new period counted."""
    period = period_key(local, streak.period)
    state = current or StreakState(freezes_left=streak.freezes)
    if state.last_period == period:
        return state, [], False
    effects: list[Effect] = []
    gap = None if state.last_period is None else period - state.last_period - 1
    if gap is None or (gap > state.freezes_left and state.length == 0):
        state = StreakState(1, period, streak.freezes, frozenset(), max(state.best, 1))
    elif gap <= state.freezes_left:
        if gap:
            effects.append(Effect("streak_freeze", None, None, {"streak": streak.id, "periods": gap}))
        length = state.length + 1
        state = StreakState(length, period, state.freezes_left - gap, state.paid, max(state.best, length))
    else:
        effects.append(Effect("streak_broken", None, None, {"streak": streak.id, "length": state.length}))
        state = StreakState(1, period, streak.freezes, frozenset(), state.best)
    effects.append(Effect("streak", None, None, {"streak": streak.id, "length": state.length}))
    return state, effects, True


def check_break(streak: Streak, current: StreakState | None,
                local: dt.datetime) -> tuple[StreakState | None, list[Effect]]:
    """Housekeeping: a streak whose missed periods exceed its freezes is broken now."""
    if current is None or current.last_period is None or current.length == 0:
        return current, []
    missed = period_key(local, streak.period) - current.last_period - 1
    if missed <= current.freezes_left:
        return current, []
    broken = StreakState(0, current.last_period, 0, frozenset(), current.best)
    return broken, [Effect("streak_broken", None, None, {"streak": streak.id, "length": current.length})]


def due_rewards(streak: Streak, state: StreakState) -> tuple[StreakState, list[tuple[str, StreakReward]]]:
    """Rewards the new length earns, each once per run; returns (state, [(label, reward)])."""
    due: list[tuple[str, StreakReward]] = []
    paid = set(state.paid)
    for reward in streak.rewards:
        if reward.each is not None:
            due.append((f"{streak.id}/each", reward))
        elif reward.at is not None and state.length == reward.at and f"at:{reward.at}" not in paid:
            paid.add(f"at:{reward.at}")
            due.append((f"{streak.id}/at {reward.at}", reward))
        elif reward.every is not None and state.length % reward.every == 0 and f"every:{state.length}" not in paid:
            paid.add(f"every:{state.length}")
            due.append((f"{streak.id}/every {reward.every}", reward))
    return StreakState(state.length, state.last_period, state.freezes_left, frozenset(paid), state.best), due
