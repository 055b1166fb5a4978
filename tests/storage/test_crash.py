"""Crashes: a worker process SIGKILLs itself at a chosen point while processing
(members locked; everything written but not committed; PostgreSQL: COMMIT sent, reply
unread; committed). Replaying the whole batch afterwards must leave exactly what a
run without the crash leaves, and the auditor must find nothing."""

from __future__ import annotations

import random
import signal

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine, MemoryStore
from punchcard.plugins.sql.faults import Faults
from punchcard.plugins.sql.models import ProcessedEventRow
from punchcard.plugins.sql.store import SqlStore
from ledger_scenarios import mixed_events
from ledger_workers import run_events, start_all

pytestmark = pytest.mark.slow

EVENTS = mixed_events(seed=21, count=240, members=5)
BATCH = 40
KILLED = -signal.SIGKILL


def _cases(backend: str) -> list[tuple[str, int]]:
    """Deterministic kill points: each crash point, at a chunk chosen by a seeded RNG."""
    rng = random.Random(f"crash-{backend}")
    points = ["locked", "flushed", "committed"] + (["commit"] if backend == "postgresql" else [])
    return [(point, rng.randrange(1, len(EVENTS) // BATCH + 1)) for point in points]


@pytest.fixture(scope="module")
def reference(everything):
    engine = Engine(everything, store=MemoryStore())
    decisions = [engine.process(e) for e in EVENTS]
    return engine.store, {d.event_id: d.to_json() for d in decisions if d.outcome != "duplicate"}


def _stored(store: SqlStore) -> int:
    with store.read() as conn, conn.begin():
        return conn.execute(select(func.count()).select_from(ProcessedEventRow.__table__)).scalar()


def _distinct_before(chunks: int) -> int:
    """Distinct event ids in the first ``chunks`` chunks (retries inside are not stored twice)."""
    return len({e["id"] for e in EVENTS[:chunks * BATCH]})


def _check_replay(store: SqlStore, compiled, reference) -> None:
    """Replay everything: each decision as the crash-free run made it, each member's state
    the same, and ``punchcard audit`` finds nothing."""
    memory, expected = reference
    replayed = Engine(compiled, store=store).process_many(EVENTS)
    for decision in replayed:
        doc = decision.to_json()
        if decision.outcome == "duplicate":
            doc = {**doc, "outcome": expected[decision.event_id]["outcome"],
                   "reason": expected[decision.event_id]["reason"]}
        assert doc == expected[decision.event_id], decision.event_id
    for member in {e["member"] for e in EVENTS}:
        assert store.member(member) == memory.member(member), member
    audit = CliRunner().invoke(app, ["audit", store.url])
    assert audit.exit_code == 0 and "no differences" in audit.stderr, audit.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_killed_anywhere_replays_to_the_same_ledger(backend, store_urls, everything, fork, reference):
    for point, chunk in _cases(backend):
        url = store_urls.new(backend)
        codes = start_all(fork, run_events, [(url, everything, EVENTS, BATCH, f"{point}:{chunk}")])
        assert codes == [KILLED], (point, chunk)
        store = SqlStore(url)
        committed = _stored(store)
        done = chunk if point == "committed" else chunk - 1
        allowed = {_distinct_before(done)} | ({_distinct_before(chunk)} if point == "commit" else set())
        assert committed in allowed, (point, chunk, committed)
        _check_replay(store, everything, reference)
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_single_events_killed_around_the_commit_replay_to_the_same_ledger(backend, store_urls, everything, fork,
                                                                         reference):
    rng = random.Random(f"single-{backend}")
    points = ["flushed", "committed"] + (["commit"] if backend == "postgresql" else [])
    for point in points:
        url = store_urls.new(backend)
        nth = rng.randrange(20, 120)
        assert start_all(fork, run_events, [(url, everything, EVENTS, 1, f"{point}:{nth}")]) == [KILLED]
        store = SqlStore(url)
        assert _stored(store) in ({nth - 1, nth} if point == "commit" else {nth if point == "committed" else nth - 1})
        _check_replay(store, everything, reference)
        store.close()


def test_crash_points_are_checked():
    with pytest.raises(ValueError, match="unknown crash point 'flushd'"):
        Faults("flushd:2")
    armed = Faults("flushed:2")
    assert [armed.reached("flushed"), armed.reached("locked"), armed.reached("flushed")] == [False, False, True]
