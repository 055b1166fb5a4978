"""RFM segment models: quintile cut points, or k-means clusters named by the same rule.

``--target segments`` fits, on the members' recency, frequency and monetary value at
``--until`` (:func:`punchcard.engine.policies.features.rfm`), either the quintile cut points
(``--method quantile``, the default) or five k-means clusters of the log values (``--method
kmeans``), each cluster named by scoring its centre against the cut points. A ruleset naming
the model ``segments`` reads the member's segment as ``member.segment``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from punchcard.engine.policies.features import SegmentCuts, fit_segments, rfm_scores, segment_name

__all__ = ["SEGMENT_FEATURES", "METHODS", "fit_segment_model", "cuts_of", "segments_of", "rfm_value"]

SEGMENT_FEATURES = ("recency_days", "visits_365d", "spend_365d")
METHODS = ("quantile", "kmeans")
CLUSTERS = 5
PLACES = Decimal("0.000001")


def _values(row: Mapping[str, Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    return row["recency_days"], row["visits_365d"], row["spend_365d"]


def _logs(values: Sequence[tuple[Decimal, Decimal, Decimal]]) -> Any:
    import numpy as np  # heavy: only when a segment model runs

    return np.array([[math.log1p(float(v)) for v in row] for row in values], dtype=float)


def fit_segment_model(rows: Sequence[Mapping[str, Decimal]], method: str) -> dict[str, Any]:
    """The model's contents: the cut points, and for k-means the clusters and their names."""
    values = [_values(row) for row in rows]
    cuts = fit_segments(values)
    parts = (cuts.recency, cuts.frequency, cuts.monetary)
    bundle: dict[str, Any] = {"method": method, "estimator": None, "names": [],
                              "cuts": [[str(c) for c in part] for part in parts]}
    if method == "kmeans":
        from sklearn.cluster import KMeans  # heavy: only when a segment model is trained

        estimator = KMeans(n_clusters=min(CLUSTERS, len(values)), n_init=10, random_state=0).fit(_logs(values))
        centres = [tuple(Decimal(repr(math.expm1(float(v)))) for v in centre) for centre in estimator.cluster_centers_]
        bundle["estimator"] = estimator
        bundle["names"] = [segment_name(rfm_scores((c[0], c[1], c[2]), cuts)) for c in centres]
    return bundle


def cuts_of(bundle: Mapping[str, Any]) -> SegmentCuts:
    recency, frequency, monetary = (tuple(Decimal(c) for c in part) for part in bundle["cuts"])
    return SegmentCuts(recency, frequency, monetary)


def segments_of(bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Decimal]]) -> list[str]:
    values = [_values(row) for row in rows]
    if bundle["estimator"] is None:
        cuts = cuts_of(bundle)
        return [segment_name(rfm_scores(v, cuts)) for v in values]
    names = bundle["names"]
    return [str(names[int(label)]) for label in bundle["estimator"].predict(_logs(values))]


def rfm_value(bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
    """The segment model's score: the RFM scores' sum, from 0 (3) to 1 (15)."""
    cuts = cuts_of(bundle)
    return [(Decimal(sum(rfm_scores(_values(row), cuts)) - 3) / 12).quantize(PLACES) for row in rows]
