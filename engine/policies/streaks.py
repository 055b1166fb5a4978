"""Streaks: consecutive local periods (day, week, month) with qualifying activity.

A missed period uses a freeze if one is left, otherwise the streak breaks. Rewards:
``at: N`` pays once when the streak reaches N, ``every: N`` at each multiple of N,
``each: period`` for every new qualifying period. A milestone pays once per streak
run: a broken streak starts a new run.
"""

from __future__ import annotations

import datetime as dt

from ..runtime.calendar import period_key
from ..runtime.decision import Effect
from ..runtime.state import StreakState

__all__ = ["advance", "check_break", "due_rewards"]


def advance(streak, current: StreakState | None, local: dt.datetime) -> tuple[StreakState, list[Effect], bool]:
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


def check_break(streak, current: StreakState | None, local: dt.datetime) -> tuple[StreakState | None, list[Effect]]:
    """Housekeeping: a streak whose missed periods exceed its freezes is broken now."""
    if current is None or current.last_period is None or current.length == 0:
        return current, []
    missed = period_key(local, streak.period) - current.last_period - 1
    if missed <= current.freezes_left:
        return current, []
    broken = StreakState(0, current.last_period, 0, frozenset(), current.best)
    return broken, [Effect("streak_broken", None, None, {"streak": streak.id, "length": current.length})]


def due_rewards(streak, state: StreakState) -> tuple[StreakState, list[tuple[str, object]]]:
    """Rewards the new length earns, each once per run; returns (state, [(label, reward)])."""
    due = []
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
