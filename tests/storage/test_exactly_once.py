"""Exactly-once: retries return the original decision, reused ids are refused, and a
failure part-way through leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from punchcard.engine import Engine
from punchcard.engine.store import StoreError

PURCHASE = {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00", "amount": "150",
            "category": "coffee"}


def test_a_retry_returns_the_original_decision_as_duplicate(store_factory, coffee):
    store = store_factory()
    engine = Engine(coffee, store=store)
    first = engine.process(PURCHASE)
    again = engine.process(dict(PURCHASE))
    assert again.outcome == "duplicate" and "already processed" in again.reason
    assert {**again.to_dict(), "outcome": "applied", "reason": None} == first.to_dict()
    assert store.member("masha").total() == Decimal(300)  # not 600
    assert len(store.decisions("masha")) == 1


def test_a_retry_through_a_new_store_object_is_still_a_duplicate(sql_url, coffee):
    from punchcard.plugins.sql.store import SqlStore

    url = sql_url()
    Engine(coffee, store=SqlStore(url)).process(PURCHASE)
    again = Engine(coffee, store=SqlStore(url)).process(PURCHASE)
    assert again.outcome == "duplicate" and again.points == Decimal(300)


def test_the_same_id_with_another_body_is_rejected_naming_the_fields(store_factory, coffee):
    store = store_factory()
    engine = Engine(coffee, store=store)
    engine.process(PURCHASE)
    changed = engine.process({**PURCHASE, "amount": "151", "category": "food"})
    assert changed.outcome == "rejected"
    assert changed.reason.endswith("different fields: amount, category")
    assert "151" not in changed.reason and "food" not in changed.reason  # named, never quoted
    assert store.member("masha").total() == Decimal(300)


def test_the_same_id_for_another_member_is_caught(store_factory, coffee):
    store = store_factory()
    engine = Engine(coffee, store=store)
    engine.process(PURCHASE)
    other = engine.process({**PURCHASE, "member": "petya"})
    assert other.outcome == "rejected" and other.reason.endswith("different fields: member")
    assert "petya" not in other.reason and "masha" not in other.reason
    assert store.member("petya") is None


def test_the_same_id_for_another_member_in_one_batch_is_caught(store_factory, coffee):
    store = store_factory()
    decisions = Engine(coffee, store=store).process_many([PURCHASE, {**PURCHASE, "member": "petya"}])
    assert [d.outcome for d in decisions] == ["applied", "rejected"]
    assert store.member("petya") is None


def test_an_invalid_event_is_rejected_and_not_stored(store_factory, coffee):
    store = store_factory()
    engine = Engine(coffee, store=store)
    bad = {**PURCHASE, "amount": "lots"}
    assert engine.process(bad).outcome == "rejected"
    assert engine.process_many([bad, PURCHASE])[0].outcome == "rejected"
    assert [d.event_id for d in store.decisions("masha")] == ["o-1"]


def _fail_after_writes(monkeypatch):
    """Make the first write fail after its lots, entries and decision rows went in."""
    from punchcard.plugins.sql import writes

    real = writes._write
    calls = []

    def failing(conn, changes, **options):
        real(conn, changes, **options)
        if not calls:
            calls.append(changes)
            raise RuntimeError("the process died here")

    monkeypatch.setattr(writes, "_write", failing)
    return calls


def test_a_failure_mid_write_leaves_nothing_and_the_retry_applies(sql_url, coffee, monkeypatch):
    from punchcard.plugins.sql.store import SqlStore

    store = SqlStore(sql_url())
    engine = Engine(coffee, store=store)
    calls = _fail_after_writes(monkeypatch)
    with pytest.raises(StoreError, match="event o-1 was not stored: the store failed with RuntimeError"):
        engine.process(PURCHASE)
    assert calls and store.member("masha") is None and store.decisions("masha") == []
    assert store.audit().ok
    assert engine.process(PURCHASE).outcome == "applied"
    assert store.member("masha").total() == Decimal(300) and store.audit().ok


def test_an_event_the_ledger_cannot_explain_is_stored_as_rejected_in_order(sql_url, coffee, monkeypatch):
    from punchcard.plugins.sql import record
    from punchcard.plugins.sql.postings import LedgerMismatch
    from punchcard.plugins.sql.store import SqlStore

    real = record.post

    def refuse_one(event, decision, before, after):
        if event.id == "o-2" and after is not None:  # a rejection changes nothing: always explained
            raise LedgerMismatch("event o-2: the ledger cannot explain it")
        return real(event, decision, before, after)

    monkeypatch.setattr(record, "post", refuse_one)
    store = SqlStore(sql_url())
    events = [{**PURCHASE, "id": f"o-{i}", "time": f"2026-03-0{i}T08:15:00"} for i in range(1, 5)]
    decisions = Engine(coffee, store=store).process_many(events)
    assert [d.outcome for d in decisions] == ["applied", "rejected", "applied", "applied"]
    assert "not processed" in decisions[1].reason and "ledger cannot explain" in decisions[1].reason
    # Stored as rejected, so a replay meets the same answer and never applies it after o-3.
    assert sorted(d.event_id for d in store.decisions("masha")) == ["o-1", "o-2", "o-3", "o-4"]
    monkeypatch.setattr(record, "post", real)
    again = Engine(coffee, store=store).process(events[1])
    assert again.outcome == "duplicate" and again.points == 0
    assert store.member("masha").total() == sum(d.points for d in decisions) and store.audit().ok


def test_a_member_row_changed_under_the_lock_is_refused(sql_url, coffee):
    from sqlalchemy import text

    from punchcard.plugins.sql.store import SqlStore
    from punchcard.plugins.sql.writes import StaleMember

    store = SqlStore(sql_url())
    engine = Engine(coffee, store=store)
    engine.process(PURCHASE)
    event = coffee.schema.parse({**PURCHASE, "id": "o-2", "time": "2026-03-03T08:15:00"})
    from punchcard.engine.evaluate import evaluate

    with store.unit_of_work("masha") as unit:
        assert unit.processed("o-2") is None
        state = unit.load_member("masha")
        decision, after = evaluate(coffee, state, event, None, unit.budgets_used(["big-basket"]))
        unit.save(event, decision, after, {})
        unit._conn.execute(text("UPDATE members SET version = version + 100 WHERE member_id = 'masha'"))
        with pytest.raises(StaleMember, match=r"masha changed since (it was|they were) locked"):
            unit.commit()
    assert store.member("masha").total() == Decimal(300) and store.audit().ok


@pytest.mark.parametrize("members", [3, 40])  # few: one UPDATE a row; many: one UPDATE joining a COPY
def test_a_member_row_changed_under_a_batch_lock_is_refused(sql_url, coffee, monkeypatch, members):
    from sqlalchemy import text

    from punchcard.plugins.sql import batch
    from punchcard.plugins.sql.store import SqlStore
    from punchcard.plugins.sql.writes import StaleMember

    store = SqlStore(sql_url())
    engine = Engine(coffee, store=store)
    first = [{**PURCHASE, "id": f"a-{n}", "member": f"m{n:02}"} for n in range(members)]
    engine.process_many(first)
    real = batch.apply

    def behind_the_lock(conn, changes):
        conn.execute(text("UPDATE members SET version = version + 100 WHERE member_id = 'm01'"))
        real(conn, changes)

    monkeypatch.setattr(batch, "apply", behind_the_lock)
    second = [{**event, "id": f"b-{n}", "time": "2026-03-03T08:15:00"} for n, event in enumerate(first)]
    with pytest.raises(StaleMember, match=rf"^m01 changed since it was locked \(1 of {members} member rows\)$"):
        engine.process_many(second)
    monkeypatch.setattr(batch, "apply", real)
    assert [store.member(event["member"]).total() for event in first] == [Decimal(300)] * members
    assert len(store.decisions("m00")) == 1 and store.audit().ok  # nothing of the refused batch
    assert {d.outcome for d in engine.process_many(second)} == {"applied"}
    assert [store.member(event["member"]).total() for event in first] == [Decimal(600)] * members


def test_a_unit_committed_without_saving_leaves_no_record(sql_url, coffee):
    from punchcard.plugins.sql.store import SqlStore

    store = SqlStore(sql_url())
    with store.unit_of_work("masha") as unit:
        assert unit.processed("o-1") is None
        unit.commit()
    assert store.audit().ok
    assert Engine(coffee, store=store).process(PURCHASE).outcome == "applied"
