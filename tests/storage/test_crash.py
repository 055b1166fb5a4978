"""Crashes: a worker process SIGKILLs itself at a chosen point while processing
(members locked; everything written but not committed; during the commit; committed).
During the commit means, on PostgreSQL, COMMIT sent and the reply unread (the server
decides); on SQLite, killed from inside COMMIT once the transaction is in the WAL and
synced, before COMMIT returns (it happened; the process never learnt it). Replaying
the whole batch afterwards must leave exactly what a run without the crash leaves, and
the auditor must find nothing."""

from __future__ import annotations

import random
import signal

import pytest
from ledger_scenarios import mixed_events
from ledger_workers import run_events, start_all
from sqlalchemy import func, select
from support.faults import Faults
from support.walhook import on_wal_commit
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine, MemoryStore
from punchcard.plugins.sql.models import ProcessedEventRow
from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow

EVENTS = mixed_events(seed=21, count=240, members=5)
BATCH = 40
KILLED = -signal.SIGKILL


def _cases(backend: str) -> list[tuple[str, int]]:
    """Deterministic kill points: each crash point, at a chunk chosen by a seeded RNG."""
    rng = random.Random(f"crash-{backend}")
    points = ["locked", "flushed", "committed"] + (["commit"] if backend == "postgresql" else [])
    cases = [(point, rng.randrange(1, len(EVENTS) // BATCH + 1)) for point in points]
    if backend == "sqlite":  # drawn separately, so the other cases stay as they were
        cases.append(("commit", random.Random("crash-sqlite-commit").randrange(1, len(EVENTS) // BATCH + 1)))
    return cases


def _committed(backend: str, point: str, n: int) -> set[int]:
    """How many of the first ``n`` units (the n-th killed at ``point``) may be committed."""
    if point == "commit" and backend == "postgresql":
        return {n - 1, n}  # the server's call
    return {n} if point in ("committed", "commit") else {n - 1}


@pytest.fixture(scope="module")
def reference(everything):
    engine = Engine(everything, store=MemoryStore())
    decisions = [engine.process(e) for e in EVENTS]
    return engine.store, {d.event_id: d.to_dict() for d in decisions if d.outcome != "duplicate"}


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
        doc = decision.to_dict()
        if decision.outcome == "duplicate":
            doc = {**doc, "outcome": expected[decision.event_id]["outcome"],
                   "reason": expected[decision.event_id]["reason"]}
        assert doc == expected[decision.event_id], decision.event_id
    for member in {e["member"] for e in EVENTS}:
        assert store.member(member) == memory.member(member), member
    audit = CliRunner().invoke(app, ["audit", store.url])
    assert audit.exit_code == 0 and "no differences" in audit.stdout, audit.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_killed_anywhere_replays_to_the_same_ledger(backend, store_urls, everything, fork, reference):
    for point, chunk in _cases(backend):
        url = store_urls.new(backend)
        codes = start_all(fork, run_events, [(url, everything, EVENTS, BATCH, f"{point}:{chunk}")])
        assert codes == [KILLED], (point, chunk)
        store = SqlStore(url)
        committed = _stored(store)
        allowed = {_distinct_before(done) for done in _committed(backend, point, chunk)}
        assert committed in allowed, (point, chunk, committed)
        _check_replay(store, everything, reference)
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_single_events_killed_around_the_commit_replay_to_the_same_ledger(backend, store_urls, everything, fork,
                                                                         reference):
    rng = random.Random(f"single-{backend}")
    for point in ["flushed", "commit", "committed"]:
        url = store_urls.new(backend)
        nth = rng.randrange(20, 120)
        assert start_all(fork, run_events, [(url, everything, EVENTS, 1, f"{point}:{nth}")]) == [KILLED]
        store = SqlStore(url)
        assert _stored(store) in _committed(backend, point, nth), (point, nth)
        _check_replay(store, everything, reference)
        store.close()


def test_a_batch_of_duplicates_killed_at_its_commit_changed_nothing(store_urls, everything, fork):
    """A transaction that writes nothing puts nothing in SQLite's WAL, so its COMMIT never
    calls the WAL hook: the worker dies as that COMMIT returns, with the ledger as it was."""
    url = store_urls.new("sqlite")
    first = Engine(everything, store=SqlStore(url))
    first.process_many(EVENTS[:BATCH])
    first.store.close()
    assert start_all(fork, run_events, [(url, everything, EVENTS[:BATCH], BATCH, "commit:1")]) == [KILLED]
    store = SqlStore(url)
    assert _stored(store) == _distinct_before(1)
    store.close()


def test_crash_points_are_checked():
    with pytest.raises(ValueError, match="unknown crash point 'flushd'"):
        Faults("flushd:2")
    armed = Faults("flushed:2")
    assert [armed.reached("flushed"), armed.reached("locked"), armed.reached("flushed")] == [False, False, True]


def test_sqlites_commit_crash_point_runs_inside_commit_after_the_transaction_is_in(tmp_path):
    """The hook the SQLite ``commit`` point dies in: called while COMMIT runs, when another
    connection can already read the transaction."""
    import sqlite3

    path = str(tmp_path / "hook.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError, match="not inside a transaction"):
        on_wal_commit(conn, lambda: None)
    seen, returned = [], []

    def inside_commit():
        reader = sqlite3.connect(path)
        seen.append((bool(returned), reader.execute("SELECT count(*) FROM t").fetchone()[0]))
        reader.close()

    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    on_wal_commit(conn, inside_commit)
    conn.execute("COMMIT")
    returned.append(True)
    assert seen == [(False, 1)]  # COMMIT had not returned to Python; the row was already there
    conn.close()
