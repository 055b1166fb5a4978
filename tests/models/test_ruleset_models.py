"""A ruleset's models: section and score("NAME"): checked where written, loaded at compile,
scored once per decision with the features training used, and stamped on the decision."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from model_helpers import MODEL_RULESET, copy_model
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.engine import Engine
from punchcard.engine.evaluate import evaluate
from punchcard.engine.policies.scoring import MemberScores
from punchcard.plugins.sklearn.data import member_rows, profiles_at
from punchcard.plugins.sklearn.train import load_scorer

RUNNER = CliRunner()


def _check(tmp_path, text: str):
    path = tmp_path / "ruleset.yaml"
    path.write_text(text, encoding="utf-8")
    return RUNNER.invoke(app, ["check", str(path), "--format", "json"]), path


def test_an_unknown_model_is_a_check_error_at_its_name(model_ruleset, tmp_path):
    copy_model(model_ruleset.parent / "models" / "churn.skops", tmp_path / "models")
    result, path = _check(tmp_path, MODEL_RULESET.replace('score("churn")', 'score("chrun")'))
    assert result.exit_code == 1
    [diagnostic] = json.loads(result.stdout)
    assert diagnostic["code"] == "unknown_name" and "unknown model 'chrun'" in diagnostic["message"]
    line = MODEL_RULESET.splitlines().index('      when: score("churn") > 0.5') + 1
    assert (diagnostic["file"], diagnostic["line"], diagnostic["column"]) == (str(path), line, 19)
    assert diagnostic["hint"] == "did you mean `churn`?"


def test_score_needs_a_declared_model_and_a_quoted_name():
    text = MODEL_RULESET.replace("models:\n  churn: models/churn.skops\n", "")
    checked = check_text(text.replace('score("churn")', 'score("churn") + score(event.category)'), "r.yaml")
    found = [(d.code, d.message, d.hint) for d in checked.errors]
    assert (Code.UNKNOWN_NAME, "unknown model 'churn'", "declare it under models: (churn: models/churn.skops)") \
        in found
    assert any(code == Code.ARITY_ERROR and "in quotes" in message for code, message, _ in found)


def test_a_missing_model_file_is_a_check_error_at_its_entry(tmp_path):
    result, _ = _check(tmp_path, MODEL_RULESET)
    assert result.exit_code == 1 and "model 'churn': the file 'models/churn.skops' was not found" in result.stdout
    result, _ = _check(tmp_path, MODEL_RULESET.replace("models/churn.skops", "../churn.skops"))
    assert "must stay inside the ruleset's folder" in result.stdout


def test_a_link_out_of_the_folder_or_a_folder_is_not_a_model_file(tmp_path):
    outside = tmp_path / "elsewhere" / "churn.skops"
    outside.parent.mkdir()
    outside.write_bytes(b"not a model")
    inside = tmp_path / "rules"
    (inside / "models").mkdir(parents=True)
    (inside / "models" / "churn.skops").symlink_to(outside)
    result, _ = _check(inside, MODEL_RULESET)
    assert result.exit_code == 1 and "must stay inside the ruleset's folder" in result.stdout
    result, _ = _check(inside, MODEL_RULESET.replace("models/churn.skops", "models"))
    assert result.exit_code == 1 and "'models' is a folder, not a model file" in result.stdout


def test_a_changed_model_file_fails_the_compile(model_ruleset, tmp_path):
    copy_model(model_ruleset.parent / "models" / "churn.skops", tmp_path / "models")
    (tmp_path / "ruleset.yaml").write_text(MODEL_RULESET, encoding="utf-8")
    with (tmp_path / "models" / "churn.skops").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(PunchcardError) as caught:
        punchcard.compile(tmp_path / "ruleset.yaml")
    [diagnostic] = caught.value.diagnostics
    assert "churn.skops was changed after training" in diagnostic.message and diagnostic.span.line == 12


def test_without_plugins_a_ruleset_with_models_does_not_compile(model_ruleset):
    from punchcard.engine.compiler.stages import compile_ruleset

    with pytest.raises(PunchcardError, match="no scorer plugins were handed in"):
        compile_ruleset(model_ruleset)


PURCHASE = {"type": "purchase", "id": "p1", "member": "m1", "time": "2026-03-02T08:00:00", "amount": "1200",
            "category": "food"}


def test_a_decision_traces_each_score_and_is_stamped_with_the_models_it_used(compiled_model):
    decision, state = evaluate(compiled_model, None, PURCHASE)
    version = compiled_model.scorers["churn"].version
    [line] = [step for step in decision.trace if step.phase == "models"]
    assert (line.rule, line.values["version"]) == ("churn", version)
    assert Decimal(0) <= line.values["score"] <= Decimal(1)
    assert decision.models == (("churn", version),) and decision.to_dict()["models"] == {"churn": version}
    fired = "win-back" in decision.fired()
    assert fired == (line.values["score"] > Decimal("0.5"))
    assert state.activity is not None and state.activity.purchases == 1


def test_the_engine_scores_the_row_training_reads(compiled_model, events):
    """Same member, same events: the engine's features and score are those of training and model score."""
    at = dt.datetime.fromisoformat("2026-06-30T23:00:00+09:00")
    member = "m000020"
    mine = [e for e in events if e.member == member and e.type == "purchase" and e.time <= at]
    state = None
    for event in mine:
        raw = {"type": "purchase", "id": event.id, "member": member, "time": event.time.isoformat(),
               "amount": str(event.fields["amount"]), "category": event.fields["category"]}
        _, state = evaluate(compiled_model, state, raw)
    scorer = compiled_model.scorers["churn"]
    engine_row = MemberScores(compiled_model, state, at).row()
    offline = member_rows(profiles_at([e for e in events if e.member == member and e.type == "purchase"], at), at,
                          scorer.features)
    assert {name: engine_row[name] for name in scorer.features} == offline.rows[0]
    assert MemberScores(compiled_model, state, at)("churn") == load_scorer("churn", _path(compiled_model)) \
        .score_many(offline.rows)[0]


def _path(compiled):
    return Path(compiled.checked.raw.path).parent / "models" / "churn.skops"


def test_the_stores_keep_the_profile_and_the_stamp(compiled_model, store_factory):
    store = store_factory()
    engine = Engine(compiled_model, store=store)
    first = engine.process(PURCHASE)
    engine.process({**PURCHASE, "id": "p2", "time": "2026-03-03T09:00:00"})
    state = store.member("m1")
    assert state.activity is not None and state.activity.purchases == 2 and sum(state.activity.hours) == 2
    stored = {d.event_id: d for d in store.decisions("m1")}
    assert stored["p1"].to_dict() == first.to_dict() and stored["p1"].models == first.models


def test_a_refused_event_leaves_the_profile_as_it_was(compiled_model):
    _, state = evaluate(compiled_model, None, PURCHASE)
    before = state.activity
    decision, after = evaluate(compiled_model, state, {**PURCHASE, "id": "p2", "amount": "-5"}, owned=True)
    assert decision.outcome == "rejected" and after.activity is before
