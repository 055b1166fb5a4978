"""Models trained once per session on the bundled sample events, with simulated offer responses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from model_helpers import HORIZONS, MODEL_RULESET, SAMPLES, UNTIL, copy_model

from punchcard.plugins.sklearn.data import read_events
from punchcard.plugins.sklearn.simulate import offer_lines, simulate_offers
from punchcard.plugins.sklearn.train import train


@pytest.fixture(scope="session")
def events_file(tmp_path_factory) -> Path:
    """The bundled purchases with offer_presented and offer_used events added (plugins/sklearn/simulate.py)."""
    path = tmp_path_factory.mktemp("events") / "retail-offers.jsonl"
    events = list(simulate_offers(read_events(SAMPLES)))
    path.write_text("".join(json.dumps(line) + "\n" for line in offer_lines(events)), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def events(events_file):
    return read_events(events_file)


@pytest.fixture(scope="session")
def models(tmp_path_factory, events) -> dict[str, Path]:
    """target -> its trained model file (the card beside it)."""
    folder = tmp_path_factory.mktemp("models")
    until = dt.datetime.fromisoformat(UNTIL)
    out = {}
    for target, days in HORIZONS.items():
        out[target] = folder / f"{target}.skops"
        train(events, target, until, dt.timedelta(days=days), out[target], "retail-offers.jsonl")
    for method in ("quantile", "kmeans"):
        out[f"segments-{method}"] = folder / f"segments-{method}.skops"
        train(events, "segments", until, dt.timedelta(days=30), out[f"segments-{method}"], "retail-offers.jsonl",
              method)
    return out


@pytest.fixture(scope="session")
def model_ruleset(models, tmp_path_factory) -> Path:
    """A ruleset folder naming the churn model, which a rule scores with."""
    folder = tmp_path_factory.mktemp("ruleset")
    copy_model(models["churn"], folder / "models")
    (folder / "ruleset.yaml").write_text(MODEL_RULESET, encoding="utf-8")
    return folder / "ruleset.yaml"


@pytest.fixture(scope="session")
def compiled_model(model_ruleset):
    import punchcard

    return punchcard.compile(model_ruleset)
