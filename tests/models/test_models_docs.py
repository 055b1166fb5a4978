"""docs/models.md runs as written: its commands train, evaluate and score on the bundled sample,
its ruleset compiles against the model they trained, and the figures it quotes are the ones
the commands print."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from model_helpers import ROOT, SAMPLES
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.engine.evaluate import evaluate

DOC = ROOT / "docs" / "models.md"
RUNNER = CliRunner()


def _blocks(info: str) -> list[str]:
    return re.findall(rf"^```{info}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The folder the doc's commands ran in, and what each printed."""
    folder = tmp_path_factory.mktemp("docs")
    (folder / "rulesets" / "samples").mkdir(parents=True)
    (folder / "rulesets" / "samples" / SAMPLES.name).write_bytes(SAMPLES.read_bytes())
    outputs = []
    [commands] = _blocks("sh")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for line in commands.splitlines():
            tokens = shlex.split(line)
            assert tokens[0] == "punchcard"
            result = RUNNER.invoke(app, tokens[1:])
            assert result.exit_code == 0, (line, result.output)
            outputs.append((tokens[1:3], result.stdout))
    return folder, outputs


def test_the_commands_write_models_with_their_cards(ran):
    folder, _ = ran
    for name in ("churn", "engagement"):
        card = json.loads((folder / "models" / f"{name}.card.json").read_text())
        assert card["target"] == name and (folder / "models" / f"{name}.skops").is_file()


def test_the_engagement_model_beats_popularity_by_the_figures_quoted(ran):
    _, outputs = ran
    [evaluation] = [out for command, out in outputs if command == ["model", "evaluate"]]
    model, baseline = re.search(r"AUC ([\d.]+)\s+baseline \(offer popularity\) ([\d.]+)", evaluation).groups()
    assert float(model) > float(baseline)
    quoted = re.search(r"holdout AUC is ([\d.]+)\s+against\s+the\s+popularity\s+baseline's\s+([\d.]+)\.",
                       DOC.read_text())
    assert quoted.groups() == (f"{float(model):.3f}", f"{float(baseline):.3f}")


def test_score_prints_one_line_per_member_as_shown(ran):
    _, outputs = ran
    [printed] = [out for command, out in outputs if command == ["model", "score"]]
    lines = [json.loads(line) for line in printed.splitlines()]
    [example] = [json.loads(block) for block in _blocks("json")]
    assert len(lines) > 1000 and len({line["member"] for line in lines}) == len(lines)
    assert all(set(line) == set(example) and 0 <= float(line["score"]) <= 1 for line in lines)


def test_the_ruleset_compiles_against_the_trained_model_and_stamps_it(ran):
    folder, _ = ran
    [ruleset] = _blocks("yaml models")
    (folder / "ruleset.yaml").write_text(ruleset, encoding="utf-8")
    compiled = punchcard.compile(folder / "ruleset.yaml")
    decision, _ = evaluate(compiled, None, {"type": "purchase", "id": "p1", "member": "m1",
                                            "time": "2026-10-01T09:00:00", "amount": "800", "category": "food"})
    card = json.loads((folder / "models" / "churn.card.json").read_text())
    assert decision.to_dict()["models"] == {"churn": card["version"]}


def test_the_segments_ruleset_welcomes_a_new_member(ran):
    folder, _ = ran
    [ruleset] = _blocks("yaml models-segments")
    (folder / "segments.yaml").write_text(ruleset, encoding="utf-8")
    compiled = punchcard.compile(folder / "segments.yaml")
    decision, _ = evaluate(compiled, None, {"type": "purchase", "id": "p1", "member": "m1",
                                            "time": "2026-10-01T09:00:00", "amount": "800", "category": "food"})
    assert decision.fired() == ["base", "welcome"] and decision.points == 108


def test_the_model_commands_say_what_is_wrong_with_exit_codes(ran, tmp_path):
    folder, _ = ran
    events = str(folder / "events.jsonl")
    missing = RUNNER.invoke(app, ["model", "train", "--events", str(tmp_path / "none.jsonl"), "--target", "churn",
                                  "--until", "2026-09-01", "--out", str(tmp_path / "m.skops")])
    assert missing.exit_code == 2 and "not found" in missing.output
    too_early = RUNNER.invoke(app, ["model", "train", "--events", events, "--target", "engagement",
                                    "--until", "2026-01-02", "--out", str(tmp_path / "m.skops")])
    assert too_early.exit_code == 1 and "examples" in too_early.output
    changed = tmp_path / "churn.skops"
    changed.write_bytes((folder / "models" / "churn.skops").read_bytes() + b"\0")
    (tmp_path / "churn.card.json").write_bytes((folder / "models" / "churn.card.json").read_bytes())
    tampered = RUNNER.invoke(app, ["model", "score", str(changed), "--events", events, "--at", "2026-10-01"])
    assert tampered.exit_code == 2 and "was changed after training" in tampered.output
    no_offer = RUNNER.invoke(app, ["model", "score", str(folder / "models" / "engagement.skops"), "--events", events,
                                   "--at", "2026-10-01"])
    assert no_offer.exit_code == 1 and "--offer" in no_offer.output


def test_evaluate_as_json_reports_auc_calibration_and_lift(ran):
    folder, _ = ran
    result = RUNNER.invoke(app, ["model", "evaluate", str(folder / "models" / "churn.skops"), "--events",
                                 str(folder / "events.jsonl"), "--format", "json"])
    report = json.loads(result.stdout)
    assert report["baseline"]["name"] == "recency alone" and report["lift"] == round(
        report["auc"] - report["baseline"]["auc"], 4)
    assert sum(row["rows"] for row in report["calibration"]) == report["rows"]
