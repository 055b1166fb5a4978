"""``evaluate(..., owned=True)`` changes the state in place; it must decide exactly as the
pure core does, and a refused event must leave the handed-over state exactly as it was.

Every ruleset's own test events run through both, then hypothesis shuffles, drops and
repeats them and mixes in events that are refused (too large a redemption, a refund of
an unknown order, a reversal of nothing), which exercises the savepoint's undo.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard import compile as compile_ruleset  # with the installed plugins: a ruleset may name models
from punchcard.engine.evaluate import evaluate
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.testing import case_events

ROOT = Path(__file__).resolve().parents[2]
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml")) + sorted((ROOT / "tests/engine/rulesets").glob("*.yaml"))
_COMPILED: dict[Path, object] = {}


def compiled_of(path: Path):
    if path not in _COMPILED:
        _COMPILED[path] = compile_ruleset(path)
    return _COMPILED[path]


def replay_both(compiled, events: list[dict]) -> int:
    """Both ways, event by event; returns how many events were refused."""
    pure = owned = None
    refused = 0
    for raw in events:
        before = owned.clone() if owned is not None else None
        given = copy.deepcopy(pure)
        pure_decision, after = evaluate(compiled, pure, raw)
        assert pure == given and (pure is None or pure.profile == given.profile), "the pure core changed its input"
        pure = after
        owned_decision, owned = evaluate(compiled, owned, raw, owned=True)
        assert owned_decision.to_dict() == pure_decision.to_dict(), raw
        assert owned == pure, raw
        if owned_decision.outcome in (Outcome.REJECTED, Outcome.BLOCKED) and before is not None:
            refused += 1
            assert owned == before, f"a refused event changed the state: {raw}"
            assert (owned.live, owned.held) == (before.live, before.held), "the running sums were not put back"
        recounted = owned.clone()
        recounted.recount()
        assert (recounted.live, recounted.held) == (owned.live, owned.held), "running sums drifted from the lots"
    return refused


def all_cases():
    for path in RULESETS:
        for test in compiled_of(path).model.tests:
            yield pytest.param(path, test.name, id=f"{path.stem}:{test.name[:40]}")


@pytest.mark.parametrize("path,name", list(all_cases()))
def test_owned_matches_pure_on_every_example(path, name):
    compiled = compiled_of(path)
    test = next(t for t in compiled.model.tests if t.name == name)
    events = case_events(compiled, test)
    replay_both(compiled, events)
    mixed = [e for n, event in enumerate(events)
             for e in [event, *_refused_events(event["member"], str(event["time"]), n)]]
    assert replay_both(compiled, mixed) >= len(events)


def _refused_events(member: str, time: str, tag: int) -> list[dict]:
    return [
        {"type": "redeem", "id": f"x{tag}-r", "member": member, "time": time, "points": "99999999"},
        {"type": "refund", "id": f"x{tag}-f", "member": member, "time": time, "order": "nope", "amount": "1"},
        {"type": "redeem_reversal", "id": f"x{tag}-v", "member": member, "time": time, "redemption": "nope"},
    ]


@st.composite
def perturbed_case(draw):
    path = draw(st.sampled_from(RULESETS))
    compiled = compiled_of(path)
    tests = compiled.model.tests
    events = case_events(compiled, draw(st.sampled_from(tests)))
    picked = draw(st.lists(st.integers(0, len(events) - 1), min_size=1, max_size=2 * len(events) + 2))
    out = []
    for n, index in enumerate(picked):
        event = dict(events[index])
        if draw(st.booleans()):
            out += _refused_events(event["member"], str(event["time"]), n)
        out.append(event)
    return compiled, out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed_case())
def test_owned_matches_pure_and_refusals_change_nothing(case):
    compiled, events = case
    replay_both(compiled, events)
