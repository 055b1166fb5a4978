"""Replaying one partition: each member's events in time order, through the pure core.

Members are independent (budgets aside, see :mod:`.budgets`), so a partition is
replayed member by member: its rows, validated when they were read (:mod:`.rows`),
are sorted once by (member, time, line) and fed to ``evaluate`` with in-memory
state (:mod:`.member`); nothing is stored anywhere.

A member is counted into one of two partials: members whose events called on a
budget, and the others. Only the first kind can come out differently in a later
budget pass, so later passes replay only them and keep the others' figures from the
first pass. Without budgets every member is of the second kind.

With models, members are replayed side by side so that their scores are asked of each model
in batches (:mod:`.batch`); they are counted in the same order either way.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

from punchcard.engine.policies.scoring import batch_pays

from .account import Changes, account_member, new_partial
from .batch import ScoreBatches
from .formats import group_reason
from .member import TRACE_LIMIT, SideRun, replay_member, tick_id
from .members import seed_values
from .partial import Partial
from .referrals import derived_rows, has_referrals
from .sides import Side
from .spill import read_partition

__all__ = ["Job", "JobResult", "MemberRun", "run_job", "replay_rows", "tick_id", "TRACE_LIMIT"]

_MEMBER = itemgetter(0)
# False: each member's rows are scored as the engine scores them, one call at a time (what
# bench/bench_models.py measures batching against); the decisions are the same either way
SCORE_IN_BATCHES = True


@dataclass(frozen=True)
class Job:
    index: int
    path: str | None  # the spilled partition; None when ``rows`` are given
    sides: tuple[Side, ...]
    start: dt.datetime | None
    end: dt.datetime | None
    rows: tuple = ()
    only: frozenset | None = None  # replay just these members (later budget passes)
    seeds: tuple = ()


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
class MemberRun:
    """What ``observe`` is shown of a member: every decision of every side (``sides[n].decisions``)."""

    member: str
    bad: list = field(default_factory=list)  # (file, line, reason, group)
    events: int = 0
    sides: list = field(default_factory=list)


def run_job(job: Job, observe: Callable | None = None) -> JobResult:
    rows, seeds = read_partition(job.path) if job.path else ([], list(job.seeds))
    rows += job.rows  # with a path: the referrers' derived events (referrals.py)
    return replay_rows(job.index, rows, seeds, job.sides, job.start, job.end, job.only, observe)


def replay_rows(index: int, rows: list, seeds, sides: tuple[Side, ...], start, end, only=None,
                observe: Callable | None = None) -> JobResult:
    """Replay one partition's rows (:func:`.rows.event_row` tuples; the list is sorted in place)
    and seeds. ``observe(member, run)`` sees each member's :class:`MemberRun` (tests compare its
    decisions with ``Engine.process``)."""
    if only is not None:
        rows = [row for row in rows if row[0] in only]
    by_member = {seed.member: seed for seed in seeds if only is None or seed.member in only}
    rows.sort()
    partition = _Partition(index, sides, start, end, observe)
    frozen = _freeze()
    try:
        partition.run(_members(rows, by_member))
    finally:
        _unfreeze(frozen)
    return partition.result()


def _members(rows: list, seeds: dict) -> Iterator[tuple]:
    """(member, its rows, its seed or None) in member order, then the members with a seed alone."""
    for member, group in groupby(rows, _MEMBER):
        yield member, group, seeds.pop(member, None)
    for member in sorted(seeds):
        yield member, (), seeds[member]


def _scores(sides: tuple[Side, ...]) -> bool:
    """Does any side (or any of its variants) score with a model that gains from batches?"""
    for side in sides:
        split = side.compiled.split
        for program in (side.compiled, *(split.programs.values() if split else ())):
            if any(batch_pays(scorer) for scorer in program.scorers.values()):
                return True
    return False


def _freeze() -> bool:
    """The partition's rows live as long as the replay: keep the collector from walking them
    again and again (the state and decisions made meanwhile are collected as usual). Left
    alone when the collector is off, or when the host has frozen objects of its own."""
    if not gc.isenabled() or gc.get_freeze_count():
        return False
    gc.freeze()
    return True


def _unfreeze(frozen: bool) -> None:
    if frozen:
        gc.unfreeze()


class _Partition:
    """The partials of one partition, filled member by member."""

    def __init__(self, index: int, sides, start, end, observe):
        self.sides, self.start, self.end, self.observe = sides, start, end, observe
        self.stable, self.touched = new_partial(index, sides), new_partial(index, sides)
        self.budgets = any(side.budgets for side in sides)  # without, every member is stable
        self.referrals = has_referrals(sides)
        self.names: list[str] = []
        self.batches: ScoreBatches[tuple, tuple] | None = ScoreBatches() if SCORE_IN_BATCHES and _scores(sides) \
            else None

    def run(self, members: Iterator[tuple]) -> None:
        """Replay and count each (member, rows, seed), in order."""
        if self.batches is None:
            for member, rows, seed in members:
                self.account(member, seed, *self.replay((member, rows, seed)))
            return
        with self.batches:
            side_by_side = ((member, list(rows), seed) for member, rows, seed in members)  # rows outlive the group
            for (member, _rows, seed), (runs, changes) in self.batches.map(self.replay, side_by_side):
                self.account(member, seed, runs, changes)

    def replay(self, item: tuple) -> tuple[list[SideRun], Changes | None]:
        member, rows, seed = item
        runs = [SideRun(side, self.observe is not None) for side in self.sides]
        changes = Changes() if len(runs) > 1 else None
        replay_member(runs, member, rows, seed, self.start, self.end, changes)
        return runs, changes

    def account(self, member: str, seed, runs: list[SideRun], changes: Changes | None) -> None:
        error = runs[0].seed_error
        bad = [("members", seed.line, error, group_reason(error, seed_values(seed)))] if error else []
        touched = self.budgets and any(run.uses for run in runs)
        if self.observe is not None:
            self.observe(member, MemberRun(member, bad, runs[0].events, runs))
        derived = derived_rows(runs) if self.referrals else ()  # before the decisions are counted and dropped
        account_member(self.touched if touched else self.stable, member, runs, bad, changes)
        (self.touched if touched else self.stable).derived.extend(derived)
        if touched:
            self.names.append(member)

    def result(self) -> JobResult:
        return JobResult(self.stable.index, self.stable, self.touched, frozenset(self.names))
