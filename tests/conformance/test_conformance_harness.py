"""The conformance harness itself: it records what a case did, and it notices a difference."""

from __future__ import annotations

import copy
import json

import pytest
from conformance_cells import ROOT, open_store, run_cell, slug
from conformance_dryrun import dry_run_reference, in_time_order, replay_case

import punchcard
from punchcard.engine.testing import case_events, case_member, first_difference, run_case, state_json

RETAIL = ROOT / "rulesets/retail-tiers.yaml"
COMPLIANCE = ROOT / "rulesets/compliance-strict.yaml"


@pytest.fixture(scope="module")
def retail():
    return punchcard.compile(RETAIL, specialise=False)


def _case(compiled, start: str):
    return next(test for test in compiled.model.tests if test.name.startswith(start))


def test_a_case_records_every_decision_and_the_final_state():
    compiled = punchcard.compile(COMPLIANCE)
    test = _case(compiled, "an adult earns double")
    result = run_case(compiled, test, punchcard.engine.MemoryStore())
    events = case_events(compiled, test)
    assert [d["event_id"] for d in result.decisions] == [e["id"] for e in events]
    assert result.decisions[0]["event_type"] == "profile"  # the setup events are recorded too
    assert result.state["member_id"] == case_member(test)
    assert result.state["lots"], "the member earned points: the state holds a lot"
    json.dumps(result.state)  # raises on a Decimal or a datetime left in it
    wanted = test.expect["points"]
    assert isinstance(result.decisions[-1]["points"], str) and result.decisions[-1]["points"] == str(wanted)


def test_state_json_leaves_out_the_running_sums(retail):
    result = run_case(retail, retail.model.tests[0], punchcard.engine.MemoryStore())
    assert "live" not in result.state and "held" not in result.state and "journal" not in result.state
    assert {"lots", "tier", "streaks", "totals", "clock"} <= set(result.state)


def test_a_changed_decision_is_found(retail):
    reference = run_cell(retail, _case(retail, "the check-in streak"), "memory", None)
    other = copy.deepcopy(reference)
    other.decisions[2]["points"] = "1000"
    found = first_difference(reference, other)
    event = reference.decisions[2]["event_id"]
    assert found is not None and found.startswith(f"decision 3 (event {event!r}) differs in points")
    assert '"points": "1000"' in found
    assert first_difference(reference, copy.deepcopy(reference)) is None


def test_a_missing_decision_and_a_changed_state_are_found(retail):
    reference = run_cell(retail, _case(retail, "the check-in streak"), "memory", None)
    shorter = copy.deepcopy(reference)
    shorter.decisions.pop()
    assert first_difference(reference, shorter) == f"{len(shorter.decisions)} decisions, the reference made " \
                                                  f"{len(reference.decisions)}"
    changed = copy.deepcopy(reference)
    changed.state["debt"] = "5"
    assert first_difference(reference, changed).startswith("the final state differs in debt")


def test_the_dry_run_cell_checks_the_case_expectations(tmp_path):
    text = (ROOT / "rulesets/coffee-club.yaml").read_text().replace("expect: {points: 300}", "expect: {points: 301}")
    assert "points: 301" in text
    compiled = punchcard.compile(text)
    result = replay_case(compiled, compiled.model.tests[0])
    assert result.failures and "points: expected 301, got 300" in result.failures[0]


def test_the_dry_run_cell_replays_the_case_as_the_engine_does(retail):
    test = _case(retail, "a refund after the points were spent")
    engine, dry = run_cell(retail, test, "memory", None), replay_case(retail, test)
    assert dry.decisions and first_difference(engine, dry) is None
    assert [d["outcome"] for d in dry.decisions] == [d["outcome"] for d in engine.decisions]


def test_a_store_that_cannot_start_fails_the_cell_instead_of_skipping():
    class NoServer:
        def new(self, kind):
            pytest.skip("PostgreSQL is not available: no initdb")

    with pytest.raises(pytest.fail.Exception, match="postgresql is required by the conformance suite"):
        open_store("postgresql", NoServer())


def test_the_evaluators_differ_in_the_generated_code():
    specialised, plain = punchcard.compile(RETAIL, specialise=True), punchcard.compile(RETAIL, specialise=False)
    assert specialised.specialised is True and plain.specialised is False
    assert any(plan.walk is not None for plan in specialised.plans.values()), "no walk was generated"
    assert all(plan.walk is None for plan in plain.plans.values())


def test_state_json_of_no_member_is_none():
    assert state_json(None) is None


def test_a_changed_state_between_events_is_found(retail):
    reference = run_case(retail, _case(retail, "the check-in streak"), punchcard.engine.MemoryStore(),
                         every_state=True)
    assert reference.states is not None and len(reference.states) == len(reference.decisions)
    assert reference.states[-1] == reference.state
    other = copy.deepcopy(reference)
    other.states[1]["streaks"] = {}
    event = reference.decisions[1]["event_id"]
    assert first_difference(reference, other).startswith(f"the member after decision 2 (event {event!r}) "
                                                         "differs in streaks")
    other.states = None  # a run that shows no member between events is compared by its decisions and end
    assert first_difference(reference, other) is None


def test_a_ruleset_that_decides_otherwise_is_told_apart_on_a_sql_store(store_urls):
    text = (ROOT / "rulesets/coffee-club.yaml").read_text()
    assert text.count("multiply: 2") == 1
    original, changed = punchcard.compile(text), punchcard.compile(text.replace("multiply: 2", "multiply: 3"))
    reference = run_cell(original, original.model.tests[0], "memory", store_urls)
    other = run_cell(changed, changed.model.tests[0], "sqlite", store_urls)
    assert other.failures, "the case's own expect no longer holds"
    found = first_difference(reference, other)
    assert found is not None and found.startswith("decision 1 (event ") and "points" in found.split(":")[0]


def test_a_slug_keeps_whole_words():
    name = "a minor gets no points on alcohol, and the trace names the rule"
    assert slug(name) == "a-minor-gets-no-points-on-alcohol-and-the-trace-names-the"
    assert len(slug(name)) <= 60 and slug("!!!") == "case" and slug("Gold 1.5x") == "gold-1.5x"


def _late_and_bad() -> str:
    """coffee-club's case with a row the schema refuses and a purchase sent after a later one."""
    line = '      - {type: purchase, id: o-1, time: "2026-03-02T08:15:00", amount: 150, category: coffee}\n'
    text = (ROOT / "rulesets/coffee-club.yaml").read_text()
    assert text.count(line) == 1
    bad = '      - {type: purchase, id: o-2, time: "2026-03-02T08:20:00", category: coffee}\n'
    late = '      - {type: purchase, id: o-3, time: "2026-03-02T08:10:00", amount: 10, category: tea}\n'
    return text.replace(line, line + bad + late)


def test_the_dry_run_is_held_to_the_engine_fed_in_time_order():
    compiled = punchcard.compile(_late_and_bad())
    test = compiled.model.tests[0]
    sent_order = run_cell(compiled, test, "memory", None)
    dry = replay_case(compiled, test)
    assert not in_time_order(dry) and dry.bad_rows == (1,)
    assert dry.decisions[1] == {"event_id": "o-2", "member_id": "masha", "outcome": "rejected",
                                "reason": sent_order.decisions[1]["reason"]}
    assert first_difference(sent_order, dry) is not None, "o-3 comes first in time: balances differ"
    assert first_difference(dry_run_reference(compiled, test, sent_order, dry), dry) is None
