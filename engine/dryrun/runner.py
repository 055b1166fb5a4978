"""The dry-run job: read, partition by member, replay in passes, merge.

Reading is one stream in this process: rows are mapped, typed, validated by the
event schema, filtered by time and spilled to partition files (:mod:`.spill`). Each
pass then replays every partition, in this process (``workers=1``) or in a pool of
processes, and merges the partials in partition order. A pass is repeated only
while a budget's plan is not yet exact (:mod:`.budgets`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from punchcard.dsl.functions import FunctionSpec
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.program import Compiled
from punchcard.engine.runtime.events import parse_time

from .formats import (
    InputError,
    RowError,
    detect,
    is_stdin,
    parquet_file,
    uncompressed_size,
)
from .mapping import ColumnMap
from .members import read_seeds
from .partial import BadRows, Partial
from .passes import observed, pool_runner, run_passes
from .referrals import has_referrals, settle_referrals
from .replay import Job
from .rows import Scan, event_row, prepared_rows
from .sides import PluginsArg, Side, compiled_for, handed, remember_compiled, same_events
from .spill import Spill, partition_count
from .writers import DecisionWriter

__all__ = ["Options", "RunResult", "Progress", "Silent", "StrictError", "Setup", "dry_run", "setup", "finish",
           "resolve_window", "read_seeds_into"]

log = logging.getLogger("punchcard.dryrun")


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...


class Silent:
    """A :class:`Progress` that shows nothing."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


class StrictError(Exception):
    """``--strict`` and the input has bad rows."""

    def __init__(self, bad: BadRows):
        super().__init__(f"{bad.count} bad row{'s' * (bad.count != 1)}")
        self.bad = bad


@dataclass
class Options:
    ruleset: str | Path
    events: Path
    members: Path | None = None
    against: str | Path | None = None
    since: dt.datetime | dt.date | None = None  # --from
    until: dt.datetime | dt.date | None = None
    column_map: ColumnMap = field(default_factory=ColumnMap)
    strict: bool = False
    workers: int = 1
    progress: Progress | None = None
    observe: Callable | None = None  # (member, MemberRun) of the final pass, workers=1 only: for tests
    label: str | None = None  # how the report names the input (default: the path)
    functions: tuple[FunctionSpec, ...] = ()  # the rulesets may use these beyond the built-ins
    # the plugins that load the models a ruleset names (and give their functions when ``functions``
    # is empty): the plugins object, or a picklable function returning them, which worker
    # processes on other machines (Dask) need. The dry-run never looks plugins up itself.
    plugins: PluginsArg = None
    # write every decision of the ruleset under test here (JSON Lines, writers.DecisionWriter);
    # the replay then runs in this process, whatever ``workers`` says, so the file is the same
    decisions: str | Path | None = None
    # --ignore-effective: replay every side as if its effective dates allowed every event (.effective)
    ignore_effective: bool = False


@dataclass
class RunResult:
    partial: Partial
    sides: tuple[Side, ...]
    start: dt.datetime | None
    end: dt.datetime | None
    rows: int = 0
    filtered: int = 0
    passes: int = 0
    partitions: int = 0
    workers: int = 1
    source: str = ""

    @property
    def compiled(self) -> list:
        return [side.compiled for side in self.sides]


def resolve_window(since, until, tz) -> tuple[dt.datetime | None, dt.datetime | None]:
    """--from and --until as instants: a date means the local midnight starting it (--from) or
    ending it (--until, so ``--until 2026-12-31`` includes that whole day). A window that ends
    before it starts is an :class:`InputError`: it would silently select nothing."""
    def instant(value, next_day: bool):
        if value is None or isinstance(value, dt.datetime):
            return parse_time(value, tz) if value is not None else None
        day = value + dt.timedelta(days=1) if next_day else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz)

    start, end = instant(since, False), instant(until, True)
    if start is not None and end is not None and start >= end:
        both_times = isinstance(since, dt.datetime) and isinstance(until, dt.datetime)
        relation = "the same time as" if both_times and start == end else "later than"
        raise InputError(f"--from {since.isoformat()} is {relation} --until {until.isoformat()}: "
                         "no event can be in that window")
    return start, end


def _spec(ruleset) -> str:
    return ruleset if isinstance(ruleset, str) and "\n" in ruleset else str(Path(ruleset))


@dataclass
class Setup:
    """The rulesets, compiled once here (a broken one is refused before any row is read), and the window."""

    specs: list[str]
    main: Compiled
    since: dt.datetime | None
    until: dt.datetime | None
    functions: tuple[FunctionSpec, ...] = ()
    plugins: Callable | None = None  # the plugins handed in, as sides carry them (sides.handed)
    ignore_effective: bool = False  # every side replays as if its effective dates allowed every event

    def sides(self) -> tuple[Side, ...]:
        return tuple(Side(spec, self.main.model.timezone, functions=self.functions, plugins=self.plugins,
                          ignore_effective=self.ignore_effective)
                     for spec in self.specs)


def setup(options: Options) -> Setup:
    specs = [_spec(options.ruleset)] + ([_spec(options.against)] if options.against is not None else [])
    plugins = handed(options.plugins)
    main = compile_ruleset(specs[0] if "\n" in specs[0] else Path(specs[0]), options.functions or None,
                           plugins=plugins() if plugins is not None else None)
    remember_compiled(specs[0], main)
    for spec in specs[1:]:
        compiled_for(spec, options.functions, plugins)
    return Setup(specs, main, *resolve_window(options.since, options.until, main.tz), options.functions, plugins,
                 options.ignore_effective)


def finish(options: Options, setup_: Setup, partial: Partial, scan: Scan, sides, passes: int,
           partitions: int) -> RunResult:
    partial.bad.merge(scan.bad)
    if options.strict and partial.bad.count:
        raise StrictError(partial.bad)
    return RunResult(partial, sides, setup_.since or scan.first, setup_.until or scan.last, scan.rows,
                     scan.filtered, passes, partitions, max(1, options.workers),
                     options.label or str(options.events))


def dry_run(options: Options) -> RunResult:
    progress = options.progress or Silent()
    plan = setup(options)
    workers = max(1, options.workers)
    if options.observe is not None and workers != 1:
        raise ValueError("observe needs workers=1: decisions do not leave worker processes")
    writer = DecisionWriter(options.decisions) if options.decisions is not None else None
    observe = _observer(options.observe, writer)
    spill = Spill(partition_count(_input_size(options.events), workers))
    try:
        scan = _read(options, plan, spill, progress)
        if options.strict and scan.bad.count:
            raise StrictError(scan.bad)
        _spill_seeds(options, spill, scan.bad)
        jobs = [Job(p.index, str(p.path), plan.sides(), plan.since or scan.first, plan.until or scan.last)
                for p in spill.files if p.rows or p.seeds]
        jobs = _with_referrals(plan, jobs, spill, workers, progress)  # the referrers' derived events join them
        runner = observed(observe, progress) if observe else pool_runner(workers, progress)
        partial, sides, passes = run_passes(jobs, plan.sides(), runner, progress, spill.root,
                                            sum(p.rows for p in spill.files), inline=observe is not None or
                                            workers == 1)
        if writer is not None:
            writer.finish()
    finally:
        spill.cleanup()
        if writer is not None:
            writer.close()
    return finish(options, plan, partial, scan, sides, passes, spill.partitions)


def _with_referrals(plan: Setup, jobs: list[Job], spill: Spill, workers: int, progress: Progress) -> list[Job]:
    """The jobs with the referrers' derived events in their partitions, found by replaying without
    observing until they settle (engine/dryrun/referrals.py); the jobs themselves without referrals."""
    if not jobs or not has_referrals(plan.sides()):
        return jobs
    start, end = jobs[0].start, jobs[0].end
    rows = sum(p.rows for p in spill.files)

    def replay(these: list[Job]) -> Partial:
        return run_passes(these, plan.sides(), pool_runner(workers, progress), progress, spill.root, rows,
                          inline=workers == 1)[0]

    return settle_referrals(jobs, replay, spill.index,
                            lambda index, derived: Job(index, None, plan.sides(), start, end, derived), progress)


def _observer(observe: Callable | None, writer: DecisionWriter | None) -> Callable | None:
    """What sees each member's final replay: the caller's ``observe``, the decisions file, or both.
    Decisions do not leave worker processes, so either runs the replay here."""
    if writer is None or observe is None:
        return writer or observe

    def both(member: str, run) -> None:
        writer(member, run)
        observe(member, run)

    return both


def _input_size(path: Path) -> int:
    if is_stdin(path):
        return 0  # not known before it is read: the fewest partitions
    try:
        if detect(Path(path))[0] == "parquet":
            return parquet_file(path).metadata.num_rows * 120
        return uncompressed_size(Path(path))
    except (OSError, ImportError):
        raise InputError(f"{path}: no such file") from None


def _read(options: Options, plan: Setup, spill: Spill, progress: Progress) -> Scan:
    """Every row read, validated once and spilled to its member's partition."""
    compiled, scan = plan.main, Scan(plan.since, plan.until)
    keep_raw = not same_events([side.compiled for side in plan.sides()])
    progress.phase("reading", None)
    take, add = scan.take, spill.add
    for line, row in prepared_rows(Path(options.events), options.column_map, compiled):
        event = take(line, row, compiled)
        if event is not None:
            add(event.member, event_row(event, line, row if keep_raw else None))
        elif options.strict and isinstance(row, RowError):
            break  # --strict stops at a row it cannot read; rows the schema refuses are all listed
        if scan.rows % 5000 == 0:
            progress.advance(5000)
    spill.close()
    return scan


def read_seeds_into(options: Options, add: Callable, bad: BadRows) -> None:
    """``add(member, seed)`` each seed of ``--members``; bad member rows go to ``bad``."""
    if options.members is None:
        return
    for line, seed in read_seeds(Path(options.members)):
        if isinstance(seed, RowError):
            bad.add("members", line, seed.reason, seed.group)
        else:
            add(seed.member, seed)


def _spill_seeds(options: Options, spill: Spill, bad: BadRows) -> None:
    read_seeds_into(options, spill.add_seed, bad)
    spill.close()
