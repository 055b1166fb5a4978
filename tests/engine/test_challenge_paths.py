"""Challenges (docs/challenges.md), path by path: what check finds, what a refused event puts
back, how the state is stored, and where a member's progress shows."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from punchcard.commands.store import member_view
from punchcard.dsl.check import check_text
from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.policies import challenges
from punchcard.engine.runtime.challenge import ChallengeRecord
from punchcard.engine.runtime.decision import Outcome
from punchcard.plugins.sql.codec import decode, encode
from punchcard.service.members_api import wallet

ROOT = Path(__file__).resolve().parents[2]
QUESTS = compile_ruleset(ROOT / "rulesets/coffee-quests.yaml")
REFUNDS = compile_ruleset(ROOT / "tests/engine/rulesets/challenge-refunds.yaml")

HEADER = """punchcard: 1
ruleset: challenge-paths
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
earning:
  base: {on: purchase, points: event.amount}
"""


def _purchase(event_id: str, time: str, amount: str, category: str | None = "coffee", member: str = "m") -> dict:
    event = {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": amount}
    return event if category is None else {**event, "category": category}


def _replay(compiled, events, state=None):
    decision = None
    for event in events:
        decision, state = evaluate(compiled, state, event)
    return decision, state


@pytest.mark.parametrize(("section", "code", "line"), [
    ("challenges:\n  - {id: c, on: purchse, target: 5, period: week, reward: {bonus: 1}}", "unknown_name", 11),
    ("challenges:\n  - {id: c, on: purchase, when: event.amount, target: 5, period: week, reward: {bonus: 1}}",
     "type_error", 11),
    ("challenges:\n  - {id: c, on: purchase, target: 5, until: 2026-03-01, from: 2026-03-31, reward: {bonus: 1}}",
     "schema_error", 11),
    ("challenges:\n  - {id: c, on: purchase, target: 5, period: year, reward: {bonus: 1}}", "schema_error", 11),
    ("challenges:\n  - {id: c, on: purchase, target: 0, period: week, reward: {bonus: 1}}", "schema_error", 11),
    ("challenges:\n  - {id: c, on: purchase, target: 5, period: week, reward: {}}", "schema_error", 11),
])
def test_check_finds_each_mistake_at_its_line(section, code, line):
    checked = check_text(HEADER + section, "ruleset.yaml")
    found = [(d.code.value, d.span.line if d.span else None) for d in checked.errors]
    assert found == [(code, line)], [d.message for d in checked.errors]


def test_a_ruleset_without_challenges_has_no_challenge_join():
    compiled = compile_ruleset(HEADER)
    assert "challenge_join" not in compiled.model.event_fields()
    decision, _ = evaluate(compiled, None, {"type": "challenge_join", "id": "j", "member": "m",
                                            "time": "2026-03-01T10:00:00", "challenge": "x"})
    assert decision.outcome == Outcome.REJECTED


def test_a_refused_refund_puts_the_challenge_back_on_an_owned_state():
    events = [_purchase(f"u-{i}", f"2026-05-0{i + 1}T10:00:00", "5.00", None, "uwe") for i in range(1, 4)]
    events.append({"type": "redeem", "id": "u-r", "member": "uwe", "time": "2026-05-05T10:00:00", "points": "110"})
    _, state = _replay(REFUNDS, events)
    before = copy.deepcopy(state.challenges)
    assert before["three-visits"].completed_at is not None
    refund = {"type": "refund", "id": "u-x", "member": "uwe", "time": "2026-05-06T10:00:00", "order": "u-2",
              "amount": "5.00"}
    decision, after = evaluate(REFUNDS, state, refund, owned=True)
    assert decision.outcome == Outcome.REJECTED and "challenge bonus" in decision.reason
    assert after.challenges == before and after.available(decision.time) == Decimal(5)


def test_progress_and_its_deadline_are_in_the_state():
    _, state = _replay(QUESTS, [_purchase("p-1", "2026-01-05T12:00:00", "20.00", "food")])
    assert state.challenges["weekly-quest"].progress == Decimal(20)
    end = challenges.period_end(QUESTS.model.challenges[2], state.challenges["weekly-quest"].period, QUESTS)
    assert end == dt.datetime(2026, 1, 12, tzinfo=QUESTS.tz) and state.due is not None and state.due <= end


def test_the_state_round_trips_through_the_stores_codec():
    record = ChallengeRecord(7, Decimal("2.5"), dt.datetime(2026, 3, 2, 10, tzinfo=QUESTS.tz), None, "p#c",
                             Decimal(50), (("p-1", Decimal(1)),), 3)
    assert decode(encode({"weekly": record})) == {"weekly": record}


def test_the_member_view_and_the_wallet_show_challenges():
    events = [_purchase(f"c-{i}", f"2026-03-0{i}T08:00:00", "4.50") for i in range(2, 7)]
    _, state = _replay(QUESTS, events)
    shown = member_view(state, [])["challenges"]["march-coffee"]
    assert Decimal(shown["progress"]) == 5 and shown["completed_at"] and shown["wins"] == 1
    held = wallet(QUESTS, state, state.clock)
    assert held["challenges"]["march-coffee"]["target"] == "5" and "march-regular" in held["badges"]


def test_joining_twice_is_refused():
    join = {"type": "challenge_join", "id": "j-1", "member": "m", "time": "2026-03-01T10:00:00",
            "challenge": "star-dash"}
    _, state = _replay(QUESTS, [join])
    decision, _ = evaluate(QUESTS, state, {**join, "id": "j-2"})
    assert decision.outcome == Outcome.REJECTED and "already joined" in decision.reason


def test_a_late_event_of_an_ended_week_leaves_this_weeks_progress_alone():
    events = [_purchase("a", "2026-01-12T12:00:00", "20.00", "food"),
              _purchase("b", "2026-01-09T12:00:00", "25.00", "food")]
    decision, state = _replay(QUESTS, events)
    assert state.challenges["weekly-quest"].progress == Decimal(20)
    assert [s.note for s in decision.trace if s.rule == "weekly-quest"] == ["a late event: its period has ended"]
