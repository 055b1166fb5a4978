"""Invariants of the richer tiers (docs/tiers.md), each against an oracle written here:

- a member meeting every requirement of a level, on any of its paths, holds at least that
  level after the event;
- with retention below qualification, a member is never moved down at a window's end while
  the closing window's metric is at or above the retention threshold of the level held;
- an override never outlives its end date: from ``until`` on, the member is exactly where the
  same events without the override leave them.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset

HEADER = """punchcard: 1
ruleset: invariants
version: 1.0.0
timezone: UTC
currency: USD
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    stay: {amount: money, nights: integer}
earning:
  base: {on: stay, points: event.amount}
"""
PATHS = compile_ruleset(HEADER + """tiers:
  metrics:
    nights: {on: stay, add: event.nights}
    spend: spend
  levels:
    - {name: base}
    - {name: silver, requires: {nights: 10}}
    - {name: gold, requires: {spend: 3000}, paths: [{nights: 40}, {nights: 25, spend: 8000}]}
    - {name: top, requires: {nights: 60, spend: 12000}}
""")
# the oracle's copy of the levels: (name, requires, paths)
LEVELS = (("base", {}, []), ("silver", {"nights": 10}, []),
          ("gold", {"spend": 3000}, [{"nights": 40}, {"nights": 25, "spend": 8000}]),
          ("top", {"nights": 60, "spend": 12000}, []))
NAMES = [name for name, _, _ in LEVELS]

KEEP = compile_ruleset(HEADER + """tiers:
  metric: spend
  levels:
    - {name: member, min: 0}
    - {name: silver, min: 1000, keep: 400}
    - {name: gold, min: 5000, keep: 2500}
  downgrade: {at: window_end, keep_through: next_window}
""")
MINS = {"member": 0, "silver": 1000, "gold": 5000}
KEEPS = {"member": 0, "silver": 400, "gold": 2500}
RANK = {"member": 0, "silver": 1, "gold": 2}

stays = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 5000)), min_size=1, max_size=12)


def _stay(i: int, year: int, day: int, nights: int, amount: int) -> dict:
    month, dom = 1 + day // 28, 1 + day % 28
    return {"type": "stay", "id": f"s-{year}-{i}", "member": "m", "time": f"{year}-{month:02d}-{dom:02d}T12:00:00",
            "amount": str(amount), "nights": nights}


def _meets(need: dict, have: dict) -> bool:
    return all(have[k] >= v for k, v in need.items())


@settings(max_examples=150, deadline=None)
@given(stays)
def test_meeting_a_level_on_any_path_holds_at_least_it(events):
    state, have = None, {"nights": 0, "spend": 0}
    for i, (nights, amount) in enumerate(events):
        decision, state = evaluate(PATHS, state, _stay(i, 2026, i * 25, nights, amount))
        assert decision.outcome == "applied"
        have = {"nights": have["nights"] + nights, "spend": have["spend"] + amount}
        for index, (name, requires, paths) in enumerate(LEVELS):
            if _meets(requires, have) and (not paths or any(_meets(p, have) for p in paths)):
                assert NAMES.index(decision.tier.current) >= index, (name, have, decision.tier.current)


years = st.lists(st.integers(0, 6000), min_size=2, max_size=5)


@settings(max_examples=150, deadline=None)
@given(years, st.integers(0, 6000))
def test_retention_never_downgrades_at_or_above_keep(spends, first):
    state = None
    _, state = evaluate(KEEP, state, _stay(0, 2025, 10, 1, first))
    for offset, amount in enumerate(spends):
        year = 2026 + offset
        if amount:
            _, state = evaluate(KEEP, state, _stay(1, year, 100, 1, amount))
        before, state = evaluate(KEEP, state, {"type": "tick", "id": f"b-{year}", "member": "m",
                                               "time": f"{year}-12-31T23:30:00"})
        held = before.tier.current
        after, state = evaluate(KEEP, state, {"type": "tick", "id": f"c-{year}", "member": "m",
                                              "time": f"{year + 1}-01-01T00:00:01"})
        if amount >= KEEPS[held]:
            assert RANK[after.tier.current] >= RANK[held], (year, amount, held, after.tier.current)
        if amount < KEEPS[held] and amount < MINS[held]:
            assert RANK[after.tier.current] < RANK[held] or held == "member"


@settings(max_examples=120, deadline=None)
@given(stays, st.sampled_from(NAMES), st.integers(1, 300), st.integers(0, 11))
def test_an_override_never_outlives_its_end(events, level, days, at):
    until = f"2026-{1 + days // 28:02d}-{1 + days % 28:02d}T06:00:00"
    override = {"type": "tier_override", "id": "o-1", "member": "m", "time": "2026-01-01T01:00:00", "level": level,
                "until": until, "reason": "status match"}
    with_override, state = evaluate(PATHS, None, override)
    assert with_override.outcome == "applied"
    assert NAMES.index(with_override.tier.current) >= NAMES.index(level)
    plain = None
    for i, (nights, amount) in enumerate(events):
        event = _stay(i, 2026, i * 25 + at, nights, amount)
        decision, state = evaluate(PATHS, state, event)
        baseline, plain = evaluate(PATHS, plain, event)
        if event["time"] >= until:
            assert state.tier_override is None
            assert decision.tier.current == baseline.tier.current
        else:
            assert NAMES.index(decision.tier.current) >= NAMES.index(level)
    late, state = evaluate(PATHS, state, {"type": "tick", "id": "t-end", "member": "m", "time": "2026-12-31T00:00:00"})
    expected, plain = evaluate(PATHS, plain, {"type": "tick", "id": "t-end", "member": "m",
                                              "time": "2026-12-31T00:00:00"})
    assert state.tier_override is None and late.tier.current == expected.tier.current
    assert Decimal(0) <= late.balance
