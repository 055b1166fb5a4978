"""One simulated history from its seed to its verdict: generate, run with faults, check.

Used by tests/sim/test_simulation.py (a fixed set of seeds on every run) and by
bench/bench_soak.py (new seeds for as long as it is asked to run). A failure names its
seed and store; ``PUNCHCARD_SIM_SEED=<seed>`` replays that history exactly.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, replace

from sim_check import Mismatch, check_store
from sim_history import make_history
from sim_oracle import UNITS
from sim_run import SqlSim, Stats, run_memory, run_sql

from punchcard.engine.compiler.stages import compile_ruleset

__all__ = ["RULESET", "SEED_ENV", "SHAPES", "STEPS", "Shape", "shape_for", "SimulationFailed", "simulate",
           "replay_seed", "compiled"]

RULESET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ledger.yaml")
SEED_ENV = "PUNCHCARD_SIM_SEED"
_COMPILED: dict = {}
# the same ruleset in a currency with other decimal places, and a step to match
STEPS = {"GBP": "0.01", "JPY": "1", "BHD": "0.001"}


@dataclass(frozen=True)
class Shape:
    """How big a history is: the seed decides everything else."""

    events: int = 1200
    members: int = 16
    workers: int = 3
    faults_per_worker: int = 3
    out_of_bounds: float = 0.0
    late_records: bool = False  # refunds and reversals may come late too (see make_history)
    currency: str = "GBP"  # GBP (2 decimals, step 0.01), JPY (0, step 1) or BHD (3, step 0.001)


# Each store's history shape in the tests and, by default, in bench/bench_soak.py: a seed
# replays exactly with the shape it ran with.
SHAPES = {"memory": Shape(events=2000, members=24, workers=4, out_of_bounds=0.03),
          "sqlite": Shape(events=2000, members=20, workers=4, faults_per_worker=4, out_of_bounds=0.03),
          "postgresql": Shape(events=2000, members=20, workers=4, faults_per_worker=4, out_of_bounds=0.03)}


def shape_for(store: str, seed: int) -> Shape:
    """The store's shape, in the currency the seed picks (GBP for two seeds in four)."""
    return replace(SHAPES[store], currency=["GBP", "JPY", "GBP", "BHD"][seed % 4])


class SimulationFailed(AssertionError):
    pass


def compiled(currency: str = "GBP"):
    """The simulation's ruleset, in ``currency``."""
    if currency not in _COMPILED:
        with open(RULESET, encoding="utf-8") as handle:
            text = handle.read().replace("currency: GBP", f"currency: {currency}")
        text = text.replace("step: 0.01}", f"step: {STEPS[currency]}}}")
        _COMPILED[currency] = compile_ruleset(text)
    return _COMPILED[currency]


def replay_seed() -> int | None:
    """The seed to replay, from ``PUNCHCARD_SIM_SEED``, or None."""
    text = os.environ.get(SEED_ENV, "").strip()
    return int(text) if text else None


def simulate(store: str, seed: int, shape: Shape, new_url=None, fork=None, drops: bool = True) -> Stats:
    """Run the history of ``seed`` on ``store`` ("memory", "sqlite", "postgresql"; ``new_url()``
    gives a fresh migrated database for the SQL ones) and check it against the oracle."""
    history = make_history(seed, shape.events, shape.members, shape.workers, shape.out_of_bounds,
                           shape.late_records, UNITS[shape.currency])
    rng = random.Random(f"faults-{seed}")
    stats = Stats(store)
    started = time.perf_counter()
    try:
        if store == "memory":
            result, decisions = run_memory(compiled(shape.currency), history, rng, stats)
            check_store(result, history, decisions)
        else:
            url = new_url()
            outcomes = run_sql(SqlSim(compiled(shape.currency), history, url, store, rng, stats, fork,
                                      shape.faults_per_worker, drops))
            _check_sql(url, history, outcomes)
    except (Mismatch, AssertionError) as exc:
        raise SimulationFailed(f"seed {seed} on {store} ({shape}): {exc}\nreplay it with "
                               f"{SEED_ENV}={seed} pytest tests/sim -k {store}") from exc
    stats.seconds = time.perf_counter() - started
    return stats


def _check_sql(url: str, history, outcomes: dict) -> None:
    from punchcard.plugins.sql.store import SqlStore

    store = SqlStore(url)
    try:
        check_store(store, history, outcomes)
    finally:
        store.close()
