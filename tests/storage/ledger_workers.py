"""Worker processes for the concurrency and crash tests. Each opens its own store
from the URL (connections are never shared across processes)."""

from __future__ import annotations

import json

from support.faults import Faults

from punchcard.engine import Engine

__all__ = ["redeem_at_barrier", "replay", "run_events", "start_all"]

BARRIER_SECONDS = 120


def _engine(url: str, compiled, batch: int = 500):
    from punchcard.plugins.sql.store import SqlStore

    return Engine(compiled, store=SqlStore(url, batch_size=batch))


def redeem_at_barrier(url, compiled, member, points, index, time, barrier, out) -> None:
    engine = _engine(url, compiled)
    engine.store.member(member)  # connected and warm before the race starts
    barrier.wait(BARRIER_SECONDS)
    decision = engine.process({"type": "redeem", "id": f"race-{index}", "member": member, "time": time,
                               "points": str(points)})
    out.put((index, decision.outcome, decision.reason))
    engine.store.close()


def replay(url, compiled, events, batch, barrier, out_path) -> None:
    """Process ``events`` (batch 1: one ``process`` per event) and write each outcome."""
    engine = _engine(url, compiled, batch)
    barrier.wait(BARRIER_SECONDS)
    decisions = engine.process_many(events) if batch > 1 else [engine.process(e) for e in events]
    with open(out_path, "w") as handle:
        json.dump([[d.event_id, d.outcome, str(d.points)] for d in decisions], handle)
    engine.store.close()


def run_events(url, compiled, events, batch, crash) -> None:
    """Process ``events`` with a crash point armed (``point[:n]``, see support/faults.py)."""
    engine = _engine(url, compiled, batch)
    engine.store.faults = Faults(crash)
    if batch > 1:
        engine.process_many(events)
    else:
        for event in events:
            engine.process(event)
    engine.store.close()


def start_all(context, target, argument_lists, timeout: float = 300) -> list[int]:
    """Start one process per argument list, wait for all, return their exit codes."""
    processes = [context.Process(target=target, args=args) for args in argument_lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
    return [process.exitcode for process in processes]
