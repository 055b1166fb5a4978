"""The outbox in every store: a chosen message is written in its decision's transaction
(single events and batches), and claims, composed text and sent marks are conditional."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from outbox_support import T0, decided, message_effect, messaging_engine, purchase, request, save

from punchcard.engine.runtime.decision import Effect, Outcome
from punchcard.engine.runtime.message import MessageRequest
from punchcard.engine.store import outbox_rows

LATER = T0 + dt.timedelta(days=1)
LEASE = LATER + dt.timedelta(minutes=5)
CHANNELS = ("sms", "push", "email")


def test_a_message_is_stored_with_its_decision_exactly(store_factory):
    store = store_factory()
    event, decision = decided("e1", "masha")
    save(store, event, decision)
    [row] = store.outbox_list()
    assert (row.id, row.member_id, row.event_id, row.ruleset, row.channel, row.send_at) == \
        ("e1:points", "masha", "e1", "plain@1.0.0", "push", T0)
    assert (row.status, row.attempts, row.lease_until, row.composed, row.sent_at, row.receipt, row.last_error) == \
        ("pending", 0, None, None, None, None, None)
    # exact decimal text and ISO dates, as the decision's own JSON shows them
    assert row.request["facts"] == {"first_name": "Masha", "points": "300.5", "until": "2026-03-31"}
    back = MessageRequest.from_detail(row.member_id, row.event_id, row.ruleset, row.request)
    assert (back.id, back.send_at, back.template, Decimal(back.facts["points"])) == \
        ("e1:points", T0, request("e1", "masha").template, Decimal("300.50"))


def test_no_commit_no_message(store_factory):
    store = store_factory()
    event, decision = decided("e1", "masha")
    save(store, event, decision, commit=False)
    assert store.outbox_list() == [] and store.decisions("masha") == []


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.BLOCKED])
def test_a_refused_event_queues_nothing(store_factory, outcome):
    store = store_factory()
    save(store, *decided("e1", "masha", outcome))
    assert store.outbox_list() == []


def test_a_suppressed_message_is_not_queued_and_review_is(store_factory):
    store = store_factory()
    suppressed = Effect("message_suppressed", None, None, {"message": "points", "trigger": "offer_selected",
                                                            "channel": "sms", "reason": "cap", "rule": None})
    save(store, *decided("e1", "masha", Outcome.APPLIED, suppressed))
    save(store, *decided("e2", "masha", Outcome.REVIEW))
    assert [row.id for row in store.outbox_list()] == ["e2:points"]


def test_outbox_rows_reads_every_message_effect():
    _, decision = decided("e1", "m", Outcome.APPLIED, message_effect(request("e1", "m", channel="sms")),
                          Effect("earn", Decimal(5)), message_effect(request("e1b", "m", channel="email")))
    assert [(row.id, row.channel) for row in outbox_rows(decision)] == [("e1:points", "sms"), ("e1b:points", "email")]


def test_engine_single_events_and_batches_queue_once_and_replays_add_nothing(store_factory):
    store = store_factory()
    engine = messaging_engine(store)
    events = [purchase(i, f"m{i % 3}") for i in range(12)]
    for event in events[:4]:
        assert engine.process(event).outcome == "applied"
    engine.process_many(events[4:])
    assert {d.outcome for d in engine.process_many(events)} == {"duplicate"}  # the whole file again
    assert engine.process(events[0]).outcome == "duplicate"
    rows = store.outbox_list()
    assert sorted(row.id for row in rows) == sorted(f"p{i}:points" for i in range(12))
    # the message carries the decision's own figure: stored together
    for row in rows:
        points = store.decisions(row.member_id, 50)
        assert any(d.event_id == row.event_id and str(d.points) == row.request["facts"]["points"] for d in points)


def test_claims_are_exclusive_and_conditional(store_factory):
    store = store_factory()
    for i in range(3):
        save(store, *decided(f"e{i}", "masha"))
    assert store.outbox_claim(T0 - dt.timedelta(seconds=1), 10, LEASE, "a", CHANNELS) == []  # not due yet
    assert store.outbox_claim(LATER, 10, LEASE, "a", ["sms"]) == []  # nobody delivers push
    first = store.outbox_claim(LATER, 2, LEASE, "a", CHANNELS)
    assert [r.id for r in first] == ["e0:points", "e1:points"] and {r.lease_owner for r in first} == {"a"}
    assert [r.id for r in store.outbox_claim(LATER, 10, LEASE, "b", CHANNELS)] == ["e2:points"]
    assert store.outbox_claim(LATER, 10, LEASE, "c", CHANNELS) == []  # all leased
    assert store.outbox_compose("e0:points", "b", {"text": "x"}) is False  # not b's lease
    assert store.outbox_compose("e0:points", "a", {"text": "hi", "cost": Decimal("0.001")}) is True
    assert store.outbox_retry("e0:points", "b", "Boom", None) is False
    assert store.outbox_sent("e0:points", LATER, "r-1") is True
    assert store.outbox_sent("e0:points", LATER + dt.timedelta(hours=1), "r-2") is False  # once
    row = store.outbox_list("sent")[0]
    assert (row.status, row.sent_at, row.receipt, row.attempts, row.composed, row.lease_owner) == \
        ("sent", LATER, "r-1", 1, {"text": "hi", "cost": "0.001"}, None)
    assert store.outbox_due(LATER) == {"push": 2}
    # a lease that ran out is claimed again by another sender
    again = store.outbox_claim(LEASE, 10, LEASE + dt.timedelta(minutes=5), "d", CHANNELS)
    assert [r.id for r in again] == ["e1:points", "e2:points"]


def test_retry_and_failure(store_factory):
    store = store_factory()
    save(store, *decided("e0", "masha"))
    store.outbox_claim(LATER, 1, LEASE, "a", CHANNELS)
    pause = LATER + dt.timedelta(seconds=30)
    assert store.outbox_retry("e0:points", "a", "ConnectionError: refused", pause, LATER) is True
    row = store.outbox_list()[0]
    assert (row.status, row.attempts, row.lease_until, row.lease_owner, row.last_error, row.failed_at) == \
        ("pending", 1, pause, None, "ConnectionError: refused", LATER)
    assert store.outbox_claim(LATER, 1, LEASE, "b", CHANNELS) == []  # backing off
    assert len(store.outbox_claim(pause, 1, LEASE, "b", CHANNELS)) == 1
    assert store.outbox_retry("e0:points", "b", "ConnectionError: again", None, pause) is True
    assert [(r.status, r.attempts, r.failed_at) for r in store.outbox_list("failed")] == [("failed", 2, pause)]
    assert store.outbox_claim(LEASE + dt.timedelta(days=1), 1, LEASE, "c", CHANNELS) == []
    assert store.outbox_sent("e0:points", LATER, None) is False  # failed stays failed


def test_concurrent_claimers_never_share_a_row(store_factory):
    """Threads claiming at once, one at a time each: every row is claimed exactly once
    (PostgreSQL skips locked rows, SQLite serialises, memory locks)."""
    store = store_factory()
    for i in range(40):
        save(store, *decided(f"e{i:02}", f"m{i % 4}"))
    claimed: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        barrier.wait()
        mine = claimed.setdefault(name, [])
        while batch := store.outbox_claim(LATER, 3, LEASE, name, CHANNELS):
            mine.extend(row.id for row in batch)

    threads = [threading.Thread(target=claimer, args=(f"s{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [row_id for ids in claimed.values() for row_id in ids]
    assert sorted(every) == sorted(f"e{i:02}:points" for i in range(40))  # each once, none twice
