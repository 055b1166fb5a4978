"""What only runs with tiers says plainly when it is asked about a ruleset without them, and
an anniversary window says it needs the day the member joined."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.policies import tier_windows, tiers
from punchcard.engine.runtime.state import MemberState

RULESET = """punchcard: 1
ruleset: tier-plan-required
version: 1.0.0
timezone: Europe/Paris
currency: EUR
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
"""
TIERS = {"metric": "spend", "window": "anniversary_year", "levels": [{"name": "member", "min": 0},
                                                                    {"name": "gold", "min": 100}]}


def test_a_ruleset_without_tiers_is_named_by_what_needs_them():
    plain = compile_ruleset(RULESET)
    moment = dt.datetime(2026, 3, 1, tzinfo=plain.tz)
    with pytest.raises(ValueError, match=re.escape("tier-plan-required@1.0.0 has no tiers")):
        tier_windows.tier_plan(plain)
    with pytest.raises(ValueError, match="has no tiers"):
        tiers.upgrade(plain, MemberState("m", joined=moment), moment)


def test_an_anniversary_window_ends_a_year_from_joining_and_needs_the_day():
    compiled = compile_ruleset(RULESET + "tiers: " + json.dumps(TIERS) + "\n")
    model = tier_windows.tier_plan(compiled).model
    joined = dt.datetime(2026, 3, 15, 10, 0, tzinfo=compiled.tz)
    assert tier_windows.window_end(model, 0, joined, compiled.tz) == dt.datetime(2027, 3, 15, 10, 0, tzinfo=compiled.tz)
    with pytest.raises(ValueError, match="the day the member joined"):
        tier_windows.window_end(model, 0, None, compiled.tz)
