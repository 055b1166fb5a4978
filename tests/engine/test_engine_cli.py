"""punchcard test, explain and graph, through the real typer app."""

import json
from pathlib import Path

from typer.testing import CliRunner

from punchcard.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
EVENT = json.dumps({"type": "purchase", "id": "p1", "member": "ken", "time": "2026-04-01T12:00:00",
                    "amount": 1500, "category": "food"})


def test_punchcard_test_passes_the_bundled_rulesets():
    result = runner.invoke(app, ["test", str(ROOT / "rulesets")])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


def test_punchcard_test_fails_a_broken_example(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "rulesets/coffee-club.yaml").read_text().replace("points: 300", "points: 299"))
    result = runner.invoke(app, ["test", str(broken)])
    assert result.exit_code == 1
    assert "F" in result.output.splitlines()[0]
    assert "points: expected 299, got 300" in result.output
    assert "coffee-mornings" in result.output  # the failing event's trace is shown


def test_punchcard_test_json_lists_every_case():
    result = runner.invoke(app, ["test", str(ROOT / "rulesets/retail-tiers.yaml"), "--format", "json"])
    cases = json.loads(result.output)
    assert result.exit_code == 0 and len(cases) >= 7 and all(c["passed"] for c in cases)


def test_explain_prints_a_tree_and_json():
    text = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), "--event", EVENT])
    assert text.exit_code == 0 and "tier_change" in text.output and "big-ticket" in text.output
    data = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), "--event", EVENT,
                               "--format", "json"])
    decision = json.loads(data.output)
    assert decision["points"] == "15" and decision["tier"]["current"] == "silver"


def test_explain_replays_history_first(tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text(json.dumps({"type": "purchase", "id": "h1", "time": "2026-03-01T12:00:00",
                                   "amount": 6000, "category": "food"}) + "\n")
    result = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), "--event", EVENT,
                                 "--history", str(history), "--format", "json"])
    assert json.loads(result.output)["points"] == "22"  # 15 at gold: 15 + 7.5, floored


def test_explain_rejects_bad_json_as_a_usage_error():
    result = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), "--event", "{nope"])
    assert result.exit_code == 2


def test_graph_formats():
    mermaid = runner.invoke(app, ["graph", str(ROOT / "rulesets/coffee-club.yaml")])
    assert mermaid.exit_code == 0 and mermaid.output.startswith("flowchart LR")
    dot = runner.invoke(app, ["graph", str(ROOT / "rulesets/coffee-club.yaml"), "--format", "dot"])
    assert "digraph punchcard" in dot.output and '"let:morning" -> "rule:coffee-mornings"' in dot.output
    data = json.loads(runner.invoke(app, ["graph", str(ROOT / "rulesets/coffee-club.yaml"), "--format",
                                          "json"]).output)
    phases = {n["id"]: n["phase"] for n in data["nodes"]}
    assert phases["rule:big-basket"] == "earning" and phases["cap:0"] == "caps"


def test_every_command_has_help():
    for command in ("test", "explain", "graph", "check", "schema"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command


STRICT = ROOT / "rulesets/compliance-strict.yaml"
ALCOHOL = json.dumps({"type": "purchase", "id": "a-1", "member": "mila", "time": "2026-03-02T18:00:00",
                      "amount": 20, "category": "alcohol"})


def _explain_json(ruleset: Path, event: str, *options: str) -> dict:
    result = runner.invoke(app, ["explain", str(ruleset), "--event", event, *options, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_explain_reads_a_date_in_the_profile_through_the_schema():
    minor = _explain_json(STRICT, ALCOHOL, "--member", json.dumps({"id": "mila", "birth_date": "2010-05-01"}))
    assert minor["points"] == "0" and any(s["rule"] == "no-alcohol-to-minors" and s["fired"] for s in minor["trace"])
    adult = _explain_json(STRICT, ALCOHOL, "--member", json.dumps({"id": "mila", "birth_date": "1990-05-01"}))
    assert adult["points"] == "40"


def test_explain_refuses_a_profile_the_schema_refuses():
    result = runner.invoke(app, ["explain", str(STRICT), "--event", ALCOHOL, "--member",
                                 json.dumps({"id": "mila", "birth_date": "the fifth of May"})])
    assert result.exit_code == 2 and "--member" in result.stderr and "birth_date" in result.stderr
    assert "Traceback" not in result.output


def test_explain_starts_the_member_at_the_tier_and_points_given():
    ruleset = ROOT / "rulesets/retail-tiers.yaml"
    plain = _explain_json(ruleset, EVENT, "--member", json.dumps({"id": "ken"}))
    gold = _explain_json(ruleset, EVENT, "--member", json.dumps({"id": "ken", "tier": "gold", "points": 500}))
    assert plain["tier"]["current"] == "silver" and plain["balance"] == "0"
    assert gold["tier"]["current"] == "gold" and gold["points"] == "22"  # 15 at gold: 15 + 7.5, floored
    assert gold["balance"] == "500"  # the opening points; the new ones are pending for 14 days
    as_balance = _explain_json(ruleset, EVENT, "--member", json.dumps({"id": "ken", "balance": 500}))
    assert as_balance["balance"] == "500"  # the spelling of dry-run --members
    unknown = runner.invoke(app, ["explain", str(ruleset), "--event", EVENT, "--member",
                                  json.dumps({"id": "ken", "tier": "platinum"})])
    assert unknown.exit_code == 2 and "platinum" in unknown.stderr


def test_explain_says_a_missing_file_is_missing(tmp_path):
    missing = tmp_path / "missing.json"
    for option in ("--event", "--member"):
        args = ["--event", EVENT] if option == "--member" else []
        result = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), *args,
                                     option, f"@{missing}"])
        message = " ".join(result.stderr.split())
        assert result.exit_code == 2 and "not valid JSON" not in message, message
        assert f"{option}: cannot read {missing}" in message and "No such file" in message


def test_explain_refuses_a_member_that_is_not_the_events_member():
    result = runner.invoke(app, ["explain", str(ROOT / "rulesets/retail-tiers.yaml"), "--event", EVENT,
                                 "--member", json.dumps({"id": "bob"})])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'bob' is not the event's member 'ken'" in " ".join(result.stderr.split())
