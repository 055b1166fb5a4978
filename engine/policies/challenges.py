"""Challenges: time-boxed goals with progress, such as "buy coffee 5 times in March" or a
weekly quest (the ruleset's ``challenges:`` section, docs/challenges.md).

This module owns what an analyst event adds to a challenge (:func:`on_event`, after the
event's own points are known), the built-in ``challenge_join`` event that opts a member in
(:data:`HANDLERS`), what a refund takes back (:func:`with_refunds`), the deadlines (each
period's end and each challenge's last day: :func:`deadlines`) and the housekeeping that
expires progress at them (:func:`housekeep`).

Progress never passes the target; reaching it completes the challenge, which pays its reward
once per period (each local day, week or month for a challenge with ``period``; once for the
whole challenge otherwise). An opt-in challenge counts only events after the member joined:
progress is never made up for what came before. A refund of an order that counted takes its
progress back; if that takes a completed challenge below its target, the completion is undone:
the bonus is clawed back like any bonus earned on a returned purchase, and a badge won only
there is taken away, so completing it again pays again, and never twice at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from punchcard.dsl.challenges import Challenge

from ..program import Compiled, ExprFn
from ..runtime import calendar
from ..runtime.challenge import ChallengeRecord
from ..runtime.decision import Effect, Step
from ..runtime.events import reward_lot_id
from ..runtime.numbers import figure
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Rejected, Run
from ..runtime.state import FAR_FUTURE, ZERO, MemberState, OrderRecord
from .earning import at_most_max, order_view
from .earning_limits import round_points
from .gates import gate_builtin
from .lifecycle.lots import add_lot, spend

__all__ = ["HANDLERS", "Entry", "on_event", "with_refunds", "challenge_join", "housekeep", "deadlines",
           "period_end", "view"]

_ONE = Decimal(1)
_MEMO = "challenges"  # compiled.memo key: each event type's challenges with their functions


@dataclass(frozen=True, slots=True)
class Entry:
    """A challenge with its expressions compiled (None: the ruleset leaves it out)."""

    challenge: Challenge
    when: ExprFn | None
    progress: ExprFn | None
    bonus: ExprFn | None


def _entries(compiled: Compiled) -> dict[str, list[Entry]]:
    """Each event type's challenges, worked out once per program."""
    found = compiled.memo.get(_MEMO)
    if found is None:
        found = {}
        for i, challenge in enumerate(compiled.model.challenges):
            fns = compiled.functions
            entry = Entry(challenge, fns.get(("challenges", i, "when")), fns.get(("challenges", i, "progress")),
                          fns.get(("challenges", i, "reward", "bonus")))
            for event_type in challenge.on:
                found.setdefault(event_type, []).append(entry)
        compiled.memo[_MEMO] = found
    return found


# -- time ------------------------------------------------------------------------------
def _period(challenge: Challenge, moment: dt.datetime, compiled: Compiled) -> int:
    """The local period ``moment`` falls in (0 for a challenge that does not repeat)."""
    return calendar.period_key(calendar.local(moment, compiled.tz), challenge.period) if challenge.period else 0


def _window(challenge: Challenge, compiled: Compiled) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first instant that counts and the first that no longer does (local midnights)."""
    start = calendar.local_midnight(challenge.from_, compiled.tz) if challenge.from_ is not None else None
    end = None
    if challenge.until is not None:
        end = FAR_FUTURE if challenge.until == dt.date.max else \
            calendar.local_midnight(challenge.until + dt.timedelta(days=1), compiled.tz)
    return start, end


def period_end(challenge: Challenge, period: int, compiled: Compiled) -> dt.datetime | None:
    """When progress made in ``period`` expires: the period's end or the challenge's, the earlier."""
    _start, end = _window(challenge, compiled)
    if challenge.period is not None:
        next_start = calendar.period_start(period + 1, challenge.period, compiled.tz)
        end = next_start if end is None or next_start < end else end
    return end


def _open(challenge: Challenge, now: dt.datetime, compiled: Compiled) -> bool:
    start, end = _window(challenge, compiled)
    return (start is None or start <= now) and (end is None or now < end)


def _current(challenge: Challenge, record: ChallengeRecord | None, now: dt.datetime,
             compiled: Compiled) -> ChallengeRecord:
    """The member's record for the period ``now`` is in: a new period starts from nothing,
    keeping only the member's joining and the periods won."""
    period = _period(challenge, now, compiled)
    if record is None:
        return ChallengeRecord(period)
    if record.period != period:
        return ChallengeRecord(period, joined_at=record.joined_at, wins=record.wins)
    return record


# -- counting ----------------------------------------------------------------------------
def on_event(run: Run) -> None:
    """What an analyst event adds to each challenge that counts its type (nothing without challenges:)."""
    entries = _entries(run.compiled).get(run.event.type) if run.compiled.model.challenges else None
    for entry in entries or ():
        _count(run, entry)


def _countable(run: Run, challenge: Challenge) -> ChallengeRecord | None:
    """The member's record if the challenge may count this event (None: it may not, and why is traced)."""
    if not _open(challenge, run.now, run.compiled):
        return None
    kept = run.state.challenges.get(challenge.id)
    record = _current(challenge, kept, run.now, run.compiled)
    why = None
    if kept is not None and kept.period > record.period:
        why = "a late event: its period has ended"
    elif challenge.opt_in and (record.joined_at is None or record.joined_at > run.now):
        why = "not joined: this opt-in challenge counts only events after challenge_join"
    elif record.completed_at is not None:
        why = "already completed in this period"
    if why is not None:
        run.trace.append(Step("challenges", challenge.id, False, why))
        return None
    return record


def _count(run: Run, entry: Entry) -> None:
    challenge = entry.challenge
    record = _countable(run, challenge)
    if record is None:
        return
    added = _adds(run, entry, run.values(), run.member_view(), run.context())
    if added is None or added <= 0:
        return
    progress = min(challenge.target, record.progress + added)
    counted = progress - record.progress
    orders = record.orders
    if run.compiled.plans[run.event.type].is_order:  # a refund of it takes its progress back
        orders = (*orders, (run.event.id, counted))
    record = ChallengeRecord(record.period, progress, record.joined_at, None, None, ZERO, orders, record.wins)
    if progress >= challenge.target:
        record = _complete(run, entry, record)
    else:
        run.effects.append(Effect("challenge_progress", None, None, {
            "challenge": challenge.id, "progress": progress, "target": challenge.target}))
        run.trace.append(Step("challenges", challenge.id, True,
                              f"{figure(progress)} of {figure(challenge.target)} (this event adds {figure(counted)})"))
    run.state.put("challenges", challenge.id, record)
    run.state.schedule(period_end(challenge, record.period, run.compiled))


def _adds(run: Run, entry: Entry, ev: dict[str, Any], m: dict[str, Any], ctx: Any) -> Decimal | None:
    """What one event adds: None when when: does not hold (or cannot be read), else progress: or 1."""
    label = f"challenge:{entry.challenge.id}"
    try:
        if entry.when is not None and not run_rule(entry.when, ev, m, ctx, label):
            return None
        return Decimal(run_rule(entry.progress, ev, m, ctx, label)) if entry.progress is not None else _ONE
    except RuleFailure as exc:
        run.trace.append(Step("challenges", entry.challenge.id, False, str(exc)))
        return None


def _complete(run: Run, entry: Entry, record: ChallengeRecord) -> ChallengeRecord:
    """The progress reached the target: the reward, once in this period."""
    challenge, reward = entry.challenge, entry.challenge.reward
    lot, points = None, ZERO
    if entry.bonus is not None:
        raw = Decimal(run_rule(entry.bonus, run.values(), run.member_view(), run.context(),
                               f"challenge:{challenge.id}"))
        rounding = run.compiled.model.rounding
        points = round_points(max(raw, ZERO), rounding.mode, rounding.step)
        at_most_max(points)
        if points > 0:
            lot = reward_lot_id(run.event.id, f"challenge:{challenge.id}")
            run.effects += add_lot(run.compiled, run.state, lot, f"challenge:{challenge.id}", points, run.now,
                                   order=run.event.id, hold=run.hold)
            run.points += points
    if reward.badge is not None:
        run.state.badges = run.state.badges | {reward.badge}
        run.effects.append(Effect("badge", None, None, {"challenge": challenge.id, "badge": reward.badge}))
    run.effects.append(Effect("challenge_completed", None, lot, {
        "challenge": challenge.id, "target": challenge.target, "bonus": points, "badge": reward.badge}))
    won = f"{figure(points)} bonus points" if points > 0 else "no bonus points"
    run.trace.append(Step("challenges", challenge.id, True,
                          f"{figure(challenge.target)} of {figure(challenge.target)}: completed, {won}"
                          f"{', badge ' + reward.badge if reward.badge else ''}; it pays once per period",
                          after=points))
    return ChallengeRecord(record.period, record.progress, record.joined_at, run.now, lot, points, record.orders,
                           record.wins + 1)


# -- joining ---------------------------------------------------------------------------------
def challenge_join(run: Run) -> None:
    """An opt-in challenge counts the member's events from now on (never those before)."""
    gate_builtin(run)
    name = run.event.fields["challenge"]
    found = [c for c in run.compiled.model.challenges if c.id == name]
    if not found:
        known = ", ".join(c.id for c in run.compiled.model.challenges if c.opt_in) or "none"
        raise Rejected(f"unknown challenge {name!r}; the challenges to join are: {known}")
    challenge = found[0]
    if not challenge.opt_in:
        raise Rejected(f"challenge {name} needs no joining: it counts for every member")
    _start, end = _window(challenge, run.compiled)
    if end is not None and run.now >= end:
        raise Rejected(f"challenge {name} ended on {challenge.until}")
    record = _current(challenge, run.state.challenges.get(name), run.now, run.compiled)
    if record.joined_at is not None:
        raise Rejected(f"the member already joined challenge {name} at {record.joined_at.isoformat()}")
    run.state.put("challenges", name, ChallengeRecord(record.period, record.progress, run.now, record.completed_at,
                                                      record.lot, record.paid, record.orders, record.wins))
    run.effects.append(Effect("challenge_joined", None, None, {"challenge": name}))
    run.trace.append(Step("challenges", name, True, "joined: events from now on count; earlier ones never do"))


# -- refunds -----------------------------------------------------------------------------------
def with_refunds(refund: Callable[[Run], None]) -> Callable[[Run], None]:
    """The refund handler, then what the refunded order had added to challenges taken back."""
    def refund_and_challenges(run: Run) -> None:
        refund(run)
        if run.compiled.model.challenges:
            _take_back(run, run.event.fields["order"])
    return refund_and_challenges


def _take_back(run: Run, order_id: str) -> None:
    order = run.state.orders.get(order_id)
    if order is None:
        return
    for entry in {id(e): e for entries in _entries(run.compiled).values() for e in entries}.values():
        challenge = entry.challenge
        record = run.state.challenges.get(challenge.id)
        counted = dict(record.orders).get(order_id) if record is not None else None
        if record is None or counted is None:  # housekeeping forgets the orders of a period that ended
            continue
        kept = min(_still_adds(run, entry, order, counted), counted)
        if kept >= counted:
            continue
        orders = tuple((o, kept if o == order_id else p) for o, p in record.orders)
        progress = record.progress - (counted - kept)
        updated = ChallengeRecord(record.period, progress, record.joined_at, record.completed_at, record.lot,
                                  record.paid, orders, record.wins)
        if record.completed_at is not None and progress < challenge.target:
            updated = _undo(run, entry, updated, order_id)
        run.effects.append(Effect("challenge_progress", None, None, {
            "challenge": challenge.id, "progress": progress, "target": challenge.target, "order": order_id}))
        run.trace.append(Step("challenges", challenge.id, True, f"order {order_id} refunded: it now adds "
                              f"{figure(kept)} instead of {figure(counted)}; {figure(progress)} of "
                              f"{figure(challenge.target)}", before=record.progress, after=progress))
        run.state.put("challenges", challenge.id, updated)


def _still_adds(run: Run, entry: Entry, order: OrderRecord, counted: Decimal) -> Decimal:
    """What the order adds at the amount it keeps (nothing once refunded in full); a rule
    that cannot be asked again leaves what it counted."""
    left = order.amount - order.refunded
    if left <= 0:
        return ZERO
    ev, m, ctx = order_view(run, order, left)
    added = _adds(run, entry, ev, m, ctx)
    return ZERO if added is None else max(added, ZERO)


def _undo(run: Run, entry: Entry, record: ChallengeRecord, order_id: str) -> ChallengeRecord:
    """A completed challenge fell below its target: its bonus is clawed back, its badge too if
    no other period won it, and it is open again (completing it again pays again)."""
    challenge, state = entry.challenge, run.state
    clawed = _claw(run, record, order_id) if record.paid > 0 else ZERO
    wins = record.wins - 1
    badge = challenge.reward.badge
    if badge is not None and wins == 0:
        state.badges = state.badges - {badge}
    run.effects.append(Effect("challenge_undone", None, record.lot, {
        "challenge": challenge.id, "order": order_id, "clawed": clawed, "badge": badge if wins == 0 else None}))
    run.trace.append(Step("challenges", challenge.id, True, f"below its target again after the refund: "
                          f"the bonus of {figure(clawed)} points is clawed back; completing it again pays again",
                          after=-clawed))
    return ChallengeRecord(record.period, record.progress, record.joined_at, None, None, ZERO, record.orders, wins)


def _claw(run: Run, record: ChallengeRecord, order_id: str) -> Decimal:
    """Take the bonus back: from its own lot first, then earliest expiry first, then (as the
    ruleset's refunds allow) as a negative balance."""
    state, points = run.state, record.paid
    own = [i for i, lot in enumerate(state.lots) if lot.id == record.lot and lot.remaining > 0]
    others = sorted((i for i, lot in enumerate(state.lots) if lot.id != record.lot and lot.remaining > 0),
                    key=lambda i: (state.lots[i].expires_at or FAR_FUTURE, state.lots[i].earned_at, state.lots[i].id))
    allow = run.compiled.model.points.refunds.negative_balance == "allow"
    if not allow and points > sum((state.lots[i].remaining for i in own + others), ZERO) - state.debt:
        raise Rejected(f"clawing back the challenge bonus of {figure(points)} points would make the balance "
                       "negative")
    allocations, left = spend(state, points, run.now, "clawed", own + others)
    run.effects += [Effect("clawback", -a.points, a.lot, {"order": order_id}) for a in allocations]
    if left > 0:
        state.debt += left
        run.effects.append(Effect("negative_balance", -left, None, {"order": order_id}))
    state.count("clawed_back", points)
    run.points -= points
    return points


# -- deadlines and housekeeping -------------------------------------------------------------------
def deadlines(compiled: Compiled, state: MemberState) -> list[dt.datetime]:
    """When each challenge's progress expires: the end of the period (or challenge) it was made in."""
    found: list[dt.datetime] = []
    for challenge in compiled.model.challenges:
        record = state.challenges.get(challenge.id)
        if record is not None and (record.progress > 0 or record.orders):
            end = period_end(challenge, record.period, compiled)
            if end is not None:
                found.append(end)
    return found


def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> list[dt.datetime]:
    """Expire the progress of periods (and challenges) that ended by ``now``; returns the deadlines."""
    if not compiled.model.challenges:
        return []
    for challenge in compiled.model.challenges:
        record = state.challenges.get(challenge.id)
        if record is None or not (record.progress > 0 or record.orders):
            continue
        end = period_end(challenge, record.period, compiled)
        if end is None or now < end:
            continue
        if record.completed_at is None:
            effects.append(Effect("challenge_expired", None, None, {
                "challenge": challenge.id, "progress": record.progress, "target": challenge.target, "at": end}))
        # a challenge that repeats starts its next period from nothing; one that ended keeps its completion
        fresh = ChallengeRecord(_period(challenge, now, compiled), joined_at=record.joined_at, wins=record.wins) \
            if challenge.period is not None else \
            ChallengeRecord(record.period, ZERO, record.joined_at, record.completed_at, None, ZERO, (), record.wins)
        state.put("challenges", challenge.id, fresh)
    return deadlines(compiled, state)


def view(compiled: Compiled | None, state: MemberState) -> dict[str, dict[str, Any]]:
    """The member's challenges as a wallet shows them: progress, target, joined, completed."""
    targets = {c.id: c.target for c in compiled.model.challenges} if compiled is not None else {}
    return {name: {"progress": record.progress, "target": targets.get(name), "joined_at": record.joined_at,
                   "completed_at": record.completed_at, "wins": record.wins}
            for name, record in sorted(state.challenges.items())}


HANDLERS = {"challenge_join": challenge_join}
