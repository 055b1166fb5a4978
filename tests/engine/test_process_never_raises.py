"""``Engine.process`` returns a decision for every input, and a refused one changes nothing.

Hypothesis throws JSON-like junk at every bundled ruleset: whole values, envelopes with
junk fields, and valid-looking events with nasty numbers, times, ids and text in them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard import compile as compile_ruleset  # with the installed plugins: a ruleset may name models
from punchcard.engine import Engine, MemoryStore
from punchcard.engine.runtime.decision import Decision, Outcome

ROOT = Path(__file__).resolve().parents[2]
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml")) + sorted((ROOT / "tests/engine/rulesets").glob("*.yaml"))
COMPILED = {path.stem: compile_ruleset(path) for path in RULESETS}

NASTY = [None, True, False, 0, -1, 10 ** 5000, -(10 ** 5000), 1e308, float("inf"), float("nan"), -0.0,
         "1e309", "1e999999999", "-1e999999999", "-0", "5_0", " 5 ", "NaN", "Infinity", "sNaN", "1" * 5000,
         "0." + "0" * 4000 + "1", "\x00", "a\x00b", "\ud800", "caf\udce9", "\x1b[2J", "", " ", "٥", [], {}, [[[]]],
         {"a": {"b": [1, {"c": None}]}}, b"\xff\xfe", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-12:00",
         "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00", "2026-02-30T00:00:00", "8999-12-31T23:59:59+00:00",
         dt.datetime(9999, 12, 31, 23, 59), dt.datetime(1, 1, 1), dt.date(9999, 12, 31), "x" * 100_000]
# hypothesis prints what it drew, and an int of 5,000 digits has no repr: those are tried below
PRINTABLE = [v for v in NASTY if not (type(v) is int and abs(v) > 10 ** 4000)]
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.sampled_from(PRINTABLE),
              st.decimals()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
field_names = ["amount", "category", "channel", "points", "reason", "order", "redemption", "target", "verdict",
               "birth_date", "segment", "reward", "store", "country"]


@st.composite
def events(draw, compiled):
    kinds = sorted(compiled.model.event_fields())
    raw = {"type": draw(st.sampled_from(kinds) | junk), "id": draw(st.sampled_from(["e1", "e2"]) | junk),
           "member": draw(st.sampled_from(["m1"]) | junk),
           "time": draw(st.sampled_from(["2026-03-02T08:15:00+03:00", "2026-06-01T00:00:00"]) | junk)}
    declared = compiled.model.event_fields().get(raw["type"], {}) if isinstance(raw["type"], str) else {}
    for name in draw(st.lists(st.sampled_from(sorted(set(field_names) | set(declared))), max_size=5)):
        raw[name] = draw(junk | st.sampled_from(["10", "150.50", "coffee", "ok", 5]))
    return draw(st.sampled_from([raw, raw, raw, {k: v for k, v in raw.items() if k != "time"}]))


def _clean_id(value) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= 200 and value.isprintable()


def _check(engine: Engine, raw) -> Decision:
    member = raw.get("member") if isinstance(raw, dict) and isinstance(raw.get("member"), str) else None
    before = engine.member(member) if member is not None and "\x00" not in member else None
    decision = engine.process(raw)
    assert isinstance(decision, Decision) and decision.outcome in Outcome.ALL
    assert "could not be decided" not in (decision.reason or ""), decision.reason
    if decision.outcome in (Outcome.REJECTED, Outcome.BLOCKED, Outcome.DUPLICATE) and before is not None:
        assert engine.member(member) == before
    decision.to_dict()
    return decision


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_any_json_like_value_gets_a_decision(name):
    compiled = COMPILED[name]
    engine = Engine(compiled, MemoryStore())

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.data_too_large])
    @given(st.one_of(junk, events(compiled)))
    def run(raw):
        _check(engine, raw)

    run()


@pytest.mark.parametrize("name", sorted(COMPILED))
@pytest.mark.parametrize("value", NASTY, ids=lambda v: type(v).__name__)
def test_each_nasty_value_in_each_place_gets_a_decision(name, value):
    compiled = COMPILED[name]
    engine = Engine(compiled, MemoryStore())
    valid = {"type": "purchase", "id": "p1", "member": "m1", "time": "2026-03-02T08:15:00+03:00", "amount": "150",
             "category": "coffee"}
    if "purchase" not in compiled.model.event_fields():
        valid = {"type": "tick", "id": "p1", "member": "m1", "time": "2026-03-02T08:15:00+03:00"}
    for key in (*valid, "points", "reason"):
        raw = {**valid, key: value, "id": f"{key}-{len(key)}"} if key != "id" else {**valid, "id": value}
        decision = _check(engine, raw)
        if key in ("id", "member") and not _clean_id(value):
            assert decision.outcome == "rejected" and decision.reason.startswith(key), decision.reason
    for kind in ("redeem", "adjust"):
        raw = {"type": kind, "id": f"{kind}-x", "member": "m1", "time": valid["time"], "points": value,
               "reason": "goodwill"}
        decision = _check(engine, raw)
        assert decision.outcome == "rejected" or value in (True, False, 0, -1)
