"""Storage throughput and latency, against the in-memory store measured in the same run.

    .venv/bin/python bench/bench_store.py [--events 20000] [--single 3000] [--workers 1,2,4,8]
                                          [--backends sqlite,postgresql] [--postgres-url URL]

Coffee-club purchases (5% redemptions) for 5,000 members. Measured, each on a fresh
database, every event exactly-once (idempotency check, postings, stored decision):

  memory      ``Engine.process`` on a MemoryStore: the baseline
  sqlite      ``process`` one event per transaction (p50/p99 latency), and ``process_many``
  postgresql  the same, then 1, 2, 4 and 8 worker processes sharing one database, each
              with the events of its own share of the members: with
              ``process``, with ``process`` on coffee-club without its campaign budget
              (the one row all members share), and with ``process_many``

PostgreSQL is a throwaway local cluster with durable settings (fsync and
synchronous_commit on), unless ``--postgres-url`` points at one (the bench creates
and drops its own schemas there). SQLite runs with WAL and ``synchronous=FULL``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support/pgtemp.py: a throwaway PostgreSQL

from punchcard.engine import Engine, MemoryStore  # noqa: E402
from punchcard.engine.compiler.stages import compile_ruleset  # noqa: E402
from punchcard.plugins.sql import migrate  # noqa: E402
from punchcard.plugins.sql.connect import create_sql_engine  # noqa: E402
from punchcard.plugins.sql.store import SqlStore  # noqa: E402

__all__ = ["generate", "run", "main"]

MEMBERS = 5000
CATEGORIES = ["coffee", "coffee", "food", "food", "books", "gift_card"]
REDEEM_SHARE = 0.05  # of the events: the rest are purchases


def generate(count: int, seed: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    start, step = dt.datetime(2026, 1, 5, 6, 0), dt.timedelta(seconds=90 * 86400 / count)
    events = []
    for i in range(count):
        base = {"id": f"{prefix}-{i}", "member": f"m{rng.randrange(MEMBERS)}",
                "time": (start + i * step).strftime("%Y-%m-%dT%H:%M:%S")}
        if rng.random() < REDEEM_SHARE:
            events.append({**base, "type": "redeem", "points": str(rng.choice([50, 100, 300]))})
        else:
            events.append({**base, "type": "purchase", "amount": str(rng.choice([90, 150, 420, 1350, "99.90"])),
                           "category": rng.choice(CATEGORIES)})
    return events


# -- timing ----------------------------------------------------------------------------
def timed_single(engine: Engine, events: list[dict]) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for event in events:
        before = time.perf_counter()
        engine.process(event)
        latencies.append(time.perf_counter() - before)
    return time.perf_counter() - started, latencies


def timed_many(engine: Engine, events: list[dict]) -> float:
    started = time.perf_counter()
    engine.process_many(events)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


# -- databases -------------------------------------------------------------------------
class Databases:
    """Fresh SQLite files in a temporary folder; fresh migrated PostgreSQL schemas."""

    def __init__(self, postgres_url: str | None):
        self.tmp = Path(tempfile.mkdtemp(prefix="punchcard-bench-"))
        self.count = 0
        self.cluster = None
        self.postgres_url = postgres_url

    def sqlite(self) -> str:
        self.count += 1
        return f"sqlite:///{self.tmp / f'ledger-{self.count}.db'}"

    def postgresql(self, migrated: bool = True) -> str:
        """A fresh schema's URL; ``migrated=False`` leaves it empty, for a client that migrates
        it with its own revision of punchcard."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        if self.postgres_url is None:
            from support.pgtemp import TempCluster

            self.cluster = TempCluster().start()  # durable defaults: fsync, synchronous_commit on
            self.postgres_url = self.cluster.url()
        self.count += 1
        schema = f"bench_{self.count}"
        admin = create_sql_engine(self.postgres_url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.commit()
        admin.dispose()
        url = make_url(self.postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        url = url.render_as_string(hide_password=False)
        if migrated:
            engine = create_sql_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
        return url

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


# -- workers ---------------------------------------------------------------------------
def _worker(url, compiled, events, many, barrier, out) -> None:
    engine = Engine(compiled, store=SqlStore(url))
    engine.store.member("m0")  # connected before the clock starts
    barrier.wait()
    started = time.perf_counter()
    if many:
        engine.process_many(events)
    else:
        for event in events:
            engine.process(event)
    out.put((started, time.perf_counter()))
    engine.store.close()


def partition(events: list[dict], workers: int) -> list[list[dict]]:
    """Each member's events to one worker (stable, by member number), in their order:
    how a bulk load is split so workers do not queue for each other's member locks."""
    slices: list[list[dict]] = [[] for _ in range(workers)]
    for event in events:
        slices[int(event["member"][1:]) % workers].append(event)
    return slices


def concurrent(url: str, compiled, events: list[dict], workers: int, many: bool) -> float:
    """Wall time for ``workers`` processes to process ``events`` between them."""
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(workers), context.Queue()
    slices = partition(events, workers)
    processes = [context.Process(target=_worker, args=(url, compiled, s, many, barrier, out)) for s in slices]
    for process in processes:
        process.start()
    spans = [out.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed with exit code {process.exitcode}")
    return max(end for _, end in spans) - min(start for start, _ in spans)


# -- the run ---------------------------------------------------------------------------
class Table:
    def __init__(self):
        self.rows: list[tuple] = []
        self.baseline: float | None = None

    def add(self, name: str, events: int, seconds: float, latencies: list[float] | None = None) -> None:
        rate = events / seconds
        if self.baseline is None:
            self.baseline = rate
        p50 = f"{percentile(latencies, 50) * 1000:.2f}" if latencies else ""
        p99 = f"{percentile(latencies, 99) * 1000:.2f}" if latencies else ""
        self.rows.append((name, events, f"{seconds:.2f}", f"{rate:,.0f}", f"{rate / self.baseline:.3f}", p50, p99))
        print(f"  {name}: {rate:,.0f} events/s", file=sys.stderr, flush=True)

    def print(self) -> None:
        header = ("run", "events", "seconds", "events/s", "x baseline", "p50 ms", "p99 ms")
        widths = [max(len(str(row[i])) for row in [header, *self.rows]) for i in range(len(header))]
        for row in [header, *self.rows]:
            print("  ".join(str(cell).rjust(width) if i else str(cell).ljust(width)
                            for i, (cell, width) in enumerate(zip(row, widths, strict=True))))


def without_budget() -> str:
    """coffee-club without its campaign budget: nothing shared between members."""
    text = (ROOT / "rulesets" / "coffee-club.yaml").read_text()
    budget = "  budgets:\n    - {rule: big-basket, max_points: 1000000}\n"
    assert budget in text, "coffee-club's budget changed; update the bench"
    return text.replace(budget, "")


def run(args) -> Table:
    compiled = compile_ruleset(ROOT / "rulesets" / "coffee-club.yaml")
    events, single = generate(args.events, 1, "e"), generate(args.single, 2, "s")
    table, dbs = Table(), Databases(args.postgres_url)
    try:
        seconds, latencies = timed_single(Engine(compiled, store=MemoryStore()), events)
        table.add("memory process (baseline)", len(events), seconds, latencies)
        for backend in args.backends:
            url = getattr(dbs, backend)()
            seconds, latencies = timed_single(Engine(compiled, store=SqlStore(url)), single)
            table.add(f"{backend} process", len(single), seconds, latencies)
            table.add(f"{backend} process_many", len(events),
                      timed_many(Engine(compiled, store=SqlStore(getattr(dbs, backend)())), events))
        if "postgresql" in args.backends:
            workers_table(table, dbs, compiled, events, single, args.workers)
    finally:
        dbs.close()
    return table


def workers_table(table: Table, dbs: Databases, compiled, events, single, counts) -> None:
    no_budget = compile_ruleset(without_budget())
    runs = [("process", compiled, single, False), ("process, no budget", no_budget, single, False),
            ("process_many", compiled, events, True)]
    for label, ruleset, sample, many in runs:
        for workers in counts:
            seconds = concurrent(dbs.postgresql(), ruleset, sample, workers, many)
            table.add(f"postgresql {workers} workers {label}", len(sample), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events for process_many runs")
    parser.add_argument("--single", type=int, default=3000, help="events for one-at-a-time runs")
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",") if n], default=[1, 2, 4, 8])
    parser.add_argument("--backends", type=lambda s: [b for b in s.split(",") if b], default=["sqlite", "postgresql"],
                        help="sqlite, postgresql or both (default)")
    parser.add_argument("--postgres-url", help="an existing PostgreSQL (default: a throwaway local cluster)")
    args = parser.parse_args()
    run(args).print()


if __name__ == "__main__":
    main()
