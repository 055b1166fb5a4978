"""The walk generated per event type decides exactly as the general path does.

``engine.compiler.generate`` writes each analyst event type's walk through the policies
as one function, leaving out the phases the plan makes idle. Hypothesis draws rulesets
from a family that varies earning, stacking, caps, budgets, rounding, tiers, gates,
streaks and achievements, and event histories across members; every decision and every
state must equal the general path's (``specialise=False``), and the untraced evaluation
must differ from the traced one in its trace alone.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import io
import json
import tokenize
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard import compile as compile_with_plugins
from punchcard.dsl.check import check_text
from punchcard.engine import compile_ruleset, evaluate
from punchcard.engine.evaluate import PHASES

ROOT = Path(__file__).resolve().parents[2]

RULES = {
    "morning": "{id: morning, on: [purchase], when: early, multiply: 2%s}",  # a let: its value is traced
    "triple": "{id: triple, on: [purchase], when: event.category == \"x\" or early, multiply: 1.5%s}",
    "big": "{id: big, on: [purchase], when: event.amount >= 100, bonus: 25}",
    "web": "{id: web, on: [purchase], when: event.channel == \"web\", bonus: 7}",  # channel is optional
    "refund-ish": "{id: refund-ish, on: [purchase], bonus: 10 - event.amount}",  # negative for large amounts
}
CAPS = {
    "day": "{per: member, period: day, max_points: 300}",
    "event": "{per: event, max_points: 180}",
    "big-month": "{rule: big, per: member, period: month, max_times: 2}",
    "morning-event": "{rule: morning, per: event, max_points: 40}",
    "web-life": "{rule: web, per: member, period: lifetime, max_points: 20}",
}
GATES = {  # (section, rule): fraud gates and compliance forbids
    "velocity": ("fraud", '{id: velocity, on: purchase, when: "count(purchase, within: 3 hours) > 1", '
                          'action: block, reason: too fast}'),
    "big-ticket": ("fraud", "{id: big-ticket, on: purchase, when: event.amount > 300, action: review}"),
    "allow-x": ("fraud", '{id: allow-x, on: purchase, when: event.category == "x", action: allow}'),
    "night-check": ("fraud", "{id: night-check, on: check_in, when: hour(event.time) < 6, action: review}"),
    "no-kiosk": ("forbid", '{id: no-kiosk, on: purchase, when: event.channel == "kiosk", action: no_points}'),
    "no-minors": ("forbid", "{id: no-minors, on: check_in, when: age(member.birth_date) < 18, "
                            "action: no_points}"),
}
STREAKS = {
    "daily": "{id: daily, on: check_in, period: day, freezes: %d, "
             'rewards: [{each: period, bonus: "5 + min(2 * streak.length, 20)"}, {at: 3, bonus: 30}]}',
    "weekly": "{id: weekly, on: purchase, period: week, when: event.amount >= 10, freezes: %d, "
              "rewards: [{at: 2, bonus: 15}, {every: 3, bonus: streak.length * 2}]}",
}
ACHIEVEMENTS = {
    "big-spender": "{id: big-spender, on: purchase, when: event.amount >= 200, bonus: 25, badge: Big spender}",
    "regular": '{id: regular, on: check_in, when: "count(check_in, within: 7 days) >= 3", bonus: 10}',
}
TIERS = """
tiers:
  metric: {metric}
  window: {window}
  levels:
    - {{name: base, min: 0}}
    - {{name: plus, min: 150{plus}}}
    - {{name: top, min: 400{top}}}
  multiplier_applies_to: {applies}
"""


class Family(NamedTuple):
    """One member of the ruleset family: what it varies."""

    rules: tuple[str, ...] = ()
    groups: str = "best"  # best | best-shared (morning and triple compete) | add
    multipliers: str = "add"
    caps: tuple[str, ...] = ()
    budget: bool = False
    mode: str = "floor"
    scope: str = "event"
    step: str = "1"
    tiers: tuple | None = None  # (metric, window, earn multipliers?, multiplier_applies_to)
    gates: tuple[str, ...] = ()
    streaks: tuple[str, ...] = ()
    freezes: int = 0
    achievements: tuple[str, ...] = ()
    negative: str = "allow"
    pending: str = "0 days"


@cache
def ruleset_text(family: Family) -> str:
    (rules, groups, multipliers, caps, budget, mode, scope, step, tiers, gates, streaks, freezes, achievements,
     negative, pending) = family
    grouped = ", group: g" if groups == "best-shared" else ""
    rule_lines = _block(RULES[name] % grouped if "%s" in RULES[name] else RULES[name] for name in rules)
    cap_lines = _block(CAPS[name] for name in caps if _rule_of(name) in (None, *rules))
    budget_lines = _block(["{rule: big, max_points: 60}"] if budget and "big" in rules else [])
    uses_early = any(name in rules for name in ("morning", "triple"))
    return f"""
punchcard: 1
ruleset: walk-family
version: 1.0.0
timezone: Europe/Berlin
currency: EUR
point_value: 0.01
rounding: {{mode: {mode}, scope: {scope}, step: {step}}}
schema:
  member: {{birth_date: optional date}}
  events:
    purchase: {{amount: money, category: string, channel: optional string}}
    check_in: {{}}
{"let: {early: hour(event.time) < 10}" if uses_early else ""}
earning:
  base: {{on: purchase, points: event.amount * 1.1, unless: event.category == "gift"}}
  rules:{rule_lines}
  stacking: {{multipliers: {multipliers}, groups: {"add" if groups == "add" else "best"}}}
  caps:{cap_lines}
  budgets:{budget_lines}
points:
  pending: {pending}
  expiry: never
  refunds: {{clawback: proportional, negative_balance: {negative}}}
{_tiers(tiers)}
fraud:{_block(GATES[g][1] for g in gates if GATES[g][0] == "fraud")}
compliance:
  forbid:{_block(GATES[g][1] for g in gates if GATES[g][0] == "forbid")}
streaks:{_block(STREAKS[s] % freezes for s in streaks)}
achievements:{_block(ACHIEVEMENTS[a] for a in achievements)}
"""


def _tiers(tiers: tuple | None) -> str:
    if tiers is None:
        return ""
    metric, window, multiplied, applies = tiers
    plus, top = (", earn_multiplier: 1.5", ", earn_multiplier: 2") if multiplied else ("", "")
    return TIERS.format(metric=metric, window=window, plus=plus, top=top, applies=applies)


def _block(items) -> str:
    """A YAML block list indented under its key, or an empty flow list."""
    lines = [f"\n    - {item}" for item in items]
    return "".join(lines) if lines else " []"


def _rule_of(cap: str) -> str | None:
    return next((rule for rule in RULES if cap.startswith(rule + "-")), None)


@cache
def both(text: str):
    """The ruleset compiled with its generated walks, and again with the general path only."""
    checked = check_text(text, "<family>")
    assert not checked.diagnostics, [d.message for d in checked.diagnostics]  # the family itself is sound
    return compile_ruleset(text), compile_ruleset(text, specialise=False)


families = st.builds(
    Family,
    rules=st.lists(st.sampled_from(sorted(RULES)), unique=True).map(tuple),
    groups=st.sampled_from(["best", "best-shared", "add"]),
    multipliers=st.sampled_from(["add", "multiply"]),
    caps=st.lists(st.sampled_from(sorted(CAPS)), unique=True, max_size=3).map(tuple),
    budget=st.booleans(),
    mode=st.sampled_from(["floor", "ceil", "half_up", "half_even"]),
    scope=st.sampled_from(["event", "rule"]),
    step=st.sampled_from(["1", "0.1", "5"]),
    tiers=st.none() | st.tuples(st.sampled_from(["spend", "points_earned", "count(check_in)"]),
                                st.sampled_from(["calendar_year", "rolling_12_months"]),
                                st.booleans(), st.sampled_from(["base", "earned"])),
    gates=st.lists(st.sampled_from(sorted(GATES)), unique=True, max_size=4).map(tuple),
    streaks=st.lists(st.sampled_from(sorted(STREAKS)), unique=True).map(tuple),
    freezes=st.integers(0, 1),
    achievements=st.lists(st.sampled_from(sorted(ACHIEVEMENTS)), unique=True).map(tuple),
    negative=st.sampled_from(["allow", "refuse"]),
    pending=st.sampled_from(["0 days", "2 days"]),
)
MEMBERS = ["ann", "bob", "cy"]
steps = st.fixed_dictionaries({
    "kind": st.sampled_from(["purchase"] * 4 + ["check_in"] * 3 + ["refund", "redeem", "tick", "review",
                                                                    "profile"]),
    "member": st.sampled_from(MEMBERS[:2]) | st.sampled_from(MEMBERS),  # two mostly, three at times
    "hours": st.sampled_from([0, 0, 1, 2, 5, 20, 26, 50, 170]),
    "amount": st.one_of(st.sampled_from(["0", "99.99", "100", "250", "350"]).map(Decimal),
                        st.decimals(min_value=0, max_value=400, places=2)),
    "category": st.sampled_from(["x", "y", "gift"]),
    "channel": st.sampled_from([None, "web", "store", "kiosk"]),
    "pick": st.integers(0, 3),  # which of the member's latest events a refund or review points at
    "verdict": st.sampled_from(["release", "void", "release", "maybe"]),
    "points": st.sampled_from(["5", "10", "50", "500"]),
    "minor": st.booleans(),
})


def _events(drawn: list[dict]) -> list[dict]:
    moment, events, orders = dt.datetime(2026, 3, 1, 4, 0), [], {member: [] for member in MEMBERS}
    for i, item in enumerate(drawn):
        moment += dt.timedelta(hours=item["hours"])
        event = {"type": item["kind"], "id": f"e{i}", "member": item["member"], "time": moment.isoformat()}
        event.update(_fields(item, orders[item["member"]]))
        if item["kind"] in ("purchase", "check_in"):  # what a refund or a review may point at
            orders[item["member"]].append((item["kind"], event["id"]))
        events.append(event)
    return events


def _fields(item: dict, earlier: list[tuple[str, str]]) -> dict[str, Any]:
    """The event's own fields; a refund or a review points at one of the member's latest events."""
    kind = item["kind"]
    orders = [i for k, i in earlier if k == "purchase"] if kind == "refund" else [i for _k, i in earlier]
    target = orders[-1 - item["pick"] % len(orders)] if orders else "nothing"
    if kind == "purchase":
        fields = {"amount": str(item["amount"]), "category": item["category"]}
        return fields | ({"channel": item["channel"]} if item["channel"] else {})
    if kind == "refund":
        return {"order": target, "amount": str((item["amount"] / 4).quantize(Decimal("0.01")))}
    if kind == "redeem":
        return {"points": item["points"]}
    if kind == "review":
        return {"type": "review_decision", "target": target, "verdict": item["verdict"]}
    if kind == "profile":
        return {"birth_date": "2012-05-01" if item["minor"] else "1980-05-01"}
    return {}


def _replay(compiled, events: list[dict], trace: bool = True) -> list[tuple]:
    """Every decision and the state after it, budgets carried across members as a store does."""
    states, budgets, seen = {}, {}, []
    for event in events:
        decision, state = evaluate(compiled, states.get(event["member"]), event, budgets=budgets, owned=True,
                                   trace=trace)
        if state is not None:  # an event the schema refuses leaves a new member unmade
            states[event["member"]] = state
        for effect in decision.effects:
            if effect.kind == "budget":
                budgets[effect.detail["rule"]] = budgets.get(effect.detail["rule"], 0) + effect.points
        seen.append((decision, state.clone() if state is not None else None))
    return seen


def _same_walks(text: str, events: list[dict]) -> None:
    specialised, general = both(text)
    for i, ((fast, fast_state), (slow, slow_state)) in enumerate(
            zip(_replay(specialised, events), _replay(general, events), strict=True)):
        assert fast == slow, f"decision of event {i} ({events[i]['type']}) differs"
        assert fast_state == slow_state, f"state after event {i} ({events[i]['type']}) differs"


def _same_but_trace(text: str, events: list[dict]) -> None:
    compiled = both(text)[0]
    for i, ((quiet, quiet_state), (loud, loud_state)) in enumerate(
            zip(_replay(compiled, events, trace=False), _replay(compiled, events), strict=True)):
        assert quiet.trace == ()
        assert quiet == dataclasses.replace(loud, trace=()), f"decision of event {i} ({events[i]['type']}) differs"
        assert quiet_state == loud_state, f"state after event {i} ({events[i]['type']}) differs"


SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(family=families, drawn=st.lists(steps, min_size=1, max_size=25))
def test_the_generated_walk_decides_as_the_general_path_does(family, drawn):
    _same_walks(ruleset_text(family), _events(drawn))


@SETTINGS
@given(family=families, drawn=st.lists(steps, min_size=1, max_size=25))
def test_an_untraced_decision_differs_only_in_its_trace(family, drawn):
    _same_but_trace(ruleset_text(family), _events(drawn))


def test_the_family_reaches_every_phase_and_both_paths():
    full = ruleset_text(Family(("morning", "big"), caps=("day", "big-month"), budget=True,
                               tiers=("spend", "calendar_year", True, "earned"), gates=tuple(sorted(GATES)),
                               streaks=tuple(sorted(STREAKS)), freezes=1, achievements=tuple(sorted(ACHIEVEMENTS))))
    specialised, general = both(full)
    purchase = specialised.plans["purchase"]
    for name in ("remember", "gates", "earning", "ledger", "tiers", "streaks", "close"):
        assert f"    {name}(run, plan)" in purchase.walk_source or f"    {name}(run)" in purchase.walk_source, name
    assert specialised.plans["check_in"].walk is not None
    assert all(plan.walk is None for plan in general.plans.values())
    for built_in in ("refund", "redeem", "tick", "review_decision"):
        assert specialised.plans[built_in].walk is None  # handled by their own policies


# -- the generated source ------------------------------------------------------------------------

SHIPPED = sorted((ROOT / "rulesets").glob("*.yaml")) + sorted((ROOT / "tests/engine/rulesets").glob("*.yaml"))
CALLABLE = set(PHASES) | {"remember", "close"}

# Ids are lower-case letters, digits and dashes, and event-type names lower-case letters, digits and
# underscores (docs/ruleset-format.md), so no analyst name can carry a quote, a bracket or a line
# break into the source. What remains: names that are Python keywords or the walk's own names.
# Were they written as code, this ruleset's walks would not compile, or would call the wrong thing.
HOSTILE = """
punchcard: 1
ruleset: import
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    return: {amount: money}
    remember: {}
    lambda: {}
earning:
  base: {on: [return], points: event.amount}
  rules:
    - {id: import-os, on: [return], bonus: 1}
    - {id: def, on: [return, lambda], bonus: 2}
    - {id: gates, on: [return], bonus: 3}
streaks:
  - {id: close, on: remember, period: day, rewards: [{each: period, bonus: 1}]}
fraud:
  - {id: walk, on: [lambda], when: "count(lambda, within: 1 hour) > 1", action: review}
"""


def _calls(source: str) -> set[str]:
    tree = ast.parse(source)
    return {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)}


SKELETON = CALLABLE | {"def", "walk", "run", "plan", "return", "None"}


def _code_tokens(source: str) -> list[tokenize.TokenInfo]:
    """The source's tokens outside comments, by the tokenizer's own reading."""
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
              tokenize.ENDMARKER}
    return [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type not in layout]


def _check_source(compiled) -> None:
    generated = [plan for plan in compiled.plans.values() if plan.walk is not None]
    assert generated, "no walk was generated"
    for plan in generated:
        source = plan.walk_source
        compile(source, "<walk>", "exec")
        tree = ast.parse(source)
        assert [type(node) for node in tree.body] == [ast.FunctionDef] and tree.body[0].name == "walk"
        assert _calls(source) <= CALLABLE
        tokens = _code_tokens(source)
        # outside comments: the walk's own names and punctuation, no literal, nothing an analyst named
        assert {tok.string for tok in tokens if tok.type == tokenize.NAME} <= SKELETON, plan.event_type
        assert {tok.type for tok in tokens} <= {tokenize.NAME, tokenize.OP}, plan.event_type
        comments = "".join(tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                           if tok.type == tokenize.COMMENT)
        assert f"{plan.event_type} in {compiled.label}" in comments  # ... and it is there, in a comment


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_generated_source_calls_only_policies(path):
    _check_source(compile_with_plugins(path))  # a shipped ruleset may name models: the plugins load them


def test_analyst_names_that_are_python_stay_in_comments():
    compiled = compile_ruleset(HOSTILE)
    _check_source(compiled)
    for plan in compiled.plans.values():
        if plan.walk is not None:  # a call line's name is a phase's, never the event type's
            for line in plan.walk_source.splitlines()[1:]:
                assert line.split("#", 1)[0].strip().split("(", 1)[0] in CALLABLE | {"return None", ""}


@pytest.mark.parametrize("name", ["a\nb", "a'b", 'a"b', "a)b", "A-b", "-a", "a_b", "a b", "a#b"])
def test_ids_cannot_carry_code(name):
    assert not check_text(HOSTILE.replace("id: import-os", 'id: "class-9"'), "<hostile>").errors
    checked = check_text(HOSTILE.replace("id: import-os", f"id: {json.dumps(name)}"), "<hostile>")
    assert checked.errors, f"the id {name!r} was accepted"


@pytest.mark.parametrize("name", ["a-b", "a\nb", "A", "_a", "a'b", "a#b"])
def test_event_type_names_cannot_carry_code(name):
    def declaring(name: str) -> str:
        return HOSTILE.replace("    lambda: {}", f"    lambda: {{}}\n    {json.dumps(name)}: {{}}")

    assert not check_text(declaring("class_9"), "<hostile>").errors
    assert check_text(declaring(name), "<hostile>").errors, f"the event type {name!r} was accepted"


def test_a_traceback_through_a_walk_shows_its_generated_line(monkeypatch, caplog):
    def fails(run, plan):
        raise LookupError("inside the tiers policy")

    monkeypatch.setitem(PHASES, "tiers", fails)  # the walk binds the policy when it is generated
    compiled = compile_ruleset(ROOT / "rulesets/retail-tiers.yaml")
    source = compiled.plans["purchase"].walk_source
    with caplog.at_level("ERROR", logger="punchcard.engine"):
        decision, _ = evaluate(compiled, None, {"type": "purchase", "id": "p-1", "member": "hana", "amount": "850",
                                                "time": "2026-04-01T12:00:00", "category": "food"})
    assert decision.outcome == "rejected" and "LookupError" in decision.reason
    logged = caplog.text
    assert f'File "<punchcard {compiled.label} purchase>", line {_line_of(source, "tiers(")}, in walk' in logged
    assert next(line for line in source.splitlines() if "tiers(" in line).strip() in logged


def _line_of(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


# -- idle phases are left out ------------------------------------------------------------------------

def test_idle_phases_are_left_out_of_the_walk():
    coffee = compile_ruleset(ROOT / "rulesets/coffee-club.yaml").plans["purchase"]
    retail = compile_ruleset(ROOT / "rulesets/retail-tiers.yaml")
    assert coffee.phases != () and {"gates", "tiers", "streaks"} & set(coffee.phases)  # the general path walks them
    assert _calls(coffee.walk_source) == {"earning", "ledger"}
    assert _calls(retail.plans["purchase"].walk_source) >= {"remember", "gates", "earning", "ledger", "tiers", "close"}
    assert "streaks" not in _calls(retail.plans["purchase"].walk_source)
    check_in = _calls(retail.plans["check_in"].walk_source)
    assert "streaks" in check_in and "gates" not in check_in and "close" not in check_in
