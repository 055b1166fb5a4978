"""The models rulesets/retail-offers.yaml names are committed under rulesets/models/, trained by the
commands its header (and docs/models.md) gives. Those commands, run again, give models with the
same features, data and (within a tolerance) the same AUC; the committed files load through the
trusted-types check and match their cards."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from decimal import Decimal

import pytest
from model_helpers import ROOT, SAMPLES
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.engine import evaluate as decide
from punchcard.engine.policies.features import offer_features
from punchcard.plugins.sklearn.data import member_rows, profiles_at, read_events
from punchcard.plugins.sklearn.io import TRUSTED, _types_in, digest, load_model
from punchcard.plugins.sklearn.train import evaluate, load_scorer

RULESET = ROOT / "rulesets" / "retail-offers.yaml"
SHIPPED = ROOT / "rulesets" / "models"
NAMES = ("engagement", "churn")
TOLERANCE = 0.01  # AUC: the fit is deterministic, the tolerance only allows for a newer scikit-learn
RUNNER = CliRunner()


def documented_commands() -> list[list[str]]:
    """The commands the ruleset's header gives, one a line (``#   punchcard ...``)."""
    lines = re.findall(r"^#\s+(punchcard model .*)$", RULESET.read_text(encoding="utf-8"), re.M)
    return [shlex.split(line)[1:] for line in lines]


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """The documented commands run again in an empty folder holding the bundled sample: the
    folder, where they wrote the models."""
    folder = tmp_path_factory.mktemp("retrain")
    (folder / "rulesets" / "samples").mkdir(parents=True)
    (folder / "rulesets" / "samples" / SAMPLES.name).write_bytes(SAMPLES.read_bytes())
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for command in documented_commands():
            result = RUNNER.invoke(app, command)
            assert result.exit_code == 0, (command, result.output)
    return folder


def test_the_header_documents_the_simulation_and_both_trainings():
    commands = documented_commands()
    assert [c[:2] for c in commands] == [["model", "simulate-offers"], ["model", "train"], ["model", "train"]]
    outs = {c[c.index("--out") + 1] for c in commands[1:]}
    assert outs == {f"rulesets/models/{name}.skops" for name in NAMES}
    [block] = re.findall(r"^```sh retrain\n(.*?)^```", (ROOT / "docs" / "models.md").read_text(encoding="utf-8"),
                         re.M | re.S)
    assert [shlex.split(line)[1:] for line in block.splitlines()] == commands  # the doc says the same


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_model_loads_with_only_trusted_types_and_matches_its_card(name):
    path = SHIPPED / f"{name}.skops"
    assert _types_in(path) <= TRUSTED
    bundle, card = load_model(path)
    assert card["sha256"] == digest(path) and card["version"] == digest(path)[:12]
    assert bundle["features"] == card["features"] and bundle["target"] == card["target"] == name
    assert card["data"]["until"] == "2026-09-01T00:00:00+09:00"


@pytest.mark.parametrize("name", NAMES)
def test_retraining_with_the_documented_command_gives_the_same_model(retrained, name):
    committed, again = SHIPPED / f"{name}.skops", retrained / "rulesets" / "models" / f"{name}.skops"
    old, new = (json.loads(p.with_name(f"{name}.card.json").read_text()) for p in (committed, again))
    assert new["features"] == old["features"] and new["target"] == old["target"]
    assert new["data"] == old["data"]  # the same window, rows and positives
    assert new["metrics"]["training"]["auc"] == pytest.approx(old["metrics"]["training"]["auc"], abs=TOLERANCE)
    events = read_events(retrained / "retail-offers.jsonl")
    assert evaluate(again, events)["auc"] == pytest.approx(evaluate(committed, events)["auc"], abs=TOLERANCE)
    # and they score the same members alike
    rows = _some_rows(committed, events)
    for a, b in zip(load_scorer(name, committed).score_many(rows), load_scorer(name, again).score_many(rows),
                    strict=True):
        assert abs(a - b) <= TOLERANCE


def _some_rows(path, events) -> list[dict]:
    """The features of 50 members at the training cut-off (for the engagement model, about a
    food bonus of 20), each row holding exactly what the model reads."""
    at = dt.datetime.fromisoformat("2026-09-01T00:00:00+09:00")
    features = load_model(path)[0]["features"]
    profiles = dict(sorted(profiles_at(events, at).items())[:50])
    rows = member_rows(profiles, at, [f for f in features if not f.startswith("offer_")])
    out = []
    for member, row in zip(rows.members, rows.rows, strict=True):
        full = {**row, **offer_features(profiles[member], "category_bonus", "food", Decimal(20))}
        out.append({f: full[f] for f in features})
    return out


def test_the_ruleset_compiles_with_the_committed_models_and_stamps_their_versions():
    compiled = punchcard.compile(RULESET)
    for name in NAMES:
        card = json.loads((SHIPPED / f"{name}.card.json").read_text())
        assert compiled.scorers[name].version == card["version"]
    assert set(compiled.split.programs) == {"control", "rich-catalogue"}


def test_the_trace_quoted_in_the_docs_is_the_rulesets():
    docs = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    quoted = re.search(r"traces `(engagement \w+ scored [\d.]+ for offer:food-bonus)`", docs)[1]
    control = punchcard.compile(RULESET).split.programs["control"]
    decision, _ = decide(control, None, {"type": "purchase", "id": "o-1", "member": "ann",
                                         "time": "2026-10-01T10:00:00", "amount": "1200",
                                         "category": "food"})
    assert quoted in [step.note for step in decision.trace if step.phase == "models"]
