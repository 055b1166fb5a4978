"""RFM segments as a model: quintile cut points or k-means clusters, read by rules as member.segment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from model_helpers import copy_model

import punchcard
from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.engine.evaluate import evaluate
from punchcard.engine.policies.features import SEGMENTS
from punchcard.engine.policies.scoring import MemberScores
from punchcard.plugins.sklearn.io import read_card
from punchcard.plugins.sklearn.train import load_scorer

NAMES = {name for name, *_ in SEGMENTS} | {"others"}
RULESET = """\
punchcard: 1
ruleset: segmented
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
models:
  segments: models/segments.skops
earning:
  base: {on: purchase, points: event.amount / 100}
  rules:
    - id: welcome
      on: purchase
      when: member.segment == "new"
      bonus: 100
"""


@pytest.mark.parametrize("method", ["quantile", "kmeans"])
def test_a_segments_model_names_every_member(models, method):
    card = read_card(models[f"segments-{method}"])
    counts = card["metrics"]["training"]["segments"]
    assert set(counts) <= NAMES and sum(counts.values()) == card["data"]["rows"] > 1000
    scorer = load_scorer("segments", models[f"segments-{method}"])
    row = {"recency_days": Decimal(0), "visits_365d": Decimal(400), "spend_365d": Decimal(10**6)}
    assert scorer.segments_of([row]) == ["champions"]
    assert scorer.score_many([row]) == [Decimal(1)]


def test_member_segment_reads_the_segments_model(models, tmp_path):
    copy_model(models["segments-quantile"], tmp_path / "models").rename(tmp_path / "models" / "segments.skops")
    (tmp_path / "models" / "segments-quantile.card.json").rename(tmp_path / "models" / "segments.card.json")
    (tmp_path / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    compiled = punchcard.compile(tmp_path / "ruleset.yaml")
    first = {"type": "purchase", "id": "p1", "member": "m1", "time": "2026-09-01T10:00:00", "amount": "500",
             "category": "food"}
    decision, state = evaluate(compiled, None, first)
    [line] = [step for step in decision.trace if step.phase == "models"]
    assert line.values["segment"] == "new" and "welcome" in decision.fired() and decision.points == 105
    assert decision.models == (("segments", read_card(tmp_path / "models" / "segments.skops")["version"]),)
    later = dt.datetime(2027, 6, 1, 10, tzinfo=compiled.tz)  # nine months on: the segment as the model says
    decision, state = evaluate(compiled, state, {**first, "id": "p2", "time": later.isoformat()})
    expected = compiled.scorers["segments"].segments_of([MemberScores(compiled, state, later).row()])[0]
    [line] = [step for step in decision.trace if step.phase == "models"]
    assert line.values["segment"] == expected and ("welcome" in decision.fired()) == (expected == "new")


def test_member_segment_without_a_segments_model_is_a_check_error():
    checked = check_text(RULESET.replace("models:\n  segments: models/segments.skops\n", ""), "r.yaml")
    [error] = [d for d in checked.errors if d.code == Code.UNKNOWN_NAME]
    assert error.message == "member.segment needs a segments model" and error.span.line == 16


def test_a_model_that_is_not_a_segments_model_cannot_be_read_as_one(models, tmp_path):
    copy_model(models["churn"], tmp_path / "models").rename(tmp_path / "models" / "segments.skops")
    (tmp_path / "models" / "churn.card.json").rename(tmp_path / "models" / "segments.card.json")
    (tmp_path / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    with pytest.raises(PunchcardError, match="model 'segments' is not a segments model"):
        punchcard.compile(tmp_path / "ruleset.yaml")
