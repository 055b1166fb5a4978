"""Model files: skops with trusted types only, a card beside each, and a clear error for a file
that was changed, holds other types, or does not match its features."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from model_helpers import UNTIL, copy_model

from punchcard.engine.policies.features import BOUNDS
from punchcard.plugins.sklearn.io import FORMAT, ModelFileError, card_path, digest, load_model, read_card
from punchcard.plugins.sklearn.train import load_scorer, train


def test_a_model_has_a_card_with_its_window_features_and_metrics(models):
    card = read_card(models["churn"])
    assert card["target"] == "churn" and card["data"]["until"] == UNTIL and card["data"]["horizon_days"] == 60
    assert card["sha256"] == digest(models["churn"]) and card["version"] == card["sha256"][:12]
    assert "recency_days" in card["features"] and "tier" not in card["features"]  # unknown offline
    assert 0.5 < card["metrics"]["training"]["auc"] <= 1


def test_a_changed_file_is_refused(models, tmp_path):
    path = copy_model(models["churn"], tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="was changed after training"):
        load_model(path)


def test_a_file_whose_card_was_rewritten_to_match_is_still_read_safely(models, tmp_path):
    """Even with a card that vouches for it, a damaged archive is an error, not a crash."""
    path = copy_model(models["churn"], tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    card = read_card(path) | {"sha256": digest(path)}
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="cannot be read"):
        load_model(path)


def test_a_file_with_types_a_model_never_holds_is_refused_before_anything_is_built(tmp_path):
    from sklearn.svm import SVC

    path = tmp_path / "odd.skops"
    sio.dump({"format": FORMAT, "target": "churn", "features": ["recency_days"], "estimator": SVC()}, path)
    card_path(path).write_text(json.dumps({"sha256": digest(path), "version": "x", "features": ["recency_days"]}))
    with pytest.raises(ModelFileError, match="holds types a punchcard model never holds"):
        load_model(path)


def test_a_file_reading_unknown_features_does_not_match(models, tmp_path):
    bundle, _ = load_model(models["churn"])
    path = tmp_path / "renamed.skops"
    sio.dump({**bundle, "features": ["days_since_visit", *bundle["features"][1:]]}, path)
    card_path(path).write_text(json.dumps({"sha256": digest(path), "version": "x", "features": bundle["features"]}))
    with pytest.raises(ModelFileError, match="does not match: it reads features punchcard does not define: "
                                             "days_since_visit"):
        load_model(path)


def test_a_model_without_its_card_is_refused(models, tmp_path):
    path = tmp_path / "churn.skops"
    path.write_bytes(models["churn"].read_bytes())
    with pytest.raises(ModelFileError, match="has no card"):
        load_model(path)


def test_training_reads_nothing_after_until(events, tmp_path):
    until = dt.datetime.fromisoformat(UNTIL)
    later = [e for e in events if e.time <= until]
    whole = train(events, "churn", until, dt.timedelta(days=60), tmp_path / "a.skops", "x")
    cut = train(later, "churn", until, dt.timedelta(days=60), tmp_path / "b.skops", "x")
    assert whole["data"] == cut["data"] and whole["metrics"] == cut["metrics"]


row_values = st.fixed_dictionaries({name: st.decimals(low, high, places=2) for name, (low, high) in BOUNDS.items()})


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(row_values, min_size=1, max_size=20))
def test_every_score_is_a_decimal_from_zero_to_one(models, rows):
    for target in ("churn", "engagement", "anomaly", "segments-quantile", "segments-kmeans"):
        scores = load_scorer(target, models[target]).score_many(rows)
        assert len(scores) == len(rows)
        assert all(isinstance(s, Decimal) and 0 <= s <= 1 for s in scores)
