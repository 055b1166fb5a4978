"""Offers ranked by a real engagement model: ``rank: score("engagement") * offer.value`` scores each
candidate that reaches the rank with that offer's features, through the scikit-learn plugin, in
one batch; the decision is stamped with the model's version and the trace shows each score with
the model's name and version."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest
from model_helpers import copy_model

import punchcard
from punchcard.engine import evaluate, new_member
from punchcard.engine.policies.offers import offers_for
from punchcard.engine.policies.scoring import MemberScores
from punchcard.engine.runtime.numbers import figure

RULESET = """\
punchcard: 1
ruleset: ranked-offers
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {mode: floor, scope: event, step: 1}
schema:
  member: {birth_date: optional date}
  events:
    purchase: {amount: money, category: string}
models:
  engagement: models/engagement.skops
earning:
  base: {on: purchase, points: event.amount / 100}
compliance:
  forbid:
    - id: no-beauty-offers-to-minors
      when: offer.category == "beauty" and age(member.birth_date) < 18
      action: no_offer
offers:
  choose: {rank: score("engagement") * offer.value, top: 2, max_active: 3}
  templates:
    - {id: food-bonus, type: category_bonus, category: food, value: 20}
    - {id: home-bonus, type: category_bonus, category: home, value: 20}
    - {id: apparel-double, type: double_points, category: apparel}
    - {id: beauty-bonus, type: category_bonus, category: beauty, value: 20}
    - {id: loyal-basket, type: basket_bonus, min_purchase: 5000, value: 50,
       eligible: "count(purchase, within: 30 days) >= 10"}
"""

REACHED = {"food-bonus", "home-bonus", "apparel-double"}  # not the ineligible basket, nor beauty for a minor


class Counting:
    """The plugin's scorer, counting the calls and rows it is asked to score."""

    def __init__(self, scorer) -> None:
        self.scorer, self.calls, self.rows = scorer, 0, 0
        self.name, self.version, self.features = scorer.name, scorer.version, scorer.features

    def score_many(self, rows):
        self.calls, self.rows = self.calls + 1, self.rows + len(rows)
        return self.scorer.score_many(rows)


@pytest.fixture(scope="module")
def ranked(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranked")
    copy_model(models["engagement"], folder / "models")
    (folder / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    compiled = punchcard.compile(folder / "ruleset.yaml")
    card = json.loads((folder / "models" / "engagement.card.json").read_text())
    return compiled, card


def _food_buyer(compiled):
    """A minor who bought food three times: the state before the host asks for offers."""
    state = None
    member = new_member("kid", {"birth_date": dt.date(2012, 5, 1)})
    for i, day in enumerate(("2026-10-01", "2026-10-03", "2026-10-06")):
        _, state = evaluate(compiled, state or member, {"type": "purchase", "id": f"o-{i}", "member": "kid",
                                                        "time": f"{day}T12:00:00", "amount": "1500",
                                                        "category": "food"})
    return state


def _counted(compiled):
    counted = copy.copy(compiled)
    counted.scorers = {"engagement": Counting(compiled.scorers["engagement"])}
    return counted, counted.scorers["engagement"]


def test_the_plugin_loaded_the_trained_model(ranked):
    compiled, card = ranked
    scorer = compiled.scorers["engagement"]
    assert scorer.version == card["version"] and list(scorer.features) == card["features"]
    assert type(scorer).__module__ == "punchcard.plugins.sklearn.train"


def test_only_the_candidates_that_reach_the_rank_are_scored_in_one_batch(ranked):
    compiled, card = ranked
    counted, scorer = _counted(compiled)
    decision, _ = evaluate(counted, _food_buyer(compiled), {"type": "offer_choose", "id": "c-1", "member": "kid",
                                                            "time": "2026-10-07T09:00:00"})
    assert (scorer.calls, scorer.rows) == (1, len(REACHED))
    scores = [s for s in decision.trace if s.phase == "models"]
    assert {s.values["offer"] for s in scores} == REACHED
    for step in scores:
        assert step.rule == "engagement" and step.values["version"] == card["version"]
        offer, score = step.values["offer"], step.values["score"]
        # the note shows the score as every trace note shows a figure (0.728610 as 0.72861)
        assert step.note == f"engagement {card['version']} scored {figure(score)} for offer:{offer}"
    assert decision.models == (("engagement", card["version"]),)
    assert decision.to_dict()["models"] == {"engagement": card["version"]}
    notes = {s.rule: s.note for s in decision.trace if s.phase == "offers"}
    assert notes["offer:loyal-basket"].startswith("eligible: not eligible")
    assert notes["offer:beauty-bonus"].startswith("compliance: compliance rule no-beauty-offers-to-minors forbids")


def test_each_rank_is_the_models_score_for_that_offer_times_its_value(ranked):
    compiled, _ = ranked
    state, at = _food_buyer(compiled), dt.datetime(2026, 10, 7, 9, tzinfo=compiled.tz)
    candidates = {c.template: c for c in offers_for(compiled, state, at)}
    for template in REACHED:
        candidate = candidates[template]
        # one at a time, as score("engagement") would ask without the batch: the same number
        alone = MemberScores(compiled, state, at, offer=candidate.fields)("engagement")
        assert candidate.scores["engagement"] == alone and Decimal(0) < alone < Decimal(1)
        assert candidate.rank == alone * candidate.fields["value"]
    assert {t for t, c in candidates.items() if c.scores} == REACHED


def test_the_model_ranks_the_members_own_category_first(ranked):
    compiled, _ = ranked
    state, at = _food_buyer(compiled), dt.datetime(2026, 10, 7, 9, tzinfo=compiled.tz)
    candidates = offers_for(compiled, state, at)
    assert [c.template for c in candidates if c.kept] == ["food-bonus", "home-bonus"]
    by_id = {c.template: c for c in candidates}
    # trained on members who use offers in the categories they buy: food is likelier than home for them
    assert by_id["food-bonus"].scores["engagement"] > by_id["home-bonus"].scores["engagement"]
    assert by_id["apparel-double"].reason.startswith("outranked")
