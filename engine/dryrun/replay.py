"""Replaying one partition: each member's events in time order, through the pure core.

Members are independent (budgets aside, see :mod:`.budgets`), so a partition is
replayed member by member: its rows are parsed by each ruleset's event schema,
sorted by (time, line), and fed to ``evaluate`` with in-memory state; nothing is
stored anywhere. An event id seen before for the member is answered the way
``Engine`` answers a retry (``duplicate``, or a conflict when the body differs).
After the last event each member gets a ``tick`` at the end instant, so expiry,
pending releases, tier windows and streak breaks up to it are in the figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from punchcard.engine.decision import Decision, Outcome
from punchcard.engine.engine import duplicate_of
from punchcard.engine.evaluate import evaluate
from punchcard.engine.events import EventError
from punchcard.engine.housekeeping import housekeep
from punchcard.engine.store import ProcessedEvent
from punchcard.engine.tiers import current_level

from .budgets import Use, demand_of
from .members import seed_state
from .partial import Leaders, MemberSummary, Partial
from .sides import Side
from .spill import read_partition
from .tally import Tally

__all__ = ["Job", "run_job", "replay_rows", "tick_id", "compact"]

TRACE_LIMIT = 200  # decisions kept per member shown in a report


@dataclass(frozen=True)
class Job:
    index: int
    path: str | None  # the spilled partition; None when ``rows`` are given
    sides: tuple[Side, ...]
    start: dt.datetime | None
    end: dt.datetime | None
    rows: tuple = ()


def tick_id(member: str) -> str:
    return f"until:{member}"[:200]


def run_job(job: Job, observe: Callable | None = None) -> Partial:
    items = read_partition(job.path) if job.path else job.rows
    return replay_rows(job.index, items, job.sides, job.start, job.end, observe)


def replay_rows(index: int, items, sides: tuple[Side, ...], start, end, observe: Callable | None = None) -> Partial:
    """Replay one partition's rows and seeds. ``observe(side, line, decision)`` sees every decision
    (ticks have line 0): tests compare them with ``Engine.process``."""
    rows: dict[Any, list] = {}
    seeds: dict[str, Any] = {}
    for kind, line, payload in items:
        if kind == "seed":
            seeds[payload.member] = payload
        else:
            member = payload.get("member")
            rows.setdefault(member if isinstance(member, str) else repr(member), []).append((line, payload))
    partial = Partial(index, [Tally(sides[0].month_tz) for _ in sides], uses=[[] for _ in sides],
                      leaders=[Leaders() for _ in sides])
    for member in sorted(set(rows) | set(seeds)):
        _member(partial, sides, member, rows.get(member, ()), seeds.get(member), start, end, observe)
    return partial


def _member(partial: Partial, sides, member: str, rows, seed, start, end, observe) -> None:
    parsed = _parse(partial, sides, rows)
    results = []
    for number, side in enumerate(sides):
        state = _seeded(partial, side, seed, start, number)
        result = _replay(partial, number, side, member, parsed, state, end)
        if observe is not None:
            for line, decision in result.decisions:
                observe(number, line, decision)
        results.append(result)
    if len(sides) > 1:
        _compare(partial, member, parsed, results[0], results[1])


def _parse(partial: Partial, sides, rows) -> list:
    parsed = []
    for line, raw in rows:
        events = []
        for side in sides:
            try:
                events.append(side.compiled.schema.parse(raw))
            except EventError as exc:
                events.append(exc)
        if isinstance(events[0], EventError):
            partial.bad.add("events", line, "; ".join(events[0].problems))
            continue
        parsed.append(((events[0].time, line), raw, events))
    parsed.sort(key=lambda item: item[0])
    partial.events += len(parsed)
    return parsed


def _seeded(partial: Partial, side: Side, seed, start, number: int):
    if seed is None or start is None:
        return None
    try:
        state = seed_state(side.compiled, seed, start)
    except ValueError as exc:
        if number == 0:
            partial.bad.add("members", seed.line, str(exc))
        return None
    partial.tallies[number].opening += state.total()
    return state


@dataclass
class _Result:
    state: Any
    decisions: list  # (line, decision), ticks included
    issued: Any


def _replay(partial: Partial, number: int, side: Side, member: str, parsed, state, end) -> _Result:
    tally, compiled = partial.tallies[number], side.compiled
    processed: dict[str, ProcessedEvent] = {}
    decisions, issued = [], 0
    for key, raw, events in parsed:
        event = events[number]
        if isinstance(event, EventError):
            decision, _ = evaluate(compiled, state, raw)
        elif event.id in processed:
            decision = duplicate_of(processed[event.id], event, compiled.label)
        else:
            decision, state = evaluate(compiled, state, event, None, side.plan.used(key) if side.budgets else None)
            processed[event.id] = ProcessedEvent(event.id, event.digest, event.body, decision)
            if side.budgets:
                _record_uses(partial.uses[number], side, key, decision)
        issued += tally.add(decision, key[1], at=key[0])
        decisions.append((key[1], decision))
    if state is not None:
        state = _tick(partial, number, side, member, state, end, decisions)
        _close(partial, number, side, member, state, end, decisions, issued)
    return _Result(state, decisions, issued)


def _record_uses(uses: list, side: Side, key, decision: Decision) -> None:
    if decision.outcome not in (Outcome.APPLIED, Outcome.REVIEW):
        return
    supplied = side.plan.used(key) or {}
    for rule, (demand, paid) in demand_of(decision, side.budgets).items():
        uses.append(Use(key, rule, supplied.get(rule, 0), demand, paid))


def _tick(partial: Partial, number: int, side: Side, member: str, state, end, decisions: list):
    if end is None:
        return state
    compiled = side.compiled
    decision, new_state = evaluate(compiled, state, {"type": "tick", "id": tick_id(member), "member": member,
                                                     "time": end})
    if decision.outcome != Outcome.APPLIED:
        # outside the ruleset's effective dates a tick is refused; housekeeping still runs to the end
        new_state = state.clone()
        effects = tuple(housekeep(compiled, new_state, end.astimezone(compiled.tz)))
        decision = Decision(tick_id(member), member, compiled.label, Outcome.APPLIED, effects=effects,
                            event_type="tick", time=end.astimezone(compiled.tz))
    partial.tallies[number].add(decision, 0, tick=True)
    decisions.append((0, decision))
    return new_state


def _close(partial: Partial, number: int, side: Side, member: str, state, end, decisions, issued) -> None:
    compiled = side.compiled
    level = current_level(compiled, state)
    partial.tallies[number].close_member(state, end or state.clock, level.name if level else None)
    leaders = partial.leaders[number]
    score = (issued,)
    if leaders.admits(score, member):
        events = [d.event_id for line, d in decisions if line]  # ticks have no line
        figures = {"points_issued": issued, "liability_points": state.total(), "tier": level.name if level else None,
                   "events": len(events), "event_ids": events[:TRACE_LIMIT]}
        leaders.add(MemberSummary(member, score, figures, [compact(line, d) for line, d in decisions[:TRACE_LIMIT]]))


def compact(line: int, decision: Decision) -> dict:
    """A decision as the report shows it: the event, the outcome, the points, and its trace."""
    return {"line": line, "event_id": decision.event_id, "type": decision.event_type,
            "time": decision.time.isoformat() if decision.time else None, "outcome": decision.outcome,
            "points": decision.points, "balance": decision.balance, "reason": decision.reason,
            "tier": decision.tier.current if decision.tier else None, "fired": decision.fired(),
            "effects": [e.to_json() for e in decision.effects], "trace": [s.to_json() for s in decision.trace]}


def _compare(partial: Partial, member: str, parsed, new: _Result, old: _Result) -> None:
    """A member changed when any decision's outcome or points, or the end balance or tier, differ."""
    pairs = list(zip(new.decisions, old.decisions))
    differing = [(n, o) for n, o in pairs if n[1].outcome != o[1].outcome or n[1].points != o[1].points]
    end_new, end_old = _end(new), _end(old)
    if not differing and end_new == end_old:
        return
    partial.changed_count["members"] += 1
    if any(n[1].points != o[1].points for n, o in differing):
        partial.changed_count["points"] += 1
    if any(n[1].outcome != o[1].outcome for n, o in differing):
        partial.changed_count["outcome"] += 1
    if end_new[1] != end_old[1]:
        partial.changed_count["tier"] += 1
    delta_issued, delta_liability = new.issued - old.issued, end_new[0] - end_old[0]
    score = (abs(delta_issued), abs(delta_liability))
    if partial.changed.admits(score, member):
        partial.changed.add(_changed_summary(member, score, new, old, differing))


def _end(result: _Result) -> tuple:
    if result.state is None:
        return (0, None)
    last = result.decisions[-1][1] if result.decisions else None
    return (result.state.total(), last.tier.current if last is not None and last.tier else None)


def _changed_summary(member, score, new: _Result, old: _Result, differing) -> MemberSummary:
    end_new, end_old = _end(new), _end(old)
    figures = {"points_issued": {"new": new.issued, "old": old.issued, "diff": new.issued - old.issued},
               "liability_points": {"new": end_new[0], "old": end_old[0], "diff": end_new[0] - end_old[0]},
               "tier": {"new": end_new[1], "old": end_old[1]}, "events_changed": len(differing)}
    sample = [{"new": compact(n[0], n[1]), "old": compact(o[0], o[1])} for n, o in differing[:10]]
    return MemberSummary(member, score, figures, sample)
