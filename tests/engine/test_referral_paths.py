"""Referrals (docs/referrals.md), path by path: codes, the derived event and its outbox row,
what the friend's side refuses, settling (a store failure, a second drain), and that nothing
about referrals raises out of ``Engine.process`` or leaks into rulesets without them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore, evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.messaging.referrals import settle
from punchcard.engine.messaging.send import drain
from punchcard.engine.runtime.events import MAX_ID
from punchcard.engine.runtime.referral import DERIVED, Referral, derived_id, referral_code, referrer_of
from punchcard.engine.store import StoreError, outbox_rows

ROOT = Path(__file__).resolve().parents[2]
CAPS = compile_ruleset(ROOT / "tests/engine/rulesets/referral-caps.yaml")
BUNDLED = compile_ruleset(ROOT / "rulesets/refer-a-friend.yaml")
WITHOUT = compile_ruleset(ROOT / "rulesets/coffee-club.yaml")
ANA = referral_code("ana")


def _signed_up_and_bought(engine: Engine, friend: str = "bo", amount: str = "25") -> list:
    return [engine.process({"type": "referred", "id": f"{friend}-r", "member": friend,
                            "time": "2026-03-01T09:00:00", "code": ANA}),
            engine.process({"type": "purchase", "id": f"{friend}-1", "member": friend,
                            "time": "2026-03-02T09:00:00", "amount": amount})]


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=MAX_ID).filter(lambda s: s.strip() and s.isprintable()))
def test_a_code_names_its_member_and_a_mistyped_one_names_nobody(member):
    code = referral_code(member)
    assert referrer_of(code) == member
    assert referrer_of(code[:-4] + code[-4:].lower()) == member  # the check letters in any case
    if member == member.strip():  # spaces typed around a code are dropped, unless the id has its own
        assert referrer_of(f" {code}\t") == member
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert referrer_of(wrong) is None


def test_a_derived_id_is_a_valid_event_id_however_long_the_friends_was():
    assert derived_id("o-1") == "referral:o-1"
    long = "x" * MAX_ID
    assert len(derived_id(long)) <= MAX_ID and derived_id(long) == derived_id(long) != derived_id(long[:-1] + "y")


def test_a_qualifying_decision_queues_one_derived_event_and_a_refused_one_none():
    store = MemoryStore()
    signed, bought = _signed_up_and_bought(Engine(CAPS, store))
    assert outbox_rows(signed) == []
    (row,) = outbox_rows(bought)
    assert row.channel == DERIVED and row.member_id == "bo" and row.id == "bo-1/referral_bonus"
    assert row.request["event"] == {"type": "referral_bonus", "id": "referral:bo-1", "member": "ana",
                                    "time": "2026-03-02T09:00:00+01:00", "friend": "bo", "code": ANA, "order": "bo-1"}
    again = Engine(CAPS, store).process({"type": "purchase", "id": "bo-1", "member": "bo",
                                         "time": "2026-03-02T09:00:00", "amount": "25"})
    assert again.outcome == "duplicate" and len(store.outbox_list()) == 1


def test_the_message_sender_leaves_derived_events_to_settling():
    store = MemoryStore()
    _signed_up_and_bought(Engine(CAPS, store))
    report = drain(store, {}, {}, clock=lambda: dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    assert report.pending == {} and report.undeliverable == [] and report.ok
    assert [row.status for row in store.outbox_list()] == ["pending"]


def test_a_held_or_late_event_does_not_qualify_and_says_why():
    _, state = evaluate(CAPS, None, {"type": "referred", "id": "r", "member": "bo",
                                     "time": "2026-03-01T09:00:00", "code": ANA})
    late, state = evaluate(CAPS, state, {"type": "purchase", "id": "p", "member": "bo",
                                         "time": "2026-04-01T09:00:00", "amount": "40"})
    assert late.points == 40 and not any(e.kind == "referral_reward" for e in late.effects)
    assert any(s.phase == "referrals" and "lapsed" in s.note for s in late.trace)
    assert state.referral is not None and state.referral.rewarded is None


class _FailingOnce(MemoryStore):
    """A store whose first unit of work for ``ana`` fails, as a dropped connection would."""

    failed = False

    def unit_of_work(self, member_id, **kwargs):
        if member_id == "ana" and not self.failed:
            self.failed = True
            raise StoreError("connection dropped", transient=False)
        return super().unit_of_work(member_id, **kwargs)


def test_a_store_failure_leaves_the_derived_event_pending_and_the_next_drain_settles_it():
    store = _FailingOnce()
    engine = Engine(CAPS, store)
    _signed_up_and_bought(engine)
    now = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    first = settle(store, engine, clock=lambda: now)
    assert (first.settled, first.retrying, first.ok) == (0, 1, False)
    (row,) = store.outbox_list()
    assert row.status == "pending" and row.last_error.startswith("StoreError")
    assert settle(store, engine, clock=lambda: now).settled == 0  # paused: not due yet
    later = settle(store, engine, clock=lambda: now + dt.timedelta(minutes=1))
    assert later.settled == 1 and dict(later.outcomes) == {"applied": 1}
    assert store.member("ana").total() == 25


def test_settling_twice_pays_once():
    store = MemoryStore()
    engine = Engine(CAPS, store)
    _signed_up_and_bought(engine)
    (row,) = store.outbox_list()
    assert engine.process(row.request["event"]).outcome == "applied"  # a drain that died before marking the row
    report = settle(store, engine)
    assert dict(report.outcomes) == {"duplicate": 1} and report.decisions == []
    assert settle(store, engine).settled == 0
    assert store.member("ana").total() == 25


@pytest.mark.parametrize("event", [
    {"type": "referred", "id": "x", "member": "bo", "time": "2026-03-01T09:00:00"},
    {"type": "referred", "id": "x", "member": "bo", "time": "2026-03-01T09:00:00", "code": 7},
    {"type": "referred", "id": "x", "member": "bo", "time": "2026-03-01T09:00:00", "code": "-"},
    {"type": "referral_bonus", "id": "x", "member": "ana", "time": "2026-03-01T09:00:00", "friend": "bo",
     "code": ANA, "order": "o", "marks": ",,,,,"},
    {"type": "referral_bonus", "id": "x", "member": "ana", "time": "2026-03-01T09:00:00", "friend": "bo"},
])
def test_malformed_referral_events_are_rejected_never_raised(event):
    decision = Engine(CAPS).process(event)
    assert decision.outcome in ("rejected", "applied") and (decision.outcome == "applied") == (
        event.get("marks") is not None)


def test_a_ruleset_without_referrals_knows_no_referral_events_and_queues_nothing():
    engine = Engine(WITHOUT)
    decision = engine.process({"type": "referred", "id": "x", "member": "bo", "time": "2026-03-01T09:00:00",
                               "code": ANA})
    assert decision.outcome == "rejected" and "referred" in decision.reason
    assert settle(engine.store, engine).settled == 0


def test_a_savepoint_puts_the_referral_record_back():
    state = evaluate(BUNDLED, None, {"type": "app_install", "id": "i", "member": "bo",
                                     "time": "2026-03-01T09:00:00", "platform": "mobile"})[1]
    savepoint = state.savepoint()
    state.referral = Referral(code=ANA, referrer="ana", paid=1)
    savepoint.restore()
    assert state.referral is None
