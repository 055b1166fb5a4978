"""The durable path against a baseline revision of punchcard, measured side by side in one run.

    .venv/bin/python bench/bench_durable.py [--baseline REV] [--single 2000] [--events 20000]
                                            [--rounds 3] [--workers 1,2,4] [--postgres-url URL]
                                            [--returning 1000] [--history 20]

Each figure comes from a fresh process on a fresh database, running either this tree or
``--baseline`` (a git revision, checked out in a temporary worktree; default: the last
revision before PostgreSQL's unit of work went to the driver in pipelines). Rounds
alternate between the two, so a busy machine slows both alike; the table gives the
median of the rounds and the ratio of this tree to the baseline.

  process, PostgreSQL   one event per transaction (coffee-club, 5,000 members): Python
                        CPU per event (``time.process_time``), p50 and p99 latency, events/s
  returning members     the same, one event for each of ``--returning`` members who have
                        ``--history`` earlier purchases (stored first, not timed), by a
                        store that has not held them (its member cache is empty): their
                        lots and records are read and decoded, as for most events of a
                        service with many members
  round trips           per event, counted by a proxy between the client and PostgreSQL:
                        a round trip is the client sending after the server last answered
  process_many          PostgreSQL and SQLite, 1,000 events per transaction: events/s
  workers               1, 2 and 4 processes sharing one PostgreSQL database, each with its
                        own share of the members, with ``process`` and ``process_many``

PostgreSQL is a throwaway local cluster with durable settings (fsync and
synchronous_commit on) unless ``--postgres-url`` names one. The machine's CPU count is
printed: a 2-core machine cannot show 4-worker scaling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from durable_support import RoundTripProxy, use_sources  # noqa: E402

__all__ = ["main"]

DEFAULT_BASELINE = "2496ef6"  # the unit of work through SQLAlchemy, one statement per round trip


def _child(args) -> None:
    """Measure one thing on one database with the sources under ``--root``; print JSON."""
    use_sources(Path(args.root))
    from bench_store import concurrent, generate, percentile

    from punchcard.engine import Engine
    from punchcard.engine.compiler.stages import compile_ruleset
    from punchcard.plugins.sql.store import SqlStore

    if args.url.startswith("postgresql"):
        _migrate_own(args.url)
    compiled = compile_ruleset(ROOT / "rulesets" / "coffee-club.yaml")
    if args.measure == "workers":
        events = generate(args.count, 1, "e")
        seconds = concurrent(args.url, compiled, events, args.workers[0], args.many)
        print(json.dumps({"events/s": len(events) / seconds}))
        return
    if args.measure == "returning":  # their earlier purchases stored first, by an engine of their own
        earlier = SqlStore(args.url)
        Engine(compiled, store=earlier).process_many(_purchases(args.count, args.history, "h", 0))
        earlier.close()
        events = _purchases(args.count, 1, "r", args.history)
    else:
        events = generate(args.count, 2 if args.measure == "single" else 1, "e")
    engine = Engine(compiled, store=SqlStore(args.url))
    engine.store.member("m0")  # connected before the clock starts
    print(json.dumps(_timed(engine, events, args.measure == "many", percentile)))
    engine.store.close()


def _timed(engine, events: list[dict], many: bool, percentile) -> dict:
    """CPU per event and events/s; p50 and p99 of one event at a time."""
    cpu, wall, latencies = time.process_time(), time.perf_counter(), []
    if many:
        engine.process_many(events)
    else:
        for event in events:
            started = time.perf_counter()
            engine.process(event)
            latencies.append(time.perf_counter() - started)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    figures = {"cpu ms/event": 1000 * cpu / len(events), "events/s": len(events) / wall}
    if latencies:
        figures.update({"p50 ms": 1000 * percentile(latencies, 50), "p99 ms": 1000 * percentile(latencies, 99)})
    return figures


def _purchases(members: int, each: int, prefix: str, first_day: int) -> list[dict]:
    """``each`` purchases of each of ``members`` members, a day apart, from ``first_day``."""
    start = dt.datetime(2026, 1, 5, 8, 0)
    return [{"id": f"{prefix}-{day}-{member}", "member": f"m{member}", "type": "purchase",
             "time": (start + dt.timedelta(days=first_day + day, seconds=member)).isoformat(),
             "amount": ("90", "150", "420", "99.90")[(member + day) % 4], "category": ("coffee", "food")[day % 2]}
            for day in range(each) for member in range(members)]


def _migrate_own(url: str) -> None:
    """Migrate the fresh schema with this side's own revision: a baseline older than the
    newest migration refuses a schema the newer tree made."""
    from punchcard.plugins.sql import migrate
    from punchcard.plugins.sql.connect import create_sql_engine

    engine = create_sql_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


class Sides:
    """This tree and the baseline's worktree, each measured by a child process."""

    def __init__(self, baseline: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="punchcard-durable-"))
        self.roots = {"baseline": self.tmp / "baseline", "this tree": ROOT}
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(self.roots["baseline"]),
                        baseline], check=True, capture_output=True)

    def measure(self, side: str, url: str, *options: str) -> dict:
        command = [sys.executable, __file__, "--child", "--root", str(self.roots[side]), "--url", url, *options]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(self.roots["baseline"])],
                       check=False, capture_output=True)


def _round_trips(sides: Sides, dbs, side: str, proxy: RoundTripProxy) -> float:
    """Round trips per event: the difference between two runs, so connecting is not counted."""
    counts = []
    for count in (200, 400):
        url = proxy.url_for(dbs.postgresql(migrated=False))
        before = proxy.turns
        sides.measure(side, url, "--measure", "single", "--count", str(count))
        counts.append(proxy.turns - before)
    return (counts[1] - counts[0]) / 200


def run(args) -> list[tuple]:
    from bench_store import Databases

    sides, dbs = Sides(args.baseline), Databases(args.postgres_url)
    results: dict[tuple[str, str], list[float]] = {}

    def add(side: str, name: str, value: float) -> None:
        results.setdefault((name, side), []).append(value)
        print(f"  {side}: {name} {value:,.3f}", file=sys.stderr, flush=True)

    try:
        proxy = RoundTripProxy(dbs)
        for _ in range(args.rounds):
            for side in ("baseline", "this tree"):
                single = sides.measure(side, dbs.postgresql(migrated=False), "--measure", "single", "--count",
                                       str(args.single))
                for name, value in single.items():
                    add(side, f"postgresql process {name}", value)
                returning = sides.measure(side, dbs.postgresql(migrated=False), "--measure", "returning", "--count",
                                          str(args.returning), "--history", str(args.history))
                for name in ("cpu ms/event", "events/s"):
                    add(side, f"postgresql process, returning members, {name}", returning[name])
                for backend in ("postgresql", "sqlite"):
                    fresh = dbs.postgresql(migrated=False) if backend == "postgresql" else dbs.sqlite()
                    many = sides.measure(side, fresh, "--measure", "many", "--count",
                                         str(args.events))
                    add(side, f"{backend} process_many events/s", many["events/s"])
                    add(side, f"{backend} process_many cpu ms/event", many["cpu ms/event"])
        for side in ("baseline", "this tree"):
            add(side, "postgresql process round trips/event", _round_trips(sides, dbs, side, proxy))
            for workers in args.workers:
                for many, count in ((False, args.single), (True, args.events)):
                    label = "process_many" if many else "process"
                    figures = sides.measure(side, dbs.postgresql(migrated=False), "--measure", "workers",
                                            "--workers", str(workers), "--count", str(count),
                                            *(["--many"] if many else []))
                    add(side, f"postgresql {workers} workers {label} events/s", figures["events/s"])
        proxy.close()
    finally:
        sides.close()
        dbs.close()
    return _table(results)


def _table(results: dict[tuple[str, str], list[float]]) -> list[tuple]:
    names = list(dict.fromkeys(name for name, _ in results))
    rows = []
    for name in names:
        base, this = (statistics.median(results[name, side]) for side in ("baseline", "this tree"))
        rows.append((name, f"{base:,.3f}", f"{this:,.3f}", f"{this / base:.2f}" if base else ""))
    return rows


def _print(rows: list[tuple], baseline: str) -> None:
    print(f"CPUs: {os.cpu_count()}; baseline: {baseline}; figures are medians of the rounds")
    header = ("measure", "baseline", "this tree", "this / baseline")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) if i else str(cell).ljust(width)
                        for i, (cell, width) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="the git revision to measure beside this tree")
    parser.add_argument("--single", type=int, default=2000, help="events for one-at-a-time runs")
    parser.add_argument("--events", type=int, default=20000, help="events for process_many runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--returning", type=int, default=1000, help="returning members, one event each")
    parser.add_argument("--history", type=int, default=20, help="earlier purchases of each returning member")
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",") if n], default=[1, 2, 4])
    parser.add_argument("--postgres-url", help="an existing PostgreSQL (default: a throwaway local cluster)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["single", "many", "workers", "returning"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--many", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    _print(run(args), args.baseline)


if __name__ == "__main__":
    main()
