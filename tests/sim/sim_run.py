"""Running a history against a store, with faults, deterministically from its seed.

Members are shared out among workers; a member's events always go through one worker,
in the history's order, so the final ledger does not depend on how workers interleave.

- memory: the workers are interleaved in one process by the seeded scheduler. A worker
  "dies" at a drawn point and restarts from a checkpoint a few events back, sending
  those events again with the same ids.
- SQLite and PostgreSQL: each worker is a forked process with its own store. Runs are
  armed with a fault drawn from the seed: SIGKILL at a crash point of the store
  (support/faults.py: members locked, rows flushed, inside COMMIT, committed) or
  between two events, and on PostgreSQL a dropped connection (``pg_terminate_backend``
  from another connection, just before COMMIT). A killed worker is started again from
  its last logged decision less a few events; a dropped connection is retried with the
  same event, a bounded number of times.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim_history import History
from support.faults import Faults

from punchcard.engine import Engine, MemoryStore

__all__ = ["Stats", "SqlSim", "run_memory", "run_sql"]

KILLED = -signal.SIGKILL
STORE_FAILED = 3  # a worker stopped on a store failure it could not retry past
RETRIES = 5


@dataclass
class Stats:
    store: str
    events: int = 0  # decisions received, retries and duplicates included
    kills: int = 0
    drops: int = 0
    retries: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.events + self.kills + self.drops

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds else 0.0
        return (f"{self.store}: {self.steps} steps ({self.events} events, {self.kills} kills, {self.drops} drops, "
                f"{self.retries} retried) in {self.seconds:.1f} s, {rate:.0f} events/s")


# -- memory ------------------------------------------------------------------------------
def run_memory(compiled, history: History, rng: random.Random, stats: Stats, death: float = 0.02):
    """Interleave the workers in-process; returns the store and the first decision each of
    the history's events got (by its index in the history)."""
    engine = Engine(compiled, store=MemoryStore())
    lists = [history.worker_events(w) for w in range(len(history.workers))]
    position = [0] * len(lists)
    decisions: dict[int, object] = {}
    while True:
        open_ = [w for w, events in enumerate(lists) if position[w] < len(events)]
        if not open_:
            return engine.store, decisions
        w = rng.choice(open_)
        if rng.random() < death:  # the worker dies before its next chunk and restarts further back
            stats.kills += 1
            position[w] = max(0, position[w] - rng.randint(0, 4))
            continue
        end = position[w] + rng.randint(1, 8)
        chunk = lists[w][position[w]:end]
        got = engine.process_many(chunk) if rng.random() < 0.5 else [engine.process(e) for e in chunk]
        for index, decision in zip(history.workers[w][position[w]:end], got, strict=True):
            decisions.setdefault(index, decision)
        stats.events += len(got)
        position[w] += len(chunk)


# -- SQL stores -----------------------------------------------------------------------------
@dataclass
class Run:
    """One start of a worker: from which event, how, and the fault it is armed with."""

    start: int
    batch: int  # 1: Engine.process per event; more: Engine.process_many
    crash: str = ""  # the crash point armed for this run (support/faults.py), "" for none
    die_after: int = 0  # SIGKILL itself after this many decisions (0: never)
    drops: tuple[int, ...] = ()  # drop the connection at these COMMITs (1-based)


def draw_run(rng: random.Random, start: int, left: int, backend: str, faulty: bool, drops: bool) -> Run:
    batch = 1 if rng.random() < 0.6 else rng.choice([2, 5, 17, 64])
    run = Run(start, batch)
    if not faulty:
        return run
    commits = max(1, left // batch)
    roll = rng.random()
    if drops and backend == "postgresql" and roll < 0.35:
        first = rng.randint(1, commits)
        if rng.random() < 0.3:  # every attempt the store makes fails: StoreError reaches the worker
            run.drops = (first, first + 1, first + 2)
        else:
            run.drops = tuple(sorted(rng.sample(range(1, commits + 1), min(commits, rng.randint(1, 3)))))
    elif roll < 0.75:
        run.crash = f"{rng.choice(['locked', 'flushed', 'commit', 'committed'])}:{rng.randint(1, commits)}"
    else:
        run.die_after = rng.randint(1, max(1, left))
    return run


@dataclass
class SqlSim:
    """A history's run on a SQL store: the ruleset, the database, the seeded faults."""

    compiled: Any
    history: History
    url: str
    backend: str  # "sqlite" or "postgresql"
    rng: random.Random
    stats: Stats
    fork: Any  # the multiprocessing context the workers are started from
    faults_per_worker: int = 3
    drops: bool = True


def run_sql(sim: SqlSim) -> dict[int, str]:
    """Run every worker to the end of its events, through the faults the seed draws. Returns
    the first outcome a worker logged for each of the history's events, by index."""
    outcomes: dict[int, str] = {}
    folder = Path(tempfile.mkdtemp(prefix="punchcard-sim-"))
    try:
        _rounds(sim, folder, outcomes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return outcomes


def _rounds(sim: SqlSim, folder: Path, outcomes: dict[int, str]) -> None:
    """Start every unfinished worker, wait for all, and again, until each has sent all its events."""
    history, rng, stats = sim.history, sim.rng, sim.stats
    lists = [history.worker_events(w) for w in range(len(history.workers))]
    position = [0] * len(lists)
    faults_left = [sim.faults_per_worker] * len(lists)
    while any(position[w] < len(lists[w]) for w in range(len(lists))):
        runs = {w: draw_run(rng, position[w], len(lists[w]) - position[w], sim.backend, faults_left[w] > 0,
                             sim.drops)
                for w in range(len(lists)) if position[w] < len(lists[w])}
        processes = {}
        for w, run in runs.items():
            log = folder / f"w{w}.log"
            log.write_text("")
            processes[w] = sim.fork.Process(target=_worker, args=(sim.url, sim.compiled, lists[w], run, str(log)))
            processes[w].start()
        for w, process in processes.items():
            process.join(600)
            if process.is_alive():
                process.kill()
                process.join()
                raise AssertionError(f"worker {w} hung (seed {history.seed})")
            done = _after(process.exitcode, runs[w], folder / f"w{w}.log", stats, history.seed)
            for offset, outcome in enumerate(done):
                outcomes.setdefault(history.workers[w][runs[w].start + offset], outcome)
            position[w] = runs[w].start + len(done)
            if process.exitcode != 0:  # send a few decided events again: they must be duplicates
                position[w] = max(0, position[w] - rng.randint(0, 3))
            faults_left[w] -= bool(runs[w].crash or runs[w].die_after or runs[w].drops)


def _after(code: int, run: Run, log: Path, stats: Stats, seed: int) -> list[str]:
    """The outcomes the worker logged, in order, counting what it did."""
    lines = log.read_text().splitlines()
    done = [words[1] for words in map(str.split, lines) if len(words) == 2 and words[0].isdigit()]
    stats.events += len(done)
    stats.drops += lines.count("drop")
    stats.retries += sum(line.startswith("retry") for line in lines)
    if code not in (0, KILLED, STORE_FAILED):
        raise AssertionError(f"worker failed with exit code {code} (seed {seed}): {' | '.join(lines[-5:])}")
    stats.kills += code == KILLED
    return done


def _worker(url: str, compiled, events: list[dict], run: Run, log_path: str) -> None:
    """A worker process: exit 0 when done, SIGKILLed by a fault, STORE_FAILED on a store
    failure it cannot retry past, 4 on anything else (an exception escaped)."""
    try:
        from punchcard.plugins.sql.store import SqlStore

        with open(log_path, "a", buffering=1) as log:
            store = SqlStore(url, batch_size=max(run.batch, 1))
            store.faults = Faults(run.crash)
            if run.drops:
                store.faults = DropConnection(run.drops, url, store.faults, log)
            code = _work(Engine(compiled, store=store), events, run, log)
            store.close()
    except BaseException:
        traceback.print_exc()
        os._exit(4)
    os._exit(code)


def _work(engine, events: list[dict], run: Run, log) -> int:
    index, decided = run.start, 0
    while index < len(events):
        chunk = events[index:index + run.batch]
        decisions = _decide(engine, chunk, log)
        if decisions is None:
            return STORE_FAILED
        for decision in decisions:
            if decision.outcome == "rejected" and (decision.reason or "").startswith("not processed"):
                return STORE_FAILED  # a store failure: stop here, the restart sends it again
            log.write(f"{index} {decision.outcome}\n")
            index += 1
            decided += 1
            if run.die_after and decided == run.die_after:
                os.kill(os.getpid(), signal.SIGKILL)
    return 0


def _decide(engine, chunk: list[dict], log):
    for _ in range(RETRIES):
        try:
            return engine.process_many(chunk) if len(chunk) > 1 else [engine.process(chunk[0])]
        except Exception as exc:  # a store failure; the same events are sent again
            log.write(f"retry {type(exc).__name__}\n")
    return None


class DropConnection:
    """Drops the worker's PostgreSQL connection from another connection
    (``pg_terminate_backend``) just before the chosen COMMITs; otherwise the store's own faults."""

    def __init__(self, commits: tuple[int, ...], url: str, inner, log):
        from sqlalchemy.engine import make_url

        self.commits, self.count, self.inner, self.log = set(commits), 0, inner, log
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def at(self, point: str) -> None:
        self.inner.at(point)

    def reached(self, point: str) -> bool:
        return self.inner.reached(point)

    def commit(self, conn) -> None:
        self.count += 1
        if self.count in self.commits:
            import psycopg

            pid = conn.connection.dbapi_connection.info.backend_pid
            with psycopg.connect(self.dsn, autocommit=True) as side:
                side.execute("SELECT pg_terminate_backend(%s)", (pid,))
            self.log.write("drop\n")
        self.inner.commit(conn)
