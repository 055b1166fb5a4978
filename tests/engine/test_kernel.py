"""The generated earning kernel decides exactly as the plain path does.

Each event type's earning, stacking, tier multiplier, caps, budgets and rounding are
written out as one function (``engine.kernel``). Hypothesis draws rulesets from a
family that varies all of those, and events that fire, miss and fail rules, hit caps
and exhaust budgets; every decision and every state must equal the plain path's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.evaluate import evaluate
from punchcard.engine.compiler.kernel import covers, kernel_source

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


@lru_cache(maxsize=None)
def ruleset_text(rules: tuple, groups: str, multipliers: str, caps: tuple, budget: bool, mode: str, scope: str,
                 step: str, tiers: str | None) -> str:
    grouped = ", group: g" if groups == "best-shared" else ""
    rule_lines = _block(RULES[name] % grouped if "%s" in RULES[name] else RULES[name] for name in rules)
    cap_lines = _block(CAPS[name] for name in caps if _rule_of(name) in (None, *rules))
    budget_lines = _block(["{rule: big, max_points: 60}"] if budget and "big" in rules else [])
    tier_block = "" if tiers is None else f"""
tiers:
  metric: spend
  levels:
    - {{name: base, min: 0}}
    - {{name: plus, min: 150, earn_multiplier: 1.5}}
  multiplier_applies_to: {tiers}
"""
    return f"""
punchcard: 1
ruleset: kernel-family
version: 1.0.0
timezone: Europe/Berlin
currency: EUR
point_value: 0.01
rounding: {{mode: {mode}, scope: {scope}, step: {step}}}
schema:
  events:
    purchase: {{amount: money, category: string, channel: optional string}}
let:
  early: hour(event.time) < 10
earning:
  base: {{on: purchase, points: event.amount * 1.1, unless: event.category == "gift"}}
  rules:{rule_lines}
  stacking: {{multipliers: {multipliers}, groups: {"add" if groups == "add" else "best"}}}
  caps:{cap_lines}
  budgets:{budget_lines}
points:
  pending: 0 days
  expiry: never
  refunds: {{clawback: proportional, negative_balance: allow}}
{tier_block}"""


def _block(items) -> str:
    """A YAML block list indented under its key, or an empty flow list."""
    lines = [f"\n    - {item}" for item in items]
    return "".join(lines) if lines else " []"


def _rule_of(cap: str) -> str | None:
    return next((rule for rule in RULES if cap.startswith(rule + "-")), None)


@lru_cache(maxsize=None)
def both(text: str):
    """The ruleset compiled with its kernels, and again with the plain path only."""
    with_kernels, plain = compile_ruleset(text), compile_ruleset(text)
    for plan in plain.plans.values():
        plan.kernel = None
    return with_kernels, plain


rulesets = st.builds(
    ruleset_text,
    rules=st.lists(st.sampled_from(sorted(RULES)), unique=True).map(tuple),
    groups=st.sampled_from(["best", "best-shared", "add"]),
    multipliers=st.sampled_from(["add", "multiply"]),
    caps=st.lists(st.sampled_from(sorted(CAPS)), unique=True, max_size=3).map(tuple),
    budget=st.booleans(),
    mode=st.sampled_from(["floor", "ceil", "half_up", "half_even"]),
    scope=st.sampled_from(["event", "rule"]),
    step=st.sampled_from(["1", "0.1", "5"]),
    tiers=st.sampled_from([None, "base", "earned"]),
)
purchases = st.fixed_dictionaries(
    {"member": st.sampled_from(["ann", "bob"]), "hours": st.integers(0, 60),
     "amount": st.one_of(st.sampled_from(["0", "99.99", "100", "250"]).map(Decimal),  # around the thresholds
                         st.decimals(min_value=0, max_value=400, places=2)),
     "category": st.sampled_from(["x", "y", "gift"])},
    optional={"channel": st.sampled_from(["web", "store"])})


def _events(drawn: list[dict]) -> list[dict]:
    moment, events = dt.datetime(2026, 3, 1, 6, 0), []
    for i, item in enumerate(drawn):
        moment += dt.timedelta(hours=item["hours"])
        event = {"type": "purchase", "id": f"e{i}", "member": item["member"], "time": moment.isoformat(),
                 "amount": str(item["amount"]), "category": item["category"]}
        if "channel" in item:
            event["channel"] = item["channel"]
        events.append(event)
    return events


def _replay(compiled, events: list[dict]) -> list[tuple]:
    """Every decision and the state after it, budgets carried across members as a store does."""
    states, budgets, seen = {}, {}, []
    for event in events:
        decision, state = evaluate(compiled, states.get(event["member"]), event, budgets=budgets, owned=True)
        states[event["member"]] = state
        for effect in decision.effects:
            if effect.kind == "budget":
                budgets[effect.detail["rule"]] = budgets.get(effect.detail["rule"], 0) + effect.points
        seen.append((decision, state.clone()))
    return seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rulesets, drawn=st.lists(purchases, min_size=1, max_size=25))
def test_the_kernel_decides_as_the_plain_path_does(text, drawn):
    with_kernels, plain = both(text)
    events = _events(drawn)
    for (fast, fast_state), (slow, slow_state) in zip(_replay(with_kernels, events), _replay(plain, events)):
        assert fast == slow
        assert fast_state == slow_state


def test_the_family_exercises_the_kernel_and_the_plain_path():
    covered = ruleset_text(("morning", "big"), "best", "add", ("day", "big-month"), True, "floor", "event", "1", "base")
    shared = ruleset_text(("morning", "triple"), "best-shared", "add", (), False, "floor", "event", "1", None)
    assert both(covered)[0].plans["purchase"].kernel is not None
    assert both(shared)[0].plans["purchase"].kernel is None  # two rules compete in one group
    assert not covers(both(shared)[0], both(shared)[0].plans["purchase"])


@pytest.mark.parametrize("path", sorted((ROOT / "rulesets").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_kernel_source_names_nothing_an_analyst_wrote(path):
    """Rule ids, labels and notes reach the kernel only as constants, never as source text."""
    compiled = compile_ruleset(path)
    for plan in compiled.plans.values():
        written = kernel_source(compiled, plan)
        if written is None:
            continue
        source, _ = written
        for rule in plan.bases + plan.rules:
            assert repr(rule.id) not in source and f'"{rule.id}"' not in source
        compile(source, "<kernel>", "exec")
