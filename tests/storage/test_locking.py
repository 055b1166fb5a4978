"""Locking per backend. PostgreSQL: a member's row lock serialises its events and
nothing else; a reused event id waits for the first unit and is then refused.
SQLite: one writer at a time (BEGIN IMMEDIATE), readers never wait (WAL)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from punchcard.engine import Engine
from punchcard.engine.store import StoreError
from punchcard.plugins.sql.store import SqlStore


def purchase(member: str, event_id: str, amount: str = "10") -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": "2026-03-02T08:00:00", "amount": amount}


def _lock_timeout(store: SqlStore, setting: str) -> SqlStore:
    """Waiting longer than ``setting`` for a lock becomes an error: a block is seen, not hung on."""
    def connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{setting}'")
        dbapi_connection.commit()

    sa_event.listen(store.engine, "connect", connect)
    store.engine.dispose()  # connections opened before the listener go; new ones get the setting
    return store


@pytest.fixture
def pg(store_urls, plain):
    url = store_urls.new("postgresql")
    holder, other = SqlStore(url), _lock_timeout(SqlStore(url), "2s")
    yield holder, Engine(plain, store=other)
    holder.close()
    other.close()


def test_postgresql_members_never_wait_for_each_other(pg):
    holder, engine = pg
    with holder.unit_of_work("ann") as unit:  # holds ann's row lock until the block ends
        unit.processed("held-1")
        decision = engine.process(purchase("bob", "b-1"))
        assert decision.outcome == "applied" and decision.balance == Decimal(10)


def test_postgresql_serialises_one_members_events(pg):
    holder, engine = pg
    with holder.unit_of_work("ann") as unit:
        unit.processed("held-1")
        with pytest.raises(StoreError, match="lock timeout"):
            engine.process(purchase("ann", "a-1"))
    assert engine.process(purchase("ann", "a-1")).outcome == "applied"  # once the lock is gone


def _wait_until_blocked(store: SqlStore) -> None:
    """Until another backend is waiting on a lock (a condition, not a sleep)."""
    query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    for _ in range(2000):
        with store.engine.connect() as conn:
            if conn.execute(query).scalar():
                return
    raise AssertionError("the second unit never waited")


def test_postgresql_a_reused_id_waits_for_the_first_unit_then_is_refused(store_urls, plain):
    url = store_urls.new("postgresql")
    first, second = SqlStore(url), SqlStore(url)
    result = {}
    unit = first.unit_of_work("ann").__enter__()
    assert unit.processed("shared-id") is None  # claimed, not committed
    waiter = threading.Thread(target=lambda: result.update(d=Engine(plain, store=second).process(
        purchase("bob", "shared-id"))))
    waiter.start()
    _wait_until_blocked(first)
    ev = plain.schema.parse(purchase("ann", "shared-id"))
    from punchcard.engine.evaluate import evaluate
    decision, state = evaluate(plain, None, ev)
    unit.load_member("ann")
    unit.budgets_used([])
    unit.save(ev, decision, state, {})
    unit.commit()
    unit.__exit__(None, None, None)
    waiter.join(60)
    assert result["d"].outcome == "rejected" and result["d"].reason.endswith("different fields: member")
    assert second.member("bob") is None and first.member("ann").total() == Decimal(10)
    first.close()
    second.close()


def test_sqlite_has_one_writer_and_readers_never_wait(store_urls, plain):
    url = store_urls.new("sqlite")
    holder = SqlStore(url)
    Engine(plain, store=holder).process(purchase("ann", "a-0"))
    impatient = SqlStore(url, busy_timeout=0.05)
    with holder.unit_of_work("ann") as unit:
        unit.processed("held-1")
        assert impatient.member("ann").total() == Decimal(10)  # a reader, during the write
        with pytest.raises(StoreError, match="database is locked"):
            Engine(plain, store=impatient).process(purchase("bob", "b-1"))
    assert Engine(plain, store=impatient).process(purchase("bob", "b-1")).outcome == "applied"
    holder.close()
    impatient.close()


def test_postgresql_a_batch_locks_its_members_in_code_point_order(store_urls, plain):
    """A batch waiting for one member's lock holds every member before it in code-point
    order and none after it, whatever order its events came in: two batches then always
    lock in the same order and never deadlock."""
    import time

    url = store_urls.new("postgresql")
    members = ["e", "B", "c", "a", "d"]  # code points: B < a < c < d < e
    Engine(plain, store=SqlStore(url)).process_many([purchase(m, f"first-{m}") for m in members])
    holder, batch_store, probe = SqlStore(url), SqlStore(url), SqlStore(url).engine
    done: list = []
    with holder.unit_of_work("c") as unit:  # holds c's row lock until the block ends
        unit.processed("held-1")
        batch = threading.Thread(target=lambda: done.extend(Engine(plain, store=batch_store).process_many(
            [purchase(m, f"second-{m}") for m in members])))
        batch.start()
        free = set(members)
        deadline = time.monotonic() + 10
        while free != {"d", "e"} and time.monotonic() < deadline:  # until the batch waits for c
            time.sleep(0.05)
            with probe.begin() as conn:
                free = {row[0] for row in conn.execute(text(
                    "SELECT member_id FROM members WHERE member_id = ANY(:ids) FOR UPDATE SKIP LOCKED"),
                    {"ids": members})}
        assert free == {"d", "e"}, free  # B and a locked by the batch, c by the holder
    batch.join(timeout=30)
    assert [d.outcome for d in done] == ["applied"] * len(members)
    for store in (holder, batch_store):
        store.close()
    probe.dispose()
