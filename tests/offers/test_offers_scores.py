"""Ranking by a model's score: ``score("NAME")`` in choosing scores the member with each offer's
features, only for the candidates that reach the rank, and the decision is stamped with the model."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal

from offers_support import SMALL

import punchcard
from punchcard.engine import evaluate, new_member
from punchcard.engine.policies.offers import PLAN_KEY, plan_of


class FakeEngagement:
    """A scorer that likes bonuses: 0.9 for a bonus offer, 0.1 for anything else."""

    name, version, features = "engagement", "7", ("offer_value", "offer_category_bonus")

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def score_many(self, rows):
        self.rows += rows
        return [Decimal("0.9") if row["offer_category_bonus"] == 1 else Decimal("0.1") for row in rows]


def _scored():
    """The small ruleset ranked by score("engagement") * offer.value, with a scorer handed in."""
    compiled = copy.copy(punchcard.compile(SMALL))
    scorer = FakeEngagement()
    compiled.scorers = {"engagement": scorer}
    compiled.memo = {**compiled.memo, PLAN_KEY: dataclasses.replace(
        plan_of(compiled), rank=lambda ev, m, ctx: ctx.score("engagement") * ctx.offer["value"])}
    return compiled, scorer


def test_choosing_ranks_by_the_score_with_each_offers_features_and_stamps_the_model():
    compiled, scorer = _scored()
    member = new_member("ann", {"birth_date": dt.date(1990, 1, 1)})
    decision, _ = evaluate(compiled, member, {"type": "offer_choose", "id": "c-1", "member": "ann",
                                              "time": "2026-03-02T12:00:00"})
    ranks = {s.rule: s.values.get("rank") for s in decision.trace if s.phase == "offers"}
    assert ranks["offer:wine-bonus"] == Decimal(27)  # 0.9 x 30: the bonus the model likes comes first
    assert ranks["offer:basket"] == Decimal(4) and ranks["offer:tea-double"] == Decimal("0.2")
    assert [e.detail["template"] for e in decision.effects if e.detail.get("status") == "selected"] == [
        "wine-bonus", "basket"]
    assert ("engagement", "7") in decision.models
    # one row per candidate that reached the rank: the not eligible were never scored
    assert len(scorer.rows) == 3 and {row["offer_value"] for row in scorer.rows} == {Decimal(30), Decimal(40),
                                                                                     Decimal(2)}
