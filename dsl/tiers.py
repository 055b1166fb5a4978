"""The ``tiers:`` section of a ruleset (docs/tiers.md): one qualifying metric or several named
ones, the levels and what each requires (``min:``; ``requires:`` all of, ``paths:`` any of),
retention (``keep:``), tier-dependent expiry, and how levels are kept and lost. The checks the
models cannot make alone are in :mod:`.tier_checks`; :mod:`.model` re-exports these names.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .duration import DurationField
from .fields import EventTypes, Expr, Id
from .fields import Strict as _Strict

__all__ = ["MetricName", "Requirement", "TierLevel", "Downgrade", "MetricSum", "TierMetric", "Tiers"]


MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# A level's requirement on named metrics (tiers.metrics): every metric listed reaches its figure.
Requirement = Annotated[dict[MetricName, Decimal], Field(min_length=1)]


class TierLevel(_Strict):
    name: Id
    min: Decimal | None = None  # with tiers.metric: the one metric's threshold (dsl/tier_checks.py)
    requires: Requirement | None = None  # with tiers.metrics: all of these at once
    paths: Annotated[list[Requirement], Field(min_length=1)] | None = None  # with tiers.metrics: any one of these
    # retention (level protection): what a member already holding the level needs at window end
    # to keep it, below what qualifying takes: a number with tiers.metric, a requirement with metrics
    keep: Decimal | Requirement | None = None
    earn_multiplier: Decimal = Decimal(1)
    expiry: Literal["never"] | None = None  # points earned while at this level never expire


class Downgrade(_Strict):
    at: Literal["window_end"] = "window_end"
    keep_through: Literal["this_window", "next_window"] = "this_window"
    grace: DurationField | None = None


class MetricSum(_Strict):
    on: EventTypes
    add: Expr


TierMetric = Literal["spend", "points_earned"] | Annotated[str, Field(pattern=r"^count\([a-z_]+\)$")] | MetricSum


class Tiers(_Strict):
    metric: TierMetric | None = None  # one qualifying metric; levels take min:
    metrics: Annotated[dict[MetricName, TierMetric], Field(min_length=1, max_length=8)] | None = None  # named
    window: Literal["calendar_year", "rolling_12_months", "anniversary_year"] = "calendar_year"
    levels: list[TierLevel] = Field(min_length=1)
    upgrade: Literal["immediate"] = "immediate"
    downgrade: Downgrade | Literal["never"] = Downgrade()
    multiplier_applies_to: Literal["base", "earned"] = "base"

    @model_validator(mode="after")
    def _one_metric_form(self):
        if (self.metric is None) == (self.metrics is None):
            raise ValueError("tiers take either metric: (one metric, levels with min:) or metrics: (named "
                             "metrics, levels with requires: or paths:)")
        return self

    def metric_paths(self) -> list[tuple[tuple[str, ...], TierMetric]]:
        """Each qualifying metric with where it is written: ``tiers.metric`` or ``tiers.metrics.NAME``."""
        if self.metrics is not None:
            return [(("tiers", "metrics", name), metric) for name, metric in self.metrics.items()]
        return [(("tiers", "metric"), self.metric)] if self.metric is not None else []
