"""Referrals (docs/referrals.md): the invariants, under generated histories of several friends
and referrers run through the engine and its in-memory store, the referrers' side settled from
the outbox after each event as ``punchcard process`` settles it.

Each friend is rewarded at most once; a referrer is paid for no more friends than the cap
allows in a period and the lifetime limit in all; self-referral never pays, by member id or by
a shared device; and every referrer's referral points are exactly the friends paid times the
referrer's reward.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.messaging.referrals import settle
from punchcard.engine.runtime.referral import referral_code

ROOT = Path(__file__).resolve().parents[2]
COMPILED = compile_ruleset(ROOT / "tests/engine/rulesets/referral-caps.yaml")  # cap 2 a month, 3 in all
TERMS = COMPILED.model.referrals
TZ = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 3, 1, 9, tzinfo=TZ)
DEVICES = ["phone-1", "phone-2", None]
FRIEND_DEVICES = ["phone-1", "phone-3", "phone-4", None, None]  # now and then one of a referrer's
CODES = ["ana", "ana", "ana", "ana", "ben", "f1", "self"]  # most friends are ana's, so her caps are reached

# per friend: whose code they sign up with, when (hours after START), their purchases (hours after
# signing up, possibly before it, and amounts, some too small to qualify), and their device
friends = st.lists(st.tuples(st.sampled_from(CODES), st.integers(0, 24 * 75),
                             st.lists(st.tuples(st.integers(-24, 24 * 8), st.sampled_from([5, 19, 20, 45, 45])),
                                      min_size=1, max_size=3),
                             st.sampled_from(FRIEND_DEVICES)), min_size=3, max_size=8)
referrer_devices = st.tuples(st.sampled_from(DEVICES), st.sampled_from(DEVICES))


def _plan(people: list[tuple], devices: tuple) -> list[dict]:
    """Every member's events, in time order: every device first, then each friend's referral and purchases."""
    events = [{"type": "profile", "id": f"{who}-device", "member": who, "time": START - dt.timedelta(hours=1),
               "device": device} for who, device in zip(("ana", "ben"), devices, strict=True) if device]
    for n, (code, signed, purchases, device) in enumerate(people, start=1):
        friend, at = f"f{n}", START + dt.timedelta(hours=signed)
        if device:
            events.append({"type": "profile", "id": f"{friend}-device", "member": friend,
                           "time": START - dt.timedelta(hours=1), "device": device})  # known before any referral
        events.append({"type": "referred", "id": f"{friend}-r", "member": friend, "time": at,
                       "code": referral_code(friend if code == "self" else code)})
        events += [{"type": "purchase", "id": f"{friend}-{i}", "member": friend,
                    "time": at + dt.timedelta(hours=later), "amount": str(amount)}
                   for i, (later, amount) in enumerate(purchases)]
    events.sort(key=lambda e: (e["time"], e["id"]))
    return [{**e, "time": e["time"].isoformat()} for e in events]


def _run(events: list[dict]) -> tuple[MemoryStore, list]:
    store = MemoryStore()
    engine = Engine(COMPILED, store)
    decisions = []
    for event in events:
        decisions.append(engine.process(event))
        decisions += settle(store, engine).decisions
    return store, decisions


def _rewards(decisions: list, side: str) -> list:
    return [(d, e) for d in decisions if d.outcome == "applied" for e in d.effects
            if e.kind == "referral_reward" and e.detail["side"] == side]


@settings(max_examples=80, deadline=None)
@given(friends, referrer_devices)
def test_each_friend_is_rewarded_at_most_once_and_every_reward_is_settled(people, devices):
    store, decisions = _run(_plan(people, devices))
    friends = Counter(d.member_id for d, _ in _rewards(decisions, "friend"))
    assert all(n == 1 for n in friends.values())
    settled = Counter(d.event_id for d in decisions if d.event_type == "referral_bonus")
    assert sorted(settled) == sorted(e.detail["referrer_event"] for _, e in _rewards(decisions, "friend"))
    assert all(n == 1 for n in settled.values())  # each derived event decided once
    assert {row.status for row in store.outbox_list()} <= {"sent"}


@settings(max_examples=80, deadline=None)
@given(friends, referrer_devices)
def test_a_referrer_is_never_paid_past_the_caps(people, devices):
    store, decisions = _run(_plan(people, devices))
    paid = _rewards(decisions, "referrer")
    by_referrer = Counter(d.member_id for d, _ in paid)
    by_month = Counter((d.member_id, d.time.astimezone(TZ).strftime("%Y-%m")) for d, _ in paid)
    assert all(n <= TERMS.lifetime for n in by_referrer.values())
    assert all(n <= TERMS.cap.times for n in by_month.values())
    for referrer, n in by_referrer.items():
        state = store.member(referrer)
        lots = sum((lot.amount for lot in state.lots if lot.source == "referral:referrer"), Decimal(0))
        assert lots == n * TERMS.referrer
        assert state.referral.paid == n


@settings(max_examples=80, deadline=None)
@given(friends, referrer_devices)
def test_self_referral_never_pays(people, devices):
    events = _plan(people, devices)
    _, decisions = _run(events)
    own = {d.event_id: d for d in decisions}
    for event in events:
        if event["type"] == "referred" and event["code"] == referral_code(event["member"]):
            assert own[event["id"]].outcome == "rejected"
    device = {e["member"]: e["device"] for e in events if e["type"] == "profile"}
    for decision, effect in _rewards(decisions, "referrer"):
        assert effect.detail["friend"] != effect.detail["referrer"]
        assert device.get(effect.detail["friend"]) is None or device.get(effect.detail["friend"]) != device.get(
            decision.member_id)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DEVICES), st.sampled_from(DEVICES), st.booleans())
def test_a_friend_on_the_referrers_device_never_pays_the_referrer(friend_device, referrer_device, first):
    """Whichever of the two gave their device first, a shared one refuses the referrer's side."""
    at = [(START + dt.timedelta(hours=h)).isoformat() for h in range(4)]
    profiles = [{"type": "profile", "id": f"{who}-device", "member": who, "time": at[n if first else 1 - n],
                 **({"device": device} if device else {})}
                for n, (who, device) in enumerate((("bo", friend_device), ("ana", referrer_device)))]
    _, decisions = _run([*profiles, {"type": "referred", "id": "bo-r", "member": "bo", "time": at[2],
                                     "code": referral_code("ana")},
                         {"type": "purchase", "id": "bo-1", "member": "bo", "time": at[3], "amount": "45"}])
    (settled,) = [d for d in decisions if d.event_type == "referral_bonus"]
    shared = friend_device is not None and friend_device == referrer_device
    assert settled.outcome == ("rejected" if shared else "applied")
    assert (settled.points == 0) if shared else (settled.points == TERMS.referrer)
    assert len(_rewards(decisions, "friend")) == 1  # the friend's side stands either way
