"""The checking stage of the ``tiers:`` section: what its models alone cannot see.

With one ``metric:`` each level has a ``min:`` and the levels climb from 0. With named
``metrics:`` a level takes ``requires:`` (all of) and ``paths:`` (any of), whose names must
be declared metrics. ``keep:`` (retention) is below the level's own threshold and needs a
level that lasts past its window (``keep_through: next_window``) to mean anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from .checked import CheckedRuleset
from .checker import did_you_mean
from .errors import Code, Diagnostic
from .model import TierLevel, TierMetric, Tiers
from .vocabulary import BUILTIN_EVENTS, TIER_EVENTS

__all__ = ["tier_diagnostics"]


def tier_diagnostics(state: CheckedRuleset) -> Iterator[Diagnostic]:
    tiers = state.valid_model.tiers
    if tiers is None:
        return
    if tiers.metrics is None:
        yield from _one_metric(state, tiers)
    else:
        yield from _named_metrics(state, tiers, list(tiers.metrics))
    names = [level.name for level in tiers.levels]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield Diagnostic(Code.DUPLICATE_ID, f"tier {name!r} is listed twice",
                             state.source.value(("tiers", "levels", i, "name")).span)
    yield from _retention(state, tiers)
    for path, metric in tiers.metric_paths():
        yield from _metric_types(state, path, metric)
    for name in sorted(set(TIER_EVENTS) & set(state.valid_model.schema_.events)):
        yield Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type in a ruleset with tiers",
                         state.source.key(("schema", "events", name)), hint="rename the declared event type")


def _one_metric(state: CheckedRuleset, tiers: Tiers) -> Iterator[Diagnostic]:
    levels = tiers.levels
    for i, level in enumerate(levels):
        for key in ("requires", "paths"):
            if getattr(level, key) is not None:
                yield Diagnostic(Code.SCHEMA_ERROR, f"{key}: names metrics, but these tiers have one metric:",
                                 state.source.key(("tiers", "levels", i, key)),
                                 hint="give the level a min:, or name the metrics under tiers.metrics: "
                                      "(e.g. metrics: {nights: ..., spend: spend})")
        if level.min is None:
            yield Diagnostic(Code.SCHEMA_ERROR, f"tier {level.name!r} has no min:",
                             state.source.value(("tiers", "levels", i)).span,
                             hint="with tiers.metric every level says where it starts, e.g. min: 1000")
    mins = [level.min for level in levels]
    if any(m is None for m in mins):
        return
    if mins[0] != 0:
        yield Diagnostic(Code.TIER_ORDER, "the first tier must start at 0, so every member has a tier",
                         state.source.value(("tiers", "levels", 0, "min")).span)
    for i in range(1, len(levels)):
        if levels[i].min <= levels[i - 1].min:  # type: ignore[operator]  # none is None (above)
            yield Diagnostic(Code.TIER_ORDER, f"tier {levels[i].name!r} starts at {levels[i].min}, "
                             f"not above {levels[i - 1].name!r} at {levels[i - 1].min}",
                             state.source.value(("tiers", "levels", i, "min")).span,
                             hint="list tiers from lowest to highest with increasing min:")


def _named_metrics(state: CheckedRuleset, tiers: Tiers, declared: list[str]) -> Iterator[Diagnostic]:
    for i, level in enumerate(tiers.levels):
        path = ("tiers", "levels", i)
        if level.min is not None:
            yield Diagnostic(Code.SCHEMA_ERROR, "min: is for one tiers.metric; these tiers name their metrics",
                             state.source.key((*path, "min")),
                             hint=f"write requires: {{{declared[0]}: {level.min}}} (every metric listed, at once), "
                                  "or paths: [...] (any one of them)")
        for where, requirement in _requirements(level):
            for name in requirement:
                if name not in declared:
                    yield Diagnostic(Code.SCHEMA_ERROR, f"{name!r} is not a metric of these tiers",
                                     state.source.key((*path, *where, name)),
                                     hint=did_you_mean(name, declared) or f"metrics are {', '.join(declared)}")
    first = tiers.levels[0]
    if any(v > 0 for _, requirement in _requirements(first) for v in requirement.values()):
        yield Diagnostic(Code.TIER_ORDER, "the first tier must need nothing, so every member has a tier",
                         state.source.value(("tiers", "levels", 0)).span,
                         hint="leave requires: and paths: out of the lowest level")


def _requirements(level: TierLevel) -> Iterator[tuple[tuple[str | int, ...], dict[str, Decimal]]]:
    """Every metric-to-figure map of a level, with where it is written under the level."""
    if level.requires is not None:
        yield ("requires",), level.requires
    for j, path in enumerate(level.paths or ()):
        yield ("paths", j), path
    if isinstance(level.keep, dict):
        yield ("keep",), level.keep


def _retention(state: CheckedRuleset, tiers: Tiers) -> Iterator[Diagnostic]:
    """``keep:`` is checked against the metric form and against how long a level lasts."""
    downgrade = tiers.downgrade
    lasts = tiers.window != "rolling_12_months" and not isinstance(downgrade, str) \
        and downgrade.keep_through == "next_window"
    for i, level in enumerate(tiers.levels):
        if level.keep is None:
            continue
        where = state.source.key(("tiers", "levels", i, "keep"))
        if not lasts:
            yield Diagnostic(Code.SCHEMA_ERROR, f"keep: on {level.name!r} has nothing to keep the level into",
                             where, hint="retention keeps a level for the window after the one that ends: it takes "
                                         "a calendar or anniversary window and downgrade: {keep_through: next_window}")
        elif tiers.metrics is None and not isinstance(level.keep, Decimal):
            yield Diagnostic(Code.SCHEMA_ERROR, "keep: is a number with one tiers.metric", where,
                             hint=f"write keep: followed by the figure that keeps {level.name!r}, below its min:")
        elif tiers.metrics is not None and isinstance(level.keep, Decimal):
            yield Diagnostic(Code.SCHEMA_ERROR, "keep: names metrics when the tiers name theirs", where,
                             hint=f"write keep: {{{next(iter(tiers.metrics))}: ...}}")
        elif isinstance(level.keep, Decimal) and level.min is not None and level.keep > level.min:
            yield Diagnostic(Code.TIER_ORDER, f"keep: {level.keep} is above the min: {level.min} of {level.name!r}",
                             state.source.value(("tiers", "levels", i, "keep")).span,
                             hint="retention asks less than qualifying: keep: is at most min:")


def _metric_types(state: CheckedRuleset, path: tuple[str, ...], metric: TierMetric) -> Iterator[Diagnostic]:
    """Of the built-in types only a refund changes an ``{on, add}`` metric: it re-evaluates the
    refunded order's ``add:`` (engine.builtins), so it needs an order type (a money ``amount``) beside it."""
    if isinstance(metric, str):
        return
    for i, name in enumerate(metric.on):
        if (name in BUILTIN_EVENTS or name in TIER_EVENTS or name == "profile") and name != "refund":
            yield Diagnostic(Code.SCHEMA_ERROR, f"{name} events never count toward a tier metric",
                             state.source.value((*path, "on", i)).span,
                             hint="list your own event types, and refund to let refunds lower the metric")
    if "refund" not in metric.on:
        return
    events = state.valid_model.schema_.events
    if not any((events.get(t) or {}).get("amount", "").endswith("money") for t in metric.on):
        where = ".".join(path)
        yield Diagnostic(Code.SCHEMA_ERROR, f"refund in {where}.on re-evaluates the refunded order's add:, but "
                         "no event type listed there has a money amount to refund",
                         state.source.value((*path, "on", list(metric.on).index("refund"))).span,
                         hint="list the order types too, e.g. on: [purchase, refund]")
