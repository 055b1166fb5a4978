"""A longer soak of the fault simulation (tests/sim): new seeds, one history after another,
on each store, until a number of steps or seconds is reached.

    .venv/bin/python bench/bench_soak.py [--stores memory,sqlite,postgresql] [--steps 20000]
                                         [--seconds 300] [--seed 1] [--events N] [--members N]
                                         [--workers N] [--faults N] [--out-of-bounds SHARE]
                                         [--postgres-url URL]

A step is an event processed (retries and duplicates included) or a fault injected (a
worker killed with SIGKILL, a PostgreSQL connection dropped with
``pg_terminate_backend``). Every history is checked against the independent oracle and
the audit; the first one that differs stops the soak with its seed, which
``PUNCHCARD_SIM_SEED=<seed> pytest tests/sim -k <store>`` replays (histories have the
tests' shape unless ``--events`` and the options after it say otherwise). Prints, per store, the steps, the
kills and drops survived, and events per second.

PostgreSQL is a throwaway local cluster with durable settings unless ``--postgres-url``
points at one (the soak creates its own schemas there).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "sim"))
sys.path.insert(0, str(ROOT / "tests"))  # support/: the crash points the simulation arms

from bench_store import Databases  # noqa: E402
from sim_driver import SimulationFailed, shape_for, simulate  # noqa: E402
from sim_run import Stats  # noqa: E402

__all__ = ["soak", "main"]


def soak(store: str, args, databases: Databases) -> Stats:
    """Histories on ``store`` from ``args.seed`` on, until ``args.steps`` or ``args.seconds``."""
    total = Stats(store)
    given = {name: value for name, value in (
        ("events", args.events), ("members", args.members), ("workers", args.workers),
        ("faults_per_worker", args.faults), ("out_of_bounds", args.out_of_bounds)) if value is not None}
    new_url = getattr(databases, store, None)
    fork = multiprocessing.get_context("fork")
    started, seed = time.perf_counter(), args.seed
    while total.steps < args.steps and time.perf_counter() - started < args.seconds:
        stats = simulate(store, seed, replace(shape_for(store, seed), **given), new_url, fork)
        total.events += stats.events
        total.kills += stats.kills
        total.drops += stats.drops
        total.retries += stats.retries
        total.notes.append(str(seed))
        seed += 1
    total.seconds = time.perf_counter() - started
    return total


def report(total: Stats) -> str:
    seeds = total.notes
    span = f"seeds {seeds[0]}..{seeds[-1]}" if seeds else "no seeds"
    return (f"{total.store:<10} {total.steps:>8} steps  {total.events:>8} events  {total.kills:>5} kills  "
            f"{total.drops:>5} drops survived  {total.events / total.seconds if total.seconds else 0:>7.0f} "
            f"events/s  {len(seeds)} histories ({span}), {total.seconds:.1f} s")


def parse(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="memory,sqlite,postgresql")
    parser.add_argument("--steps", type=int, default=20000, help="per store: stop after this many steps")
    parser.add_argument("--seconds", type=float, default=300, help="per store: stop after this long")
    parser.add_argument("--seed", type=int, default=1, help="the first history's seed")
    # the shape of a history: by default each store's shape in the tests, so that a failing
    # seed replays with PUNCHCARD_SIM_SEED alone
    parser.add_argument("--events", type=int, help="events per history")
    parser.add_argument("--members", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--faults", type=int, help="faulty runs per worker and history")
    parser.add_argument("--out-of-bounds", type=float, help="share of out-of-bounds input")
    parser.add_argument("--postgres-url")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # retried store failures and rejected conflicts are part of the soak: keep them off the report
    logger = logging.getLogger("punchcard")
    level = logger.level
    logger.setLevel(logging.ERROR)
    databases = Databases(args.postgres_url)
    failed = 0
    try:
        for store in args.stores.split(","):
            try:
                print(report(soak(store, args, databases)), flush=True)
            except SimulationFailed as exc:
                print(f"{store}: FAILED: {exc}", flush=True)
                failed += 1
    finally:
        databases.close()
        logger.setLevel(level)  # main() may be called in a process that goes on
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
