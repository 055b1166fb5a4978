"""The rule diff (punchcard.dsl.diff): units added, removed and changed, field by field."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.check import check_text, load_checked
from punchcard.dsl.diff import ADDED, CHANGED, REMOVED, diff_rulesets, plain, units
from punchcard.dsl.model import Ruleset
from punchcard.dsl.yamlsrc import load_yaml

ROOT = Path(__file__).resolve().parents[2]
V1 = ROOT / "rulesets/retail-tiers.yaml"
V2 = ROOT / "rulesets/changes/retail-tiers-v2.yaml"
BASE = load_yaml(V2.read_text(), str(V2)).data  # the ruleset reader's YAML: `on:` is a key, not true


def _model(data: dict) -> Ruleset:
    return Ruleset.model_validate(data)


def _by_label(result) -> dict:
    return {(c.section, c.key): c for c in result.changes}


def test_the_bundled_change_reads_rule_by_rule():
    result = diff_rulesets(load_checked(V1), load_checked(V2))
    units_changed = _by_label(result)
    assert units_changed[("earning.rules", "weekend-double")].change == ADDED
    assert units_changed[("earning.rules", "big-basket")].change == ADDED
    assert units_changed[("earning.budgets", "big-basket")].change == ADDED
    assert units_changed[("earning.caps", "big-basket/member/month")].change == ADDED
    gold = units_changed[("tiers.levels", "gold")]
    assert gold.change == CHANGED
    assert [(f.field, f.old, f.new) for f in gold.fields] == [("earn_multiplier", "1.5", "2")]
    streak = units_changed[("streaks", "daily-check-in")]
    assert {f.field: f.new for f in streak.fields} == {"rewards[at 7].at": 7, "rewards[at 7].bonus": "50"}
    top = units_changed[("ruleset", "")]
    assert ("version", "1.0.0", "2.0.0") in [(f.field, f.old, f.new) for f in top.fields]
    assert ("tiers.levels", "silver") not in units_changed  # unchanged units are not listed
    assert result.count(ADDED) == 4 and result.count(REMOVED) == 0


def test_an_added_unit_does_not_repeat_its_key():
    result = _by_label(diff_rulesets(load_checked(V1), load_checked(V2)))
    fields = [f.field for f in result[("earning.rules", "big-basket")].fields]
    assert "id" not in fields and fields[:2] == ["on", "when"]
    assert [f.field for f in result[("earning.budgets", "big-basket")].fields] == ["max_points"]


def test_values_are_compared_by_meaning():
    data = copy.deepcopy(BASE)
    data["point_value"] = "1.00"  # the same number, written otherwise
    data["points"]["pending"] = "14 day"  # the same duration
    assert diff_rulesets(_model(BASE), _model(data)).empty
    assert plain(Decimal("1.50")) == "1.5" and plain(Decimal("1.5E+4")) == "15000"


def test_every_policy_kind_is_compared():
    """Fraud rules, compliance, stacking, expiry and base earning are units too."""
    new = copy.deepcopy(BASE)
    new["fraud"][0]["action"] = "review"
    new["compliance"] = {"forbid": [{"id": "no-minors", "when": "member.device_id == \"x\""}]}
    new["earning"]["stacking"] = {"multipliers": "multiply", "groups": "best"}
    new["points"]["expiry"] = {"after": "12 months", "round_to": "month_end"}
    new["earning"]["base"]["points"] = "event.amount / 50"
    new["achievements"] = [{"id": "first", "on": "purchase", "when": "true", "bonus": 10}]
    found = _by_label(diff_rulesets(_model(BASE), _model(new)))
    assert [(f.field, f.old, f.new) for f in found[("fraud", "velocity")].fields] == [("action", "block", "review")]
    assert found[("compliance.forbid", "no-minors")].change == ADDED
    assert found[("achievements", "first")].change == ADDED
    def fields(key):
        return [(f.field, f.old, f.new) for f in found[key].fields]

    assert ("stacking.multipliers", "add", "multiply") in fields(("earning", ""))
    assert ("expiry.after", "24 months", "12 months") in fields(("points", ""))
    assert found[("earning.base", "on purchase")].fields[0].new == "event.amount / 50"


def test_a_section_the_diff_does_not_know_is_compared_too():
    """The walk is generic: a dict section (let) and removed tiers need no code of their own."""
    new = copy.deepcopy(BASE)
    del new["tiers"]
    new["let"] = {"weekend": "false", "late": "hour(event.time) >= 20"}
    found = _by_label(diff_rulesets(_model(BASE), _model(new)))
    assert found[("tiers.levels", "gold")].change == REMOVED
    assert found[("tiers", "")].change == REMOVED
    lets = {f.field: (f.old, f.new) for f in found[("let", "")].fields}
    assert lets["late"] == (None, "hour(event.time) >= 20") and lets["weekend"][1] == "false"


def test_json_shape():
    result = diff_rulesets(load_checked(V1), load_checked(V2)).to_json()
    assert result["schema"] == "punchcard.rule-diff/1" and result["old"] == "retail-tiers@1.0.0"
    assert result["summary"] == {"added": 4, "removed": 0, "changed": 5}
    first = result["changes"][0]
    assert set(first) == {"change", "section", "key", "fields"} and set(first["fields"][0]) == {"field", "old", "new"}


# -- properties over generated versions ----------------------------------------------------
_RULE_IDS = ["weekend-double", "big-basket", "a", "b-2", "late-night"]


@st.composite
def versions(draw) -> dict:
    """A version of retail-tiers 2.0.0 with rules, levels, streak rewards and scalars varied."""
    data = copy.deepcopy(BASE)
    data["tests"] = []
    rules = []
    for rule_id in draw(st.lists(st.sampled_from(_RULE_IDS), unique=True, max_size=4)):
        kind = draw(st.sampled_from(["bonus", "multiply"]))
        rules.append({"id": rule_id, "on": "purchase", kind: draw(st.integers(1, 5)),
                      "when": draw(st.sampled_from(["true", "event.amount > 100", "weekend"]))})
    data["earning"]["rules"] = rules
    data["earning"]["stacking"]["multipliers"] = draw(st.sampled_from(["add", "multiply"]))
    data["earning"]["caps"] = [{"rule": r["id"], "period": "month", "max_times": 2} for r in rules[:1]]
    data["earning"]["budgets"] = [{"rule": r["id"], "max_points": 1000} for r in rules if "bonus" in r][:1]
    for level in data["tiers"]["levels"][1:]:
        level["earn_multiplier"] = str(draw(st.sampled_from(["1", "1.2", "1.5", "2", "3"])))
    data["tiers"]["levels"] = data["tiers"]["levels"][:draw(st.integers(1, 4))]
    data["streaks"][0]["rewards"] = data["streaks"][0]["rewards"][:draw(st.integers(0, 2))]
    data["point_value"] = draw(st.sampled_from(["1", "0.5", "2"]))
    data["version"] = draw(st.sampled_from(["2.0.0", "2.1.0"]))
    data["fraud"] = data["fraud"][:draw(st.integers(0, 2))]
    return data


@settings(max_examples=60, deadline=None)
@given(versions())
def test_a_ruleset_against_itself_is_empty(data):
    assert diff_rulesets(_model(data), _model(copy.deepcopy(data))).empty


@settings(max_examples=80, deadline=None)
@given(versions(), versions())
def test_the_diff_one_way_is_the_other_way_reversed(a, b):
    forward, backward = diff_rulesets(_model(a), _model(b)), diff_rulesets(_model(b), _model(a))
    keys = {kind: {(c.section, c.key) for c in forward.changes if c.change == kind} for kind in (ADDED, REMOVED)}
    back = {kind: {(c.section, c.key) for c in backward.changes if c.change == kind} for kind in (ADDED, REMOVED)}
    assert keys[ADDED] == back[REMOVED] and keys[REMOVED] == back[ADDED]
    changed = {(c.section, c.key): {(f.field, f.old, f.new) for f in c.fields}
               for c in forward.changes if c.change == CHANGED}
    reverse = {(c.section, c.key): {(f.field, f.new, f.old) for f in c.fields}
               for c in backward.changes if c.change == CHANGED}
    assert changed == reverse


@settings(max_examples=60, deadline=None)
@given(versions(), versions())
def test_the_diff_is_empty_exactly_when_every_unit_is_equal(a, b):
    same = units(_model(a)) == units(_model(b))
    assert diff_rulesets(_model(a), _model(b)).empty == same


def test_a_checked_ruleset_and_its_model_give_the_same_diff():
    text = V2.read_text()
    checked = check_text(text, "v2.yaml")
    assert diff_rulesets(load_checked(V1), checked) == diff_rulesets(load_checked(V1).valid_model, checked.valid_model)


def test_offers_and_variants_are_compared_as_any_section():
    """Sections the diff has no code for (offers' templates, variants' arms) are cut by their ids and names."""
    offers = load_yaml((ROOT / "rulesets/coffee-offers.yaml").read_text(), "offers.yaml").data
    new = copy.deepcopy(offers)
    first, second = new["offers"]["templates"][:2]
    new["offers"]["templates"].remove(first)
    second["description"] = "changed for the test"
    found = _by_label(diff_rulesets(_model(offers), _model(new)))
    assert found[("offers.templates", first["id"])].change == REMOVED
    change = found[("offers.templates", second["id"])]
    assert change.change == CHANGED and [f.field for f in change.fields] == ["description"]
    ab = load_yaml((ROOT / "rulesets/coffee-ab.yaml").read_text(), "ab.yaml").data
    other = copy.deepcopy(ab)
    arm = other["variants"]["arms"][0]
    arm["share"] = "40%"
    other["variants"]["arms"][1]["share"] = "60%"
    found = _by_label(diff_rulesets(_model(ab), _model(other)))
    assert [(f.field, f.new) for f in found[("variants.arms", arm["name"])].fields] == [("share", "40")]
