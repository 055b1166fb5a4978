"""A scaled logistic regression is scored as plain arithmetic on its coefficients, not through a
numpy call per row (plugins/sklearn/train.py). That is a second way to work out what
scikit-learn's ``predict_proba`` gives, so this test holds the two together on the shipped
models, over rows of every size the features take."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_helpers import ROOT

from punchcard.plugins.sklearn.train import PLACES, load_scorer

MODELS = ("churn", "engagement")
_SCORERS = {name: load_scorer(name, ROOT / "rulesets" / "models" / f"{name}.skops") for name in MODELS}
feature = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("name", MODELS)
def test_the_shipped_logistic_models_take_the_plain_arithmetic_path(name):
    assert _SCORERS[name].linear is not None


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(MODELS), data=st.data())
def test_plain_arithmetic_agrees_with_predict_proba(name, data):
    scorer = _SCORERS[name]
    rows = [{f: data.draw(feature) for f in scorer.features} for _ in range(data.draw(st.integers(1, 4)))]
    fast = scorer.score_many(rows)
    matrix = [[float(row[f]) for f in scorer.features] for row in rows]
    reference = scorer.estimator.predict_proba(matrix)[:, 1]
    for got, expected in zip(fast, reference, strict=True):
        # equal to the sixth decimal the engine keeps, give or take one step at a rounding edge
        assert abs(got - Decimal(repr(float(expected)))) <= PLACES
