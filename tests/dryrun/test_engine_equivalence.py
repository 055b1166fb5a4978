"""The dry-run decides every event exactly as ``Engine.process`` on a MemoryStore does.

The reference feeds every event to one engine in (time, line) order, with the store's
shared budget counter, then a tick per member at the end: the definition the
dry-run's partitioned, multi-pass replay must reproduce decision by decision.
"""

import json
from decimal import Decimal

import pytest
from dryrun_helpers import ROOT, purchase

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.formats import read_rows
from punchcard.engine.dryrun.replay import tick_id
from punchcard.engine.dryrun.samples import SampleOptions, generate
from punchcard.engine.dryrun.writers import write_events
from punchcard.engine.runtime.events import EventError

FLOWS = ("issued", "redeemed", "expired", "clawed_back", "adjusted_down", "voided")


def _observed(ruleset, events, **options):
    decisions = {}

    def observe(member, run):
        for line, _at, decision in run.sides[0].decisions:
            decisions[(line, decision.event_id if not line else None)] = decision

    result = dry_run(Options(ruleset, events, observe=observe, **options))
    return result, decisions


def _reference(ruleset, events, end):
    compiled = compile_ruleset(ruleset)
    engine = Engine(compiled, MemoryStore(), trace=True)
    rows = []
    for line, row in read_rows(events):
        try:
            rows.append(((compiled.schema.parse(row).time, line), line, row))
        except (EventError, AttributeError):
            continue  # a bad row: the dry-run reports it, the engine would reject it
    decided = {(line, None): engine.process(row) for _key, line, row in sorted(rows, key=lambda r: r[0])}
    members = sorted({row["member"] for _k, _l, row in rows})
    for member in members:
        if engine.member(member) is not None:
            decided[(0, tick_id(member))] = engine.process({"type": "tick", "id": tick_id(member), "member": member,
                                                            "time": end})
    return engine, decided, members


def _assert_same(dry, reference):
    assert dry.keys() == reference.keys()
    wrong = [key for key in reference if dry[key].to_dict() != reference[key].to_dict()]
    assert not wrong, f"{len(wrong)} decisions differ, first: {json.dumps(reference[wrong[0]].to_dict())[:400]}"


def test_decisions_match_the_engine_with_a_budget_that_runs_out(small_sample, tight_v2, tmp_path):
    first = json.loads(small_sample.read_text().splitlines()[0])
    extra = [purchase(first["id"], first["member"], "2026-06-01T10:00:00", 999),  # reused id, other body: a conflict
             '{"type": "purchase", "id": "bad", "member": "m000001", "time": "2026-06-01T10:00:00"}', "[1, 2]"]
    events = tmp_path / "events.jsonl"
    events.write_text(small_sample.read_text() + "".join((e if isinstance(e, str) else json.dumps(e)) + "\n"
                                                         for e in extra))
    result, dry = _observed(tight_v2, events)
    assert result.passes >= 2, "the budget should run out, so the replay needs its second pass"
    engine, reference, members = _reference(tight_v2, events, result.end)
    _assert_same(dry, reference)
    assert engine.store.budgets()["big-basket"] == Decimal(1234)
    assert result.partial.bad.count == 2
    totals = to_json_report(build_report(result))["totals"]
    states = [engine.member(m) for m in members if engine.member(m) is not None]
    assert Decimal(totals["liability_points"]) == sum((s.total() for s in states), Decimal(0))
    for name in FLOWS:
        assert Decimal(totals[f"points_{name}"]) == sum((s.totals.get(name, Decimal(0)) for s in states),
                                                        Decimal(0)), name


def _two_budgets(tmp_path):
    text = (ROOT / "rulesets/coffee-club.yaml").read_text()
    text = text.replace("bonus: 50", "bonus: event.amount / 37")  # fractional points: rounding leaves residues
    text = text.replace("budgets:\n    - {rule: big-basket, max_points: 1000000}",
                        "budgets:\n    - {rule: big-basket, max_points: 1500.5}\n"
                        "    - {rule: coffee-mornings, max_points: 2000}")
    text = text.replace("step: 1}", "step: 0.5}")
    assert text.count("max_points: 1500.5") == 1 and "coffee-mornings, max_points" in text
    path = tmp_path / "coffee-two-budgets.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def coffee_events(tmp_path_factory):
    path = tmp_path_factory.mktemp("coffee") / "coffee.jsonl"
    compiled = compile_ruleset(ROOT / "rulesets/coffee-club.yaml")
    write_events(generate(compiled, SampleOptions(count=2500, members=150, seed=3)), path)
    return path


def test_two_budgets_and_residues_match_the_engine(coffee_events, tmp_path):
    ruleset = _two_budgets(tmp_path)
    result, dry = _observed(ruleset, coffee_events)
    assert result.passes >= 2
    engine, reference, _members = _reference(ruleset, coffee_events, result.end)
    _assert_same(dry, reference)
    report = to_json_report(build_report(result))
    used = {b["rule"]: Decimal(b["used"]) for b in report["budgets"]}
    assert used == engine.store.budgets()


def test_two_budgets_are_the_same_with_workers(coffee_events, tmp_path):
    ruleset = _two_budgets(tmp_path)
    one = to_json_report(build_report(dry_run(Options(ruleset, coffee_events))))
    two = to_json_report(build_report(dry_run(Options(ruleset, coffee_events, workers=3))))
    assert one == two
    assert one["input"]["passes"] >= 2
