"""docs/models.md, "Tier and streak": its commands run as written on the bundled sample, the model
they train reads tier and streak, its ruleset compiles against it and scores a member, without
tiers: it fails with the error the page shows, and the AUCs the page quotes are the ones printed."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from model_helpers import ROOT, SAMPLES
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.dsl.errors import PunchcardError
from punchcard.engine.evaluate import evaluate

DOC = ROOT / "docs" / "models.md"
RUNNER = CliRunner()


def _block(info: str) -> str:
    [block] = re.findall(rf"^```{info}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    return block


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The folder the section's commands ran in (holding the sample and rulesets/retail-tiers.yaml),
    and what each printed."""
    folder = tmp_path_factory.mktemp("ruleset-docs")
    (folder / "rulesets" / "samples").mkdir(parents=True)
    (folder / "rulesets" / "samples" / SAMPLES.name).write_bytes(SAMPLES.read_bytes())
    (folder / "rulesets" / "retail-tiers.yaml").write_bytes((ROOT / "rulesets" / "retail-tiers.yaml").read_bytes())
    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for line in _block("sh ruleset-features").splitlines():
            tokens = shlex.split(line)
            assert tokens[0] == "punchcard" and "--ruleset" in tokens
            result = RUNNER.invoke(app, tokens[1:])
            assert result.exit_code == 0, (line, result.output)
            outputs[tokens[2]] = result.stdout
    return folder, outputs


def test_the_model_reads_tier_and_streak_and_its_card_names_the_ruleset(ran):
    folder, _ = ran
    card = json.loads((folder / "models" / "churn-tiers.card.json").read_text(encoding="utf-8"))
    assert card["features"][-2:] == ["tier", "streak"] and card["ruleset"] == "retail-tiers@1.0.0"
    assert '"ruleset": "retail-tiers@1.0.0"' in DOC.read_text(encoding="utf-8")


def test_the_quoted_aucs_are_the_ones_printed(ran):
    folder, outputs = ran
    with_them = re.search(r"^AUC ([\d.]+) ", outputs["evaluate"], re.M)[1]
    plain = folder / "models" / "plain.skops"
    trained = RUNNER.invoke(app, ["model", "train", "--events", str(folder / "rulesets" / "samples" / SAMPLES.name),
                                  "--target", "churn", "--until", "2026-09-01", "--out", str(plain)])
    assert trained.exit_code == 0, trained.output
    evaluated = RUNNER.invoke(app, ["model", "evaluate", str(plain), "--events", str(SAMPLES)])
    without = re.search(r"^AUC ([\d.]+) ", evaluated.stdout, re.M)[1]
    quoted = re.search(r"holdout AUC ([\d.]+) with them against ([\d.]+) without", " ".join(DOC.read_text().split()))
    assert quoted.groups() == (f"{float(with_them):.3f}", f"{float(without):.3f}")


def test_score_prints_a_line_per_member(ran):
    _, outputs = ran
    lines = [json.loads(line) for line in outputs["score"].splitlines()]
    assert len(lines) > 1000 and all(line["model"] == "churn-tiers" for line in lines)


def test_the_ruleset_compiles_against_the_model_and_scores_a_gold_member(ran):
    folder, _ = ran
    (folder / "tier-care.yaml").write_text(_block("yaml models-tiers"), encoding="utf-8")
    compiled = punchcard.compile(folder / "tier-care.yaml")
    event = {"type": "purchase", "member": "m1", "category": "food"}
    first, state = evaluate(compiled, None, {**event, "id": "p1", "time": "2026-10-01T09:00:00", "amount": "6000"})
    assert first.tier.current == "gold" and "models" not in first.to_dict()  # gold only after this purchase
    second, _ = evaluate(compiled, state, {**event, "id": "p2", "time": "2026-10-02T09:00:00", "amount": "100"})
    card = json.loads((folder / "models" / "churn-tiers.card.json").read_text(encoding="utf-8"))
    assert second.to_dict()["models"] == {"churn": card["version"]}  # a gold member is scored


def test_without_tiers_it_fails_with_the_error_shown(ran):
    folder, _ = ran
    text = _block("yaml models-tiers")
    tiers = text[text.index("tiers:\n"):text.index("streaks:\n")]
    (folder / "no-tiers.yaml").write_text(text.replace(tiers, "").replace('member.tier == "gold" and ', ""),
                                          encoding="utf-8")
    with pytest.raises(PunchcardError) as raised:
        punchcard.compile(folder / "no-tiers.yaml")
    assert [d.message for d in raised.value.diagnostics] == [_block("text compile-error").strip()]
