"""Replaying one partition: each member's events in time order, through the pure core.

Members are independent (budgets aside, see :mod:`.budgets`), so a partition is
replayed member by member: its rows are parsed by each ruleset's event schema,
sorted by (time, line), and fed to ``evaluate`` with in-memory state; nothing is
stored anywhere. An event id seen before for the member is answered the way
``Engine`` answers a retry (``duplicate``, or a conflict when the body differs).
After the last event each member gets a ``tick`` at the end instant, so expiry,
pending releases, tier windows and streak breaks up to it are in the figures.

A member is replayed first and counted after (:mod:`.account`), into one of two
partials: members whose events called on a budget, and the others. Only the first
kind can come out differently in a later budget pass, so later passes replay only
them and keep the others' figures from the first pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from punchcard.engine.decision import Decision, Outcome
from punchcard.engine.engine import duplicate_of
from punchcard.engine.evaluate import evaluate
from punchcard.engine.events import EventError
from punchcard.engine.housekeeping import housekeep
from punchcard.engine.store import ProcessedEvent

from .account import account, new_partial
from .budgets import Use, demand_of
from .members import seed_state
from .partial import Partial
from .sides import Side
from .spill import read_partition

__all__ = ["Job", "JobResult", "MemberRun", "SideRun", "run_job", "replay_rows", "replay_member", "tick_id"]


@dataclass(frozen=True)
class Job:
    index: int
    path: str | None  # the spilled partition; None when ``rows`` are given
    sides: tuple[Side, ...]
    start: dt.datetime | None
    end: dt.datetime | None
    rows: tuple = ()
    only: frozenset | None = None  # replay just these members (later budget passes)


@dataclass
class JobResult:
    index: int
    stable: Partial  # members that never called on a budget: final after the first pass
    touched: Partial  # members that did: replayed again while the budget plans change
    touched_members: frozenset = frozenset()

    @property
    def events(self) -> int:
        return self.stable.events + self.touched.events


@dataclass
class SideRun:
    state: Any = None
    decisions: list = field(default_factory=list)  # (line, time, decision); ticks have line 0
    uses: list = field(default_factory=list)
    opening: Any = 0
    seed_error: str | None = None


@dataclass
class MemberRun:
    member: str
    bad: list = field(default_factory=list)  # (file, line, reason)
    events: int = 0
    sides: list = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return any(side.uses for side in self.sides)


def tick_id(member: str) -> str:
    return f"until:{member}"[:200]


def run_job(job: Job, observe: Callable | None = None) -> JobResult:
    items = read_partition(job.path) if job.path else job.rows
    return replay_rows(job.index, items, job.sides, job.start, job.end, job.only, observe)


def replay_rows(index: int, items, sides: tuple[Side, ...], start, end, only=None,
                observe: Callable | None = None) -> JobResult:
    """Replay one partition's rows and seeds. ``observe(member, runs)`` sees each member's
    :class:`MemberRun` (tests compare its decisions with ``Engine.process``)."""
    rows, seeds = _group(items, only)
    stable, touched = new_partial(index, sides), new_partial(index, sides)
    names = []
    for member in sorted(set(rows) | set(seeds)):
        run = replay_member(sides, member, rows.get(member, ()), seeds.get(member), start, end)
        if observe is not None:
            observe(member, run)
        account(touched if run.touched else stable, sides, run)
        if run.touched:
            names.append(member)
    return JobResult(index, stable, touched, frozenset(names))


def _group(items, only) -> tuple[dict, dict]:
    rows: dict[Any, list] = {}
    seeds: dict[str, Any] = {}
    for kind, line, payload in items:
        member = payload.member if kind == "seed" else payload.get("member")
        key = member if isinstance(member, str) else repr(member)
        if only is not None and key not in only:
            continue
        if kind == "seed":
            seeds[key] = payload
        else:
            rows.setdefault(key, []).append((line, payload))
    return rows, seeds


def replay_member(sides: tuple[Side, ...], member: str, rows, seed, start, end) -> MemberRun:
    run = MemberRun(member)
    parsed = _parse(run, sides, rows)
    for number, side in enumerate(sides):
        side_run = _seeded(side, seed, start)
        _replay(side, number, side_run, member, parsed, end)
        run.sides.append(side_run)
    if run.sides and run.sides[0].seed_error:
        run.bad.append(("members", seed.line, run.sides[0].seed_error))
    return run


def _parse(run: MemberRun, sides, rows) -> list:
    parsed = []
    for line, raw in rows:
        events = []
        for side in sides:
            try:
                events.append(side.compiled.schema.parse(raw))
            except EventError as exc:
                events.append(exc)
        if isinstance(events[0], EventError):
            run.bad.append(("events", line, "; ".join(events[0].problems)))
            continue
        parsed.append(((events[0].time, line), raw, events))
    parsed.sort(key=lambda item: item[0])
    run.events = len(parsed)
    return parsed


def _seeded(side: Side, seed, start) -> SideRun:
    if seed is None or start is None:
        return SideRun()
    try:
        state = seed_state(side.compiled, seed, start)
    except ValueError as exc:
        return SideRun(seed_error=str(exc))
    return SideRun(state, opening=state.total())


def _replay(side: Side, number: int, out: SideRun, member: str, parsed, end) -> None:
    compiled, state = side.compiled, out.state
    processed: dict[str, tuple] = {}  # id -> (event, decision); the digest is only needed for a retry
    for key, raw, events in parsed:
        event = events[number]
        if isinstance(event, EventError):
            decision, _ = evaluate(compiled, state, raw)
        elif event.id in processed:
            prior, first = processed[event.id]
            decision = duplicate_of(ProcessedEvent(prior.id, prior.digest, prior.body, first), event, compiled.label)
        else:
            used = side.plan.used(key) if side.budgets else None
            decision, state = evaluate(compiled, state, event, None, used)
            processed[event.id] = (event, decision)
            if side.budgets:
                _record_uses(out.uses, side, key, decision, used or {})
        out.decisions.append((key[1], key[0], decision))
    out.state = state
    if state is not None and end is not None:
        out.state = _tick(side, member, state, end, out.decisions)


def _record_uses(uses: list, side: Side, key, decision: Decision, supplied: dict) -> None:
    if decision.outcome not in (Outcome.APPLIED, Outcome.REVIEW):
        return
    for rule, (demand, paid) in demand_of(decision, side.budgets).items():
        uses.append(Use(key, rule, supplied.get(rule, 0), demand, paid))


def _tick(side: Side, member: str, state, end, decisions: list):
    compiled = side.compiled
    decision, new_state = evaluate(compiled, state, {"type": "tick", "id": tick_id(member), "member": member,
                                                     "time": end})
    if decision.outcome != Outcome.APPLIED:
        # outside the ruleset's effective dates a tick is refused; housekeeping still runs to the end
        new_state = state.clone()
        local = end.astimezone(compiled.tz)
        effects = tuple(housekeep(compiled, new_state, local))
        decision = Decision(tick_id(member), member, compiled.label, Outcome.APPLIED, effects=effects,
                            event_type="tick", time=local)
    decisions.append((0, end, decision))
    return new_state
