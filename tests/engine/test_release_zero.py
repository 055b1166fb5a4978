"""A review decision on a held event that earned nothing: the release (or void) is applied,
with 0 points; an event that was never held, or is unknown, is still rejected."""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine import Engine, evaluate
from punchcard.engine.compiler.stages import compile_ruleset

RULESET = """punchcard: 1
ruleset: review-zero
version: 1.0.0
timezone: UTC
currency: USD
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, channel: string}
    checkin: {place: string}
earning:
  base: {on: purchase, points: event.amount}
fraud:
  - {id: web-review, on: [purchase, checkin], when: 'true', action: review}
"""
COMPILED = compile_ruleset(RULESET)


def _purchase(event_id: str, amount) -> dict:
    return {"type": "purchase", "id": event_id, "member": "m", "time": "2026-05-01T10:00:00",
            "amount": str(amount), "channel": "web"}


def _review(event_id: str, target: str, verdict: str = "release", time: str = "2026-05-02T10:00:00") -> dict:
    return {"type": "review_decision", "id": event_id, "member": "m", "time": time, "target": target,
            "verdict": verdict}


def _run(events, compiled=COMPILED):
    state, decisions = None, []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        decisions.append(decision)
    return decisions, state


def test_releasing_a_held_purchase_that_earned_nothing_is_applied():
    decisions, state = _run([_purchase("o-1", "0.50"), _review("v-1", "o-1")])
    held, release = decisions
    assert (held.outcome, held.points) == ("review", 0)
    assert (release.outcome, release.points, release.reason) == ("applied", 0, None)
    assert state.total() == 0 and state.pending(release.time) == 0


def test_voiding_a_held_event_that_earned_nothing_is_applied():
    checkin = {"type": "checkin", "id": "c-1", "member": "m", "time": "2026-05-01T10:00:00", "place": "x"}
    decisions, _ = _run([checkin, _review("v-1", "c-1", "void")])
    assert [(d.outcome, d.points) for d in decisions] == [("review", 0), ("applied", 0)]


def test_a_release_is_decided_once():
    decisions, _ = _run([_purchase("o-1", "0.50"), _review("v-1", "o-1"), _review("v-2", "o-1")])
    assert decisions[2].outcome == "rejected"


def test_a_release_of_an_event_never_held_or_unknown_is_rejected():
    plain = compile_ruleset(RULESET.split("fraud:", maxsplit=1)[0])
    decisions, _ = _run([_purchase("o-1", "0.50"), _review("v-1", "o-1"), _review("v-2", "o-9")], plain)
    assert [d.outcome for d in decisions] == ["applied", "rejected", "rejected"]
    assert all("held for review" in d.reason for d in decisions[1:])


def test_a_held_purchase_with_points_still_releases_them():
    decisions, _ = _run([_purchase("o-1", "12.50"), _review("v-1", "o-1")])
    assert [(d.outcome, d.points, d.pending) for d in decisions] == [("review", 12, 12), ("applied", 0, 0)]
    assert decisions[1].balance == Decimal(12)


def test_a_zero_release_on_every_store(store_factory):
    engine = Engine(COMPILED, store_factory())
    held = engine.process(_purchase("o-1", "0.50"))
    release = engine.process(_review("v-1", "o-1"))
    assert (held.outcome, release.outcome, release.points) == ("review", "applied", 0)
    assert engine.member("m").total() == 0
    audit = getattr(engine.store, "audit", None)
    if audit is not None:  # the stored ledger still adds up
        assert audit().ok
