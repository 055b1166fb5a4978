"""Training, evaluating and scoring churn, engagement and anomaly models (docs/models.md).

Every row comes from :mod:`.data`, which folds events through the engine's own profile code.
Probabilities are floats inside scikit-learn and Decimals (six places, within 0 and 1) as soon
as they leave it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from punchcard.engine.policies.features import MEMBER_FEATURES, OFFER_FEATURES, offer_features, population_segments
from punchcard.engine.runtime.events import Event

from .data import (
    UNKNOWN_OFFLINE,
    Rows,
    RulesetHistory,
    churn_rows,
    engagement_rows,
    held_rows,
    member_rows,
    offer_popularity,
    profiles_at,
)
from .io import ModelFileError, load_model, save_model
from .segments import METHODS, SEGMENT_FEATURES, fit_segment_model, rfm_value, segments_of

__all__ = ["TARGETS", "TrainingError", "SkopsScorer", "SegmentScorer", "train", "evaluate", "score_members",
           "load_scorer"]

TARGETS = ("churn", "engagement", "anomaly", "segments")
PLACES = Decimal("0.000001")
MEMBER_NAMES = tuple(name for name in MEMBER_FEATURES if name not in UNKNOWN_OFFLINE)
_NAMES = {"churn": MEMBER_NAMES, "anomaly": MEMBER_NAMES, "engagement": (*MEMBER_NAMES, *OFFER_FEATURES),
          "segments": SEGMENT_FEATURES}
# with a ruleset, the engine's state gives the member's tier and streak too
_RULESET_NAMES = {"churn": MEMBER_FEATURES, "anomaly": MEMBER_FEATURES,
                  "engagement": (*MEMBER_FEATURES, *OFFER_FEATURES), "segments": SEGMENT_FEATURES}


class TrainingError(ValueError):
    """The data cannot train or evaluate this model; says what is missing."""


def _decimal(value: float) -> Decimal:
    return min(max(Decimal(repr(float(value))).quantize(PLACES), Decimal(0)), Decimal(1))


@dataclass
class SkopsScorer:
    """A loaded model, as the engine and the commands score with it."""

    name: str
    version: str
    features: tuple[str, ...]
    target: str
    estimator: Any
    bundle: Mapping[str, Any] | None = None  # a segments model: its cut points and clusters
    # a scaled logistic regression as plain floats: one row costs microseconds, not a numpy call
    linear: tuple[list[float], list[float], list[float], float] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.linear = _linear(self.estimator)

    @property
    def batches(self) -> bool:
        """Does scoring rows together pay? A scikit-learn call costs about the same for one row as
        for hundreds, so yes; a linear model scored as plain floats, or a segments model's cut
        points, cost the same per row either way (the dry-run scores those where it stands)."""
        return self.linear is None and self.bundle is None

    def score_many(self, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
        """Scores the rows in one call (the dry-run and the commands batch them)."""
        if not rows:
            return []
        if self.bundle is not None:
            return rfm_value(self.bundle, rows)
        if self.linear is not None:
            return [_decimal(_logistic(self.linear, [float(row[name]) for name in self.features])) for row in rows]
        raw = self._raw(_matrix(rows, self.features))
        return [_decimal(value) for value in raw]

    def _raw(self, matrix: Any) -> Any:
        if self.target == "anomaly":  # score_samples: the opposite of the anomaly score, which lies in (0, 1]
            return -self.estimator.score_samples(matrix)
        return self.estimator.predict_proba(matrix)[:, 1]


@dataclass
class SegmentScorer(SkopsScorer):
    """A segments model: its score is the RFM value; ``segments_of`` gives ``member.segment``."""

    def segments_of(self, rows: Sequence[Mapping[str, Decimal]]) -> list[str]:
        assert self.bundle is not None  # a segments model is loaded with its cut points
        return segments_of(self.bundle, rows)


def _linear(estimator: Any) -> tuple[list[float], list[float], list[float], float] | None:
    """(means, scales, weights, intercept) of a standard-scaled binary logistic regression, else None."""
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2 or type(steps[1][1]).__name__ != "LogisticRegression":  # noqa: PLR2004
        return None
    scaler, model = steps[0][1], steps[1][1]
    if type(scaler).__name__ != "StandardScaler" or len(model.classes_) != 2:  # noqa: PLR2004 - binary
        return None
    means = [float(v) for v in scaler.mean_] if scaler.with_mean else [0.0] * len(model.coef_[0])
    scales = [float(v) for v in scaler.scale_] if scaler.with_std else [1.0] * len(model.coef_[0])
    return means, scales, [float(v) for v in model.coef_[0]], float(model.intercept_[0])


def _logistic(linear: tuple[list[float], list[float], list[float], float], values: list[float]) -> float:
    """The probability of the positive class, as predict_proba works it out."""
    means, scales, weights, intercept = linear
    z = intercept + math.fsum(w * (x - m) / s for w, x, m, s in zip(weights, values, means, scales, strict=True))
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _matrix(rows: Sequence[Mapping[str, Decimal]], names: Sequence[str]) -> Any:
    import numpy as np  # heavy: only when a model runs

    return np.array([[float(row[name]) for name in names] for row in rows], dtype=float)


def load_scorer(name: str, path: Path) -> SkopsScorer:
    bundle, card = load_model(path)
    if bundle["target"] == "segments":
        return SegmentScorer(name, str(card["version"]), tuple(bundle["features"]), "segments", bundle["estimator"],
                             bundle)
    return SkopsScorer(name, str(card["version"]), tuple(bundle["features"]), str(bundle["target"]),
                       bundle["estimator"])


# -- training ----------------------------------------------------------------------------
def _names(target: str, history: RulesetHistory | None) -> tuple[str, ...]:
    return (_NAMES if history is None else _RULESET_NAMES)[target]


def _rows(events: list[Event], target: str, until: dt.datetime, horizon: dt.timedelta,
          history: RulesetHistory | None = None) -> Rows:
    """Training rows that read nothing after ``until``: labels need the horizon, so the
    features stop a horizon earlier. With ``history``, members as the engine holds them."""
    names = _names(target, history)
    if target == "churn":
        return churn_rows(events, until - horizon, horizon, names, history)
    if target == "engagement":
        return engagement_rows(events, None, until - horizon, horizon, names, history)
    if history is not None:
        held = {m: h for m, h in history.at(until).items() if sum(h.profile.hours) > 0}
        return held_rows(held, until, names)
    profiles = {m: p for m, p in profiles_at(events, until).items() if sum(p.hours) > 0}
    return member_rows(profiles, until, names)  # anomaly and segments: one row per member


def _estimator(target: str) -> Any:
    from sklearn.ensemble import IsolationForest  # heavy: only when a model is trained
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if target == "anomaly":
        return IsolationForest(n_estimators=100, random_state=0)
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])


def train(events: list[Event], target: str, until: dt.datetime, horizon: dt.timedelta, out: Path,
          source: str, method: str = "quantile", history: RulesetHistory | None = None) -> dict[str, Any]:
    """Fit the model on history up to ``until``, save it and its card; returns the card.
    ``method`` is for segments: quintile cut points, or k-means clusters. ``history``: the
    events folded through the engine with a ruleset, whose tier and streak become features too
    (the card names the ruleset)."""
    if target not in TARGETS:
        raise TrainingError(f"unknown target {target!r}: one of {', '.join(TARGETS)}")
    rows = _rows(events, target, until, horizon, history)
    names = _names(target, history)
    if not rows.rows:
        raise TrainingError(f"the events up to {until.isoformat()} give no {target} examples")
    if target in ("churn", "engagement") and len(set(rows.labels)) < 2:  # noqa: PLR2004 - both classes
        raise TrainingError(f"the events up to {until.isoformat()} give {len(rows.labels)} {target} examples "
                            "of one class only; a model needs both (more history, or another --until)")
    bundle, metrics = _fit(target, rows, names, method)
    card = {"name": out.stem, "target": target, "estimator": type(bundle["estimator"]).__name__,
            "data": {"events": source, "from": events[0].time.isoformat() if events else None,
                     "until": until.isoformat(), "horizon_days": horizon.days, "rows": len(rows.rows),
                     "positives": sum(rows.labels)},
            "features": list(names), "metrics": {"training": metrics}}
    if history is not None:
        card["ruleset"] = history.label
    return save_model(out, {"target": target, "features": list(names), **bundle}, card)


def _fit(target: str, rows: Rows, names: Sequence[str], method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the model file holds beside its target and features, the training metrics)."""
    if target == "segments":
        if method not in METHODS:
            raise TrainingError(f"unknown segments method {method!r}: one of {', '.join(METHODS)}")
        bundle = fit_segment_model(rows.rows, method)
        found = segments_of(bundle, rows.rows)
        return bundle, {"segments": {name: found.count(name) for name in sorted(set(found))}}
    estimator = _estimator(target).fit(_matrix(rows.rows, names), rows.labels if target != "anomaly" else None)
    scorer = SkopsScorer("", "", tuple(names), target, estimator)
    metrics = _metrics(rows.labels, scorer.score_many(rows.rows)) if target != "anomaly" else {}
    return {"estimator": estimator}, metrics


# -- evaluating --------------------------------------------------------------------------
def _auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score  # heavy: only when a model is evaluated

    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None  # noqa: PLR2004


def _calibration(labels: Sequence[int], scores: Sequence[float], bins: int = 5) -> list[dict[str, Any]]:
    """Predicted against observed rates, in equal-count bins of the score."""
    ordered = sorted(zip(scores, labels, strict=True))
    out = []
    for i in range(bins):
        part = ordered[len(ordered) * i // bins:len(ordered) * (i + 1) // bins]
        if part:
            out.append({"predicted": round(sum(s for s, _ in part) / len(part), 4),
                        "observed": round(sum(y for _, y in part) / len(part), 4), "rows": len(part)})
    return out


def _metrics(labels: Sequence[int], scores: Sequence[Decimal]) -> dict[str, Any]:
    values = [float(s) for s in scores]
    auc = _auc(labels, values)
    brier = sum((p - y) ** 2 for p, y in zip(values, labels, strict=True)) / len(values) if values else None
    return {"auc": None if auc is None else round(auc, 4), "brier": None if brier is None else round(brier, 4),
            "rows": len(values), "positives": sum(labels), "calibration": _calibration(labels, values)}


def _needs_history(scorer: SkopsScorer, card: Mapping[str, Any], history: RulesetHistory | None) -> None:
    """A model that reads the member's tier or streak reads them from the engine, with a ruleset."""
    if history is None and set(scorer.features) & UNKNOWN_OFFLINE:  # a usage problem, as a mismatched file is
        raise ModelFileError(f"model {card.get('name', scorer.name)} reads the member's tier and streak (trained with "
                            f"ruleset {card.get('ruleset', '?')}): give --ruleset to fold the events through it")


def evaluate(path: Path, events: list[Event], history: RulesetHistory | None = None) -> dict[str, Any]:
    """The model on the time after its training window: AUC, calibration, lift over the baseline."""
    scorer, card = load_scorer(path.stem, path), load_model(path)[1]
    _needs_history(scorer, card, history)
    until = dt.datetime.fromisoformat(card["data"]["until"])
    horizon = dt.timedelta(days=int(card["data"]["horizon_days"]))
    if scorer.target in ("anomaly", "segments"):
        raise TrainingError(f"a{'n' if scorer.target == 'anomaly' else ''} {scorer.target} model has no labels to "
                            "evaluate against; score it instead")
    end = events[-1].time if events else until
    if end < until + horizon:
        raise TrainingError(f"the events end at {end.isoformat()}, before the holdout's horizon ends "
                            f"({(until + horizon).isoformat()}): give events past the training window")
    if scorer.target == "churn":
        rows = churn_rows(events, until, horizon, scorer.features, history)
        baseline = [float(row["recency_days"]) for row in rows.rows]  # recency alone
        name = "recency alone"
    else:
        rows = engagement_rows(events, until, end - horizon, horizon, scorer.features, history)
        popular, overall = offer_popularity(engagement_rows(events, None, until - horizon, horizon, scorer.features))
        baseline = [popular.get(key, overall) for key in rows.keys]
        name = "offer popularity"
    return _report(card, scorer, rows, baseline, name)


def _report(card: Mapping[str, Any], scorer: SkopsScorer, rows: Rows, baseline: list[float],
            name: str) -> dict[str, Any]:
    if len(set(rows.labels)) < 2:  # noqa: PLR2004 - both classes
        raise TrainingError(f"the holdout has {len(rows.labels)} examples of one class only; cannot evaluate")
    metrics = _metrics(rows.labels, scorer.score_many(rows.rows))
    base_auc = _auc(rows.labels, baseline)
    lift = None if metrics["auc"] is None or base_auc is None else round(metrics["auc"] - base_auc, 4)
    return {"model": card["name"], "version": card["version"], "target": scorer.target,
            "holdout": {"from": card["data"]["until"], "horizon_days": card["data"]["horizon_days"]},
            **metrics, "baseline": {"name": name, "auc": None if base_auc is None else round(base_auc, 4)},
            "lift": lift}


# -- scoring -----------------------------------------------------------------------------
def score_members(path: Path, events: list[Event], at: dt.datetime,
                  offer: tuple[str, str | None, Decimal] | None = None,
                  history: RulesetHistory | None = None) -> list[dict[str, Any]]:
    """One line per member with a visit by ``at``: the score, the model's version, the segment.
    With ``history``, each member as the engine holds them at ``at`` (tier and streak too)."""
    scorer = load_scorer(path.stem, path)
    _needs_history(scorer, load_model(path)[1], history)
    if history is not None:
        held = {m: h for m, h in history.at(at).items() if sum(h.profile.hours) > 0}
        profiles = {m: h.profile for m, h in held.items()}
        rows = held_rows(held, at, MEMBER_FEATURES)
    else:
        profiles = {m: p for m, p in profiles_at(events, at).items() if sum(p.hours) > 0}
        rows = member_rows(profiles, at, MEMBER_NAMES)
    if scorer.target == "engagement":
        if offer is None:
            raise TrainingError("an engagement model scores an offer: give --offer TYPE:CATEGORY:VALUE")
        rows.rows = [{**row, **offer_features(profiles[m], *offer)} for m, row in zip(rows.members, rows.rows,
                                                                                     strict=True)]
    scores = scorer.score_many(rows.rows)
    segments = dict(zip(rows.members, scorer.segments_of(rows.rows), strict=True)) \
        if isinstance(scorer, SegmentScorer) else population_segments(profiles, at)
    return [{"member": m, "score": s, "model": path.stem, "version": scorer.version, "segment": segments[m]}
            for m, s in zip(rows.members, scores, strict=True)]
