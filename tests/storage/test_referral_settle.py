"""Referrals on PostgreSQL and SQLite, with real processes: friends of one referrer qualify at
once and each settles the referrer's side as it goes, yet the referrer is paid for no more
friends than the cap allows; a derived event is applied once however often, and however many
drains at once, it is settled."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from ledger_workers import BARRIER_SECONDS, start_all

import punchcard
from punchcard.engine import Engine
from punchcard.engine.messaging.referrals import settle
from punchcard.engine.runtime.referral import referral_code
from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow

CAP = 3
FRIENDS = 8
RULESET = f"""
punchcard: 1
ruleset: referral-race
version: 1.0.0
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
referrals:
  on: purchase
  when: event.amount >= 20
  friend: 10
  referrer: 25
  cap: {{period: year, times: {CAP}}}
  lifetime: 5
"""


@pytest.fixture(scope="module")
def referral_race(tmp_path_factory):
    path = tmp_path_factory.mktemp("referrals") / "referral-race.yaml"
    path.write_text(RULESET, encoding="utf-8")
    return punchcard.compile(str(path))


def _friend_events(friend: str, minute: int) -> list[dict]:
    return [{"type": "referred", "id": f"{friend}-r", "member": friend, "time": "2026-03-02T09:00:00",
             "code": referral_code("ana")},
            {"type": "purchase", "id": f"{friend}-1", "member": friend, "time": f"2026-03-03T12:{minute:02d}:00",
             "amount": "30"}]


def qualify_and_settle(url, compiled, events, barrier, out) -> None:
    """A friend signs up and qualifies, then settles what is due, as ``punchcard process`` does."""
    engine = Engine(compiled, store=SqlStore(url))
    engine.store.member(events[0]["member"])  # connected and warm before the race starts
    barrier.wait(BARRIER_SECONDS)
    for event in events:
        decision = engine.process(event)
        out.put(("friend", decision.member_id, str(decision.outcome), decision.points))
    for decision in settle(engine.store, engine).decisions:
        out.put(("referrer", decision.event_id, str(decision.outcome), decision.reason))
    engine.store.close()


def settle_at_barrier(url, compiled, barrier, out) -> None:
    engine = Engine(compiled, store=SqlStore(url))
    engine.store.member("ana")
    barrier.wait(BARRIER_SECONDS)
    report = settle(engine.store, engine)
    out.put(dict(report.outcomes))
    engine.store.close()


def _referrer_decisions(store: SqlStore) -> Counter:
    return Counter(str(d.outcome) for d in store.decisions("ana", limit=100))


def test_concurrent_friends_of_one_referrer_never_exceed_the_cap(sql_url, referral_race, fork):
    url = sql_url()
    barrier, out = fork.Barrier(FRIENDS), fork.Queue()
    work = [(url, referral_race, _friend_events(f"f-{i}", i), barrier, out) for i in range(FRIENDS)]
    assert start_all(fork, qualify_and_settle, work) == [0] * FRIENDS
    results = [out.get(timeout=120) for _ in range(FRIENDS * 2)]  # the friends' own two events each
    while not out.empty():
        results.append(out.get(timeout=5))
    store = SqlStore(url)
    try:
        settle(store, Engine(referral_race, store=store))  # anything a drain left to the next run
        friends = [r for r in results if r[0] == "friend" and r[3] > 0]
        assert len(friends) == FRIENDS and all(r[3] == Decimal(40) for r in friends)  # 30 + 10: every friend paid
        assert _referrer_decisions(store) == Counter({"applied": CAP, "rejected": FRIENDS - CAP})
        ana = store.member("ana")
        assert ana is not None and ana.total() == 25 * CAP
        assert ana.referral is not None and ana.referral.paid == CAP
        refused = [d.reason for d in store.decisions("ana", limit=100) if d.outcome == "rejected"]
        assert all(r is not None and "the friend keeps their reward" in r for r in refused)
        assert {row.status for row in store.outbox_list()} == {"sent"}
        assert len(store.outbox_list()) == FRIENDS
    finally:
        store.close()


def test_a_derived_event_applies_once_drained_twice_or_at_once(sql_url, referral_race, fork):
    url = sql_url()
    store = SqlStore(url)
    engine = Engine(referral_race, store=store)
    for event in _friend_events("bo", 0):
        engine.process(event)
    (row,) = store.outbox_list()
    first = engine.process(row.request["event"])  # a drain killed after processing, before marking the row
    assert first.outcome == "applied" and first.points == 25
    store.close()
    drains = 4
    barrier, out = fork.Barrier(drains), fork.Queue()
    assert start_all(fork, settle_at_barrier, [(url, referral_race, barrier, out)] * drains) == [0] * drains
    outcomes = sum((Counter(out.get(timeout=60)) for _ in range(drains)), Counter())
    assert outcomes == Counter({"duplicate": 1})  # one drain took the row; it found the event decided
    store = SqlStore(url)
    try:
        assert settle(store, Engine(referral_race, store=store)).settled == 0  # drained again: nothing is due
        assert store.member("ana").total() == 25
        assert _referrer_decisions(store) == Counter({"applied": 1})
        assert [row.status for row in store.outbox_list()] == ["sent"]
    finally:
        store.close()
