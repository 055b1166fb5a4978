"""The dry-run job: read, partition by member, replay in passes, merge.

Reading is one stream in this process: rows are mapped, typed, filtered by time
and spilled to partition files (:mod:`.spill`). Each pass then replays every
partition, in this process (``workers=1``) or in a pool of processes, and merges
the partials in partition order. A pass is repeated only while a budget's plan is
not yet exact (:mod:`.budgets`).
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from punchcard.engine.compile import compile_ruleset
from punchcard.engine.events import parse_time

from .budgets import MAX_PASSES, Plan, check_pass
from .formats import InputError, RowError, columns_of, detect, read_rows, uncompressed_size
from .mapping import ColumnMap, CsvTyping
from .members import read_seeds
from .partial import BadRows, Leaders, Partial
from .replay import Job, run_job
from .sides import Side, compiled_for
from .spill import Spill, partition_count
from .tally import Tally

__all__ = ["Options", "RunResult", "Progress", "StrictError", "dry_run", "resolve_window", "run_passes"]

log = logging.getLogger("punchcard.dryrun")


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...


class _Silent:
    def phase(self, name, total):
        pass

    def advance(self, amount):
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
    observe: Callable | None = None  # (side, line, decision), with workers=1 only: for tests


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
    ending it (--until, so ``--until 2026-12-31`` includes that whole day)."""
    def instant(value, next_day: bool):
        if value is None or isinstance(value, dt.datetime):
            return parse_time(value, tz) if value is not None else None
        day = value + dt.timedelta(days=1) if next_day else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz)

    return instant(since, False), instant(until, True)


def _spec(ruleset) -> str:
    return ruleset if isinstance(ruleset, str) and "\n" in ruleset else str(Path(ruleset))


def dry_run(options: Options) -> RunResult:
    progress = options.progress or _Silent()
    specs = [_spec(options.ruleset)] + ([_spec(options.against)] if options.against is not None else [])
    main = compile_ruleset(specs[0] if "\n" in specs[0] else Path(specs[0]))
    for spec in specs[1:]:
        compiled_for(spec)  # refuse a broken baseline before reading anything
    _prime_cache(specs[0], main)
    since, until = resolve_window(options.since, options.until, main.tz)
    workers = max(1, options.workers)
    spill = Spill(partition_count(_input_size(options.events), workers))
    try:
        reading = _read(options, main, spill, since, until, progress)
        if options.strict and reading.bad.count:
            raise StrictError(reading.bad)
        start = since or reading.first
        end = until or reading.last
        _spill_seeds(options, spill, reading.bad)
        sides = tuple(Side(spec, main.model.timezone) for spec in specs)
        jobs = [Job(p.index, str(p.path), sides, start, end) for p in spill.files if p.rows or p.seeds]
        runner = None
        if options.observe is not None:
            if workers != 1:
                raise ValueError("observe needs workers=1: decisions do not leave worker processes")
            runner = _observed(options.observe, progress)
        partial, sides, passes = run_passes(jobs, sides, workers, progress, spill.root,
                                            sum(p.rows for p in spill.files), runner)
    finally:
        spill.cleanup()
    partial.bad.merge(reading.bad)
    if options.strict and partial.bad.count:
        raise StrictError(partial.bad)
    return RunResult(partial, sides, start, end, reading.rows, reading.filtered, passes, spill.partitions,
                     workers, str(options.events))


def _prime_cache(spec: str, compiled) -> None:
    from . import sides

    sides._COMPILED.setdefault(spec, compiled)


def _input_size(path: Path) -> int:
    try:
        if detect(Path(path))[0] == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows * 120
        return uncompressed_size(Path(path))
    except (OSError, ImportError):
        raise InputError(f"{path}: no such file") from None


@dataclass
class _Reading:
    bad: BadRows = field(default_factory=BadRows)
    rows: int = 0
    filtered: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None


def _read(options: Options, compiled, spill: Spill, since, until, progress: Progress) -> _Reading:
    reading = _Reading()
    progress.phase("reading", None)
    for line, row in _mapped_rows(options, compiled):
        reading.rows += 1
        if reading.rows % 5000 == 0:
            progress.advance(5000)
        if isinstance(row, RowError):
            reading.bad.add("events", line, row.reason)
            if options.strict:
                break
            continue
        moment = _time(row, compiled)
        if moment is not None and ((since and moment < since) or (until and moment >= until)):
            reading.filtered += 1
            continue
        if moment is not None:
            reading.first = moment if reading.first is None else min(reading.first, moment)
            reading.last = moment if reading.last is None else max(reading.last, moment)
        spill.add(row.get("member"), ("row", line, row))
    spill.close()
    return reading


def _mapped_rows(options: Options, compiled):
    path = Path(options.events)
    kind, _ = detect(path)
    cmap = options.column_map
    header = columns_of(path)
    if header is not None and cmap.missing(header):
        missing = ", ".join(cmap.missing(header))
        raise InputError(f"{path}: no column for {missing} (columns: {', '.join(header)}); "
                         "rename one in the file or map it with --map")
    typing = CsvTyping(compiled.model.event_fields()) if kind == "csv" else None
    for line, row in read_rows(path):
        if not isinstance(row, RowError):
            row = cmap.apply(row)
            if typing is not None:
                row = typing.apply(row)
            if isinstance(row, dict):
                _envelope_text(row)
        yield line, row


def _envelope_text(row: dict) -> None:
    """Ids exported as numbers are ids all the same."""
    for key in ("id", "member"):
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            row[key] = str(value)


def _time(row: dict, compiled) -> dt.datetime | None:
    try:
        return parse_time(row.get("time"), compiled.tz, compiled.schema.naive_ok)
    except ValueError:
        return None  # the replay reports the row with the schema's own words


def _spill_seeds(options: Options, spill: Spill, bad: BadRows) -> None:
    if options.members is None:
        return
    for line, seed in read_seeds(Path(options.members)):
        if isinstance(seed, RowError):
            bad.add("members", line, seed.reason)
        else:
            spill.add(seed.member, ("seed", line, seed), seed=True)
    spill.close()


def run_passes(jobs: list[Job], sides: tuple[Side, ...], workers: int, progress: Progress, scratch: Path,
               rows: int, runner: Callable | None = None) -> tuple[Partial, tuple[Side, ...], int]:
    """Replay every job, pass after pass, until every budget plan is exact."""
    runner = runner or (lambda js: _run_jobs(js, workers, progress))
    for number in range(1, MAX_PASSES + 1):
        progress.phase("replaying" if number == 1 else f"replaying (pass {number}: budgets)", rows)
        partials = runner([Job(j.index, j.path, sides, j.start, j.end, j.rows) for j in jobs])
        partial = _merge(partials, sides)
        plans, exact = _check_budgets(sides, partial)
        if exact:
            getattr(runner, "flush", lambda: None)()
            return partial, sides, number
        sides = tuple(side.with_plan(_plan_ref(plan, scratch, number, i, workers))
                      for i, (side, plan) in enumerate(zip(sides, plans)))
        log.info("a budget ran out during pass %d: replaying again with the budgets' running totals", number)
    raise RuntimeError(f"budgets did not settle after {MAX_PASSES} passes")


def _merge(partials: list[Partial], sides: tuple[Side, ...]) -> Partial:
    ordered = sorted(partials, key=lambda p: p.index)
    if not ordered:
        return Partial(-1, [Tally(sides[0].month_tz) for _ in sides], uses=[[] for _ in sides],
                       leaders=[Leaders() for _ in sides])
    merged = ordered[0]
    for partial in ordered[1:]:
        merged.merge(partial)
    return merged


def _check_budgets(sides, partial: Partial) -> tuple[list, bool]:
    plans, exact = [], True
    for side, uses in zip(sides, partial.uses):
        if not side.budgets:
            plans.append(side.plan)
            continue
        ok, plan, _wrong = check_pass(side.budgets, uses)
        plans.append(plan)
        exact &= ok
    return plans, exact


def _plan_ref(plan: Plan, scratch: Path, number: int, side: int, workers: int) -> Plan | str:
    if workers == 1:
        return plan
    path = scratch / f"plan-{number}-{side}.pickle"  # written once, read once per worker process
    with open(path, "wb") as handle:
        pickle.dump(plan, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path)


def _observed(observe: Callable, progress: Progress) -> Callable:
    """A runner that shows every decision of the last pass to ``observe`` (earlier passes may be
    inexact when a budget runs out, so only the final pass's decisions are passed on)."""
    seen: list = []

    def run(jobs):
        seen.clear()
        out = []
        for job in jobs:
            out.append(run_job(job, lambda *args: seen.append(args)))
            progress.advance(out[-1].events)
        return out

    def flush():
        for args in seen:
            observe(*args)

    run.flush = flush
    return run


def _run_jobs(jobs: list[Job], workers: int, progress: Progress) -> list[Partial]:
    if workers == 1 or len(jobs) <= 1:
        out = []
        for job in jobs:
            out.append(run_job(job))
            progress.advance(out[-1].events)
        return out
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        results = []
        for partial in pool.map(run_job, jobs):
            results.append(partial)
            progress.advance(partial.events)
        return results
