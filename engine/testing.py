"""Runs the ``tests:`` a ruleset carries, through the engine and a store.

A test gives a member (id, profile fields, opening ``points``) and a sequence of
events. ``expect`` on an event checks that event's decision; ``expect`` on the test
checks the state after its last event together with the last decision. Both use
the same keys: points, balance, pending, total, tier, outcome, reason, effects,
fired (conditions that matched), not_fired, paid (rules whose points survived
stacking, caps and rounding), trace, streak (each streak's length after the event),
badges (badge names: those the event earned, or on the test those the member holds).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from punchcard.dsl.vocabulary import EXPECT_KEYS

from .engine import Engine
from .runtime.decision import Decision, to_jsonable
from .runtime.state import MemberState
from .store import MemoryStore

__all__ = ["CaseResult", "run_tests", "case_events", "check_expect", "badges_earned", "badges_held", "EXPECT_KEYS"]



@dataclass
class CaseResult:
    ruleset: str
    name: str
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None  # the decision of the first failing event
    event: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def run_tests(compiled, store_factory: Callable[[], Any] = MemoryStore) -> list[CaseResult]:
    return [_run_case(compiled, test, store_factory) for test in compiled.model.tests]


def _run_case(compiled, test, store_factory) -> CaseResult:
    result = CaseResult(compiled.label, test.name)
    engine = Engine(compiled, store_factory())
    member_id = str(test.member.get("id", "member"))
    decision = None
    setup = _setup_events(compiled, test, member_id)
    try:
        for raw in setup:
            engine.process(raw)
        for raw, event in zip(test.events, case_events(compiled, test)[len(setup):]):
            decision = engine.process(event)
            expect = raw.get("expect") or {}
            state = engine.member(member_id) if {"streak", "total"} & set(expect) else None
            _note(result, check_expect(expect, decision, state, badges_earned(decision)), decision, event,
                  f"event {event['id']}")
        state = engine.member(member_id)
        _note(result, check_expect(test.expect, decision, state, badges_held(compiled, state)), decision, None,
              "after the last event")
    finally:
        close = getattr(engine.store, "close", None)
        if close:
            close()
    return result


def case_events(compiled, test) -> list[dict]:
    """The raw events a test sends, in order: profile and opening points first, then its own."""
    member_id = str(test.member.get("id", "member"))
    own = [{"member": member_id, "id": f"e{index + 1}", **{k: v for k, v in raw.items() if k != "expect"}}
           for index, raw in enumerate(test.events)]
    return _setup_events(compiled, test, member_id) + own


def _note(result: CaseResult, failures: list[str], decision, event, where: str) -> None:
    if failures and result.decision is None:
        result.decision, result.event = decision, event
    result.failures += [f"{where}: {f}" for f in failures]


def _setup_events(compiled, test, member_id: str) -> list[dict]:
    """The member's profile and opening points arrive as events a minute before the first."""
    from .runtime.events import parse_time

    try:
        first = parse_time(test.events[0].get("time"), compiled.tz)
    except ValueError:
        first = None  # the first event itself will be rejected with a clear reason
    when = (first - dt.timedelta(minutes=1)).isoformat() if first else None
    events = []
    profile = {k: v for k, v in test.member.items() if k in compiled.model.schema_.member}
    if profile and when:
        events.append({"type": "profile", "id": f"{member_id}#profile", "member": member_id, "time": when,
                       **{k: to_jsonable(v) for k, v in profile.items()}})
    if test.member.get("points") and when:
        events.append({"type": "adjust", "id": f"{member_id}#opening", "member": member_id, "time": when,
                       "points": str(test.member["points"]), "reason": "opening balance"})
    return events


def badges_earned(decision: Decision) -> list[str]:
    """The badge names an event earned (an achievement without ``badge:`` awards none)."""
    return sorted(e.detail["badge"] for e in decision.effects if e.kind == "badge" and e.detail.get("badge"))


def badges_held(compiled, state: MemberState) -> list[str]:
    """The badge names a member holds: the ``badge:`` of each achievement unlocked."""
    names = {achievement.id: achievement.badge for achievement in compiled.model.achievements}
    return sorted(names[a] for a in state.badges if names.get(a))


def check_expect(expect: Mapping[str, Any], decision: Decision | None, state: MemberState | None,
                 badges: list[str] | None = None) -> list[str]:
    """What differs from ``expect``. ``state`` is the member after the decision (for ``streak``
    and ``total``); ``badges`` the badge names to compare (earned by an event, or held)."""
    failures = []
    for key, wanted in expect.items():
        if key not in EXPECT_KEYS:
            failures.append(f"unknown expect key {key!r} (known: {', '.join(EXPECT_KEYS)})")
            continue
        got = badges if key == "badges" else _actual(key, decision, state)
        problem = _compare(key, wanted, got)
        if problem:
            failures.append(problem)
    return failures


def _actual(key: str, decision: Decision | None, state: MemberState | None) -> Any:
    if decision is None:
        return None
    if key in ("streak", "total"):
        if state is None:
            return None
        return {k: v.length for k, v in state.streaks.items()} if key == "streak" else state.total()
    if key == "tier":
        return decision.tier.current if decision.tier else None
    if key in ("fired", "not_fired"):
        return decision.fired()
    if key == "paid":
        return decision.paid()
    if key == "effects":
        return [e.to_json() for e in decision.effects]
    if key == "trace":
        return [s.to_json() for s in decision.trace]
    return getattr(decision, key)


def _compare(key: str, wanted: Any, got: Any) -> str | None:
    if key == "badges":  # the exact set: `badges: []` says no badge
        wanted = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        return None if sorted(wanted) == (got or []) else f"badges: expected {wanted}, got {got or []}"
    if key in ("fired", "not_fired", "paid"):
        wanted = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        if key == "not_fired":
            wrong = [w for w in wanted if w in (got or [])]
            return f"not_fired: {wrong} fired (fired: {got})" if wrong else None
        missing = [w for w in wanted if w not in (got or [])]
        return f"{key}: expected {wanted} among {got}" if missing else None
    if key in ("effects", "trace"):
        missing = [w for w in wanted if not any(_subset(w, g) for g in got or [])]
        return f"{key}: expected {missing} in {to_jsonable(got)}" if missing else None
    if key == "reason":
        return None if got and str(wanted) in got else f"reason: expected it to contain {wanted!r}, got {got!r}"
    if key == "streak":
        wrong = {k: v for k, v in wanted.items() if (got or {}).get(k) != v}
        return f"streak: expected {wanted}, got {got}" if wrong else None
    return None if _same(wanted, got) else f"{key}: expected {to_jsonable(wanted)}, got {to_jsonable(got)}"


def _subset(wanted: Mapping, got: Mapping) -> bool:
    return isinstance(wanted, Mapping) and all(k in got and _same(v, got[k]) for k, v in wanted.items())


def _same(wanted: Any, got: Any) -> bool:
    try:
        return Decimal(str(wanted)) == Decimal(str(got))
    except (InvalidOperation, ValueError):
        return str(to_jsonable(wanted)) == str(to_jsonable(got))
