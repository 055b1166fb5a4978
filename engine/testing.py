"""Runs the ``tests:`` a ruleset carries, through the engine and a store.

A test gives a member (id, profile fields, opening ``points``) and a sequence of
events. ``expect`` on an event checks that event's decision; ``expect`` on the test
checks the state after its last event together with the last decision. Both use
the same keys: points, balance, pending, total, tier, outcome, reason, effects,
fired (conditions that matched), not_fired, paid (rules whose points survived
stacking, caps and rounding), trace, streak (each streak's length after the event),
badges (badge names: those the event earned, or on the test those the member holds).

Each :class:`CaseResult` also records what the case did: every decision as JSON
(``Decision.to_dict``, the profile and opening-points events first) and the member
afterwards (:func:`state_json`). Two runs of one case, through other evaluators, stores
or the dry-run, agree when :func:`first_difference` finds nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from punchcard.dsl.model import RulesetTest
from punchcard.dsl.vocabulary import EXPECT_KEYS
from punchcard.engine.program import Compiled

from .engine import Engine
from .runtime.decision import Decision, to_jsonable
from .runtime.state import MemberState
from .store import MemoryStore, Store

__all__ = ["CaseResult", "run_tests", "run_case", "judge_case", "case_events", "case_member", "case_program",
           "check_expect", "badges_earned", "badges_held", "state_json", "first_difference", "STATE_KEYS",
           "EXPECT_KEYS"]

STATE_KEYS = frozenset({"streak", "total"})  # expect keys read from the member, not the decision


@dataclass
class CaseResult:
    ruleset: str
    name: str
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None  # the decision of the first failing event
    event: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)  # every decision of the case, as Decision.to_dict()
    state: dict[str, Any] | None = None  # the member after the last event, as state_json()
    states: list[dict[str, Any] | None] | None = None  # the member after each event, when recorded

    @property
    def passed(self) -> bool:
        return not self.failures


def run_tests(compiled: Compiled, store_factory: Callable[[], Store] = MemoryStore) -> list[CaseResult]:
    """Every test of ``compiled``, each on a new store from ``store_factory`` (closed afterwards):
    a store shares event ids and budgets among its members, so cases never share one."""
    results = []
    for test in compiled.model.tests:
        store = store_factory()
        try:
            results.append(run_case(compiled, test, store))
        finally:
            store.close()
    return results


def run_case(compiled: Compiled, test: RulesetTest, store: Store, *, every_state: bool = False) -> CaseResult:
    """One test through ``Engine`` on ``store`` (left open), judged and recorded; with
    ``every_state``, the member after each event too (one more read of the store per event)."""
    compiled = case_program(compiled, test)
    engine = Engine(compiled, store, trace=True)
    member_id = case_member(test)
    events = case_events(compiled, test)
    setup = len(events) - len(test.events)
    decisions: list[Decision] = []
    states: dict[int, MemberState | None] = {}
    after: list[dict[str, Any] | None] = []
    for index, event in enumerate(events):
        decisions.append(engine.process(event))
        own = index - setup
        wanted = own >= 0 and bool(STATE_KEYS & set(test.events[own].get("expect") or {}))
        state = engine.member(member_id) if every_state or wanted else None
        if wanted:
            states[own] = state
        if every_state:
            after.append(state_json(state))  # now: the next event may change the state read
    result = judge_case(compiled, test, decisions, engine.member(member_id), states)
    result.states = after if every_state else None
    return result


def judge_case(compiled: Compiled, test: RulesetTest, decisions: Sequence[Decision], final: MemberState | None,
               states: Mapping[int, MemberState | None] | None = None) -> CaseResult:
    """A case's result from its decisions (one per :func:`case_events` event, in order) and the
    member after the last. ``states[n]`` is the member right after the test's own event ``n``,
    for the ``streak`` and ``total`` an event's ``expect`` may hold; ``states`` None: the
    decisions came from somewhere that shows no member between events, and those two keys of
    an event's ``expect`` are left to the test's own (checked against ``final``)."""
    result = CaseResult(compiled.label, test.name, decisions=[d.to_dict() for d in decisions],
                        state=state_json(final))
    own = decisions[len(decisions) - len(test.events):]
    events = case_events(compiled, test)[len(decisions) - len(test.events):]
    for index, (raw, decision, event) in enumerate(zip(test.events, own, events, strict=True)):
        expect = dict(raw.get("expect") or {})
        if states is None:
            expect = {k: v for k, v in expect.items() if k not in STATE_KEYS}
        state = (states or {}).get(index)
        _note(result, check_expect(expect, decision, state, badges_earned(decision)), decision, event,
              f"event {event['id']}")
    last = own[-1] if own else None
    _note(result, check_expect(test.expect, last, final, badges_held(compiled, final) if final else []), last,
          None, "after the last event")
    return result


def case_program(compiled: Compiled, test: RulesetTest) -> Compiled:
    """The program a case runs: the variant it names (``variant:``), else the ruleset, where
    the member's own variant decides as it would live."""
    if test.variant is None or compiled.split is None:
        return compiled
    return compiled.split.programs[test.variant]


def case_member(test: RulesetTest) -> str:
    return str(test.member.get("id", "member"))


def case_events(compiled: Compiled, test: RulesetTest) -> list[dict[str, Any]]:
    """The raw events a test sends, in order: profile and opening points first, then its own."""
    member_id = case_member(test)
    own = [{"member": member_id, "id": f"e{index + 1}", **{k: v for k, v in raw.items() if k != "expect"}}
           for index, raw in enumerate(test.events)]
    return _setup_events(compiled, test, member_id) + own


def _note(result: CaseResult, failures: list[str], decision: Decision | None, event: dict[str, Any] | None,
          where: str) -> None:
    if failures and result.decision is None:
        result.decision, result.event = decision, event
    result.failures += [f"{where}: {f}" for f in failures]


def _setup_events(compiled: Compiled, test: RulesetTest, member_id: str) -> list[dict[str, Any]]:
    """The member's profile and opening points arrive as events a minute before the first."""
    from .runtime.events import parse_time

    try:
        first = parse_time(test.events[0].get("time"), compiled.tz)
    except ValueError:
        first = None  # the first event itself will be rejected with a clear reason
    when = (first - dt.timedelta(minutes=1)).isoformat() if first else None
    events: list[dict[str, Any]] = []
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


def badges_held(compiled: Compiled, state: MemberState) -> list[str]:
    """The badge names a member holds: the ``badge:`` of each achievement unlocked."""
    names = {achievement.id: achievement.badge for achievement in compiled.model.achievements if achievement.badge}
    names |= {c.reward.badge: c.reward.badge for c in compiled.model.challenges if c.reward.badge}  # by name
    return sorted(names[a] for a in state.badges if a in names)


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


# How an expect key other than a decision's own attribute is read from the decision.
_FROM_DECISION: dict[str, Callable[[Decision], Any]] = {
    "tier": lambda decision: decision.tier.current if decision.tier else None,
    "fired": Decision.fired,
    "not_fired": Decision.fired,
    "paid": Decision.paid,
    "effects": lambda decision: [e.to_json() for e in decision.effects],
    "trace": lambda decision: [s.to_json() for s in decision.trace],
    "messages": lambda decision: sorted(str(e.detail.get("message")) for e in decision.effects if e.kind == "message"),
    "suppressed": lambda decision: sorted(str(e.detail.get("message")) for e in decision.effects
                                          if e.kind == "message_suppressed"),
}


def _actual(key: str, decision: Decision | None, state: MemberState | None) -> Any:
    if decision is None:
        return None
    if key in STATE_KEYS:
        return _from_state(key, state)
    read = _FROM_DECISION.get(key)
    return read(decision) if read is not None else getattr(decision, key)


def _from_state(key: str, state: MemberState | None) -> Any:
    if state is None:
        return None
    return {k: v.length for k, v in state.streaks.items()} if key == "streak" else state.total()


def _compare(key: str, wanted: Any, got: Any) -> str | None:
    if key in ("badges", "messages", "suppressed"):  # the exact set: `badges: []` says no badge
        wanted = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        return None if sorted(wanted) == (got or []) else f"{key}: expected {sorted(wanted)}, got {got or []}"
    if key in ("fired", "not_fired", "paid"):
        return _compare_names(key, wanted, got)
    if key in ("effects", "trace"):
        missing = [w for w in wanted if not any(_subset(w, g) for g in got or [])]
        return f"{key}: expected {missing} in {to_jsonable(got)}" if missing else None
    if key == "reason":
        return None if got and str(wanted) in got else f"reason: expected it to contain {wanted!r}, got {got!r}"
    if key == "streak":
        wrong = {k: v for k, v in wanted.items() if (got or {}).get(k) != v}
        return f"streak: expected {wanted}, got {got}" if wrong else None
    return None if _same(wanted, got) else f"{key}: expected {to_jsonable(wanted)}, got {to_jsonable(got)}"


def _compare_names(key: str, wanted: Any, got: list[str] | None) -> str | None:
    """``fired``, ``not_fired`` and ``paid``: names among (or, for not_fired, not among) those of the decision."""
    names = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
    if key == "not_fired":
        wrong = [w for w in names if w in (got or [])]
        return f"not_fired: {wrong} fired (fired: {got})" if wrong else None
    missing = [w for w in names if w not in (got or [])]
    return f"{key}: expected {names} among {got}" if missing else None


def _subset(wanted: object, got: Mapping[str, Any]) -> bool:
    return isinstance(wanted, Mapping) and all(k in got and _same(v, got[k]) for k, v in wanted.items())


def _same(wanted: Any, got: Any) -> bool:
    try:
        return Decimal(str(wanted)) == Decimal(str(got))
    except (InvalidOperation, ValueError):
        return str(to_jsonable(wanted)) == str(to_jsonable(got))


def state_json(state: MemberState | None) -> dict[str, Any] | None:
    """A member's state as plain JSON: every field that takes part in equality (not the running
    sums and shortcuts kept beside them), decimals as exact text, times as ISO 8601."""
    return None if state is None else _plain(state)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare}
    if isinstance(value, Mapping):  # tier windows are keyed by number: JSON keys are text
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return to_jsonable(value)


def first_difference(reference: CaseResult, other: CaseResult) -> str | None:
    """Where ``other`` first departs from ``reference``: the first differing decision (by
    position), or the member after it when both recorded every state; else a different count
    of decisions, else the member's final state."""
    mine, theirs = reference.states, other.states
    for index, (want, got) in enumerate(zip(reference.decisions, other.decisions, strict=False)):
        where = f"decision {index + 1} (event {want.get('event_id')!r})"
        if want != got:
            return f"{where} differs" + _differing(want, got)
        if mine is not None and theirs is not None and mine[index] != theirs[index]:
            return f"the member after {where} differs" + _differing(mine[index], theirs[index])
    if len(reference.decisions) != len(other.decisions):
        return f"{len(other.decisions)} decisions, the reference made {len(reference.decisions)}"
    if reference.state != other.state:
        return "the final state differs" + _differing(reference.state, other.state)
    return None


def _differing(want: dict[str, Any] | None, got: dict[str, Any] | None) -> str:
    """The keys two JSON documents differ in, with both sides' values."""
    want, got = want or {}, got or {}
    keys = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    return (f" in {', '.join(keys) or 'presence'}:\n  reference: {json.dumps({k: want.get(k) for k in keys})}\n"
            f"  this cell: {json.dumps({k: got.get(k) for k in keys})}")
