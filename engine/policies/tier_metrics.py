"""Named tier metrics (``tiers.metrics:``): several qualifying metrics at once, and the levels
they reach (docs/tiers.md).

Each named metric accumulates per window like the single ``tiers.metric`` does, in the
member's ``tier_metrics`` ((metric, window) -> value). A level is reached when every metric of
its ``requires:`` reaches its figure and, when it has ``paths:``, every metric of one of them
(Marriott Ambassador: 100 nights *and* $20,000; Titanium: 75 nights, or 50 nights and ...).
Retention (``keep:``) is decided here too: what keeps a level held at a window's end.

This module knows nothing of windows' deadlines: :mod:`.tier_windows` asks it for the level
a window's metrics reach, :mod:`.tiers` for what an event or a refund adds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from punchcard.dsl.model import MetricSum, TierLevel, TierMetric

from ..program import Compiled, ExprFn, Plan, TierPlan
from ..runtime.decision import Step
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Run
from ..runtime.state import FORGET, ZERO, MemberState, OrderRecord

__all__ = ["named", "values", "qualifies", "level_reached", "keeps", "event_amounts", "add_named", "lowered_by",
           "lower_named", "window_keys", "forget_windows", "shortfalls", "progress", "progress_note",
           "MetricView"]

# What the rules saw of an order at a given amount: (event values, member values, context).
MetricView = Callable[[Decimal], tuple[dict[str, Any], dict[str, Any], Any]]
ROLLING_MONTHS = 12  # a rolling window's metric is its own month and the eleven before it


def named(plan: TierPlan) -> bool:
    """Whether the tiers name their metrics (``tiers.metrics:``) rather than have one."""
    return plan.model.metrics is not None


def _metrics(plan: TierPlan) -> Mapping[str, TierMetric]:
    return plan.model.metrics or {}


def values(plan: TierPlan, state: MemberState, key: int) -> dict[str, Decimal]:
    """Every named metric of window ``key`` (a rolling window sums its twelve months)."""
    keys = range(key - ROLLING_MONTHS + 1, key + 1) if plan.rolling else (key,)
    found = state.tier_metrics
    return {name: sum((found.get((name, k), ZERO) for k in keys), ZERO) for name in _metrics(plan)}


def _meets(requirement: Mapping[str, Decimal] | None, have: Mapping[str, Decimal]) -> bool:
    return requirement is None or all(have.get(name, ZERO) >= figure for name, figure in requirement.items())


def qualifies(level: TierLevel, have: Mapping[str, Decimal]) -> bool:
    """All of ``requires:`` and, when there are ``paths:``, all of one of them."""
    return _meets(level.requires, have) and (not level.paths or any(_meets(p, have) for p in level.paths))


def level_reached(plan: TierPlan, have: Mapping[str, Decimal]) -> int:
    """The highest level whose requirements ``have`` meets (the lowest needs nothing)."""
    best = 0
    for i, level in enumerate(plan.levels):
        if qualifies(level, have):
            best = i
    return best


def keeps(level: TierLevel, have: Mapping[str, Decimal], metric: Decimal) -> bool:
    """Whether a member holding ``level`` keeps it at window end on its retention threshold:
    ``keep:`` as a number reads the one metric, as a map the named ones."""
    keep = level.keep
    if keep is None:
        return False
    if isinstance(keep, Decimal):
        return metric >= keep
    return _meets(keep, have)


def _amount(run: Run, plan: Plan, name: str, metric: TierMetric) -> Decimal:
    if metric == "spend":
        amount: Decimal = run.values().get("amount", ZERO) if plan.is_order else ZERO
        return amount
    if metric == "points_earned":
        return run.earned
    if isinstance(metric, str):
        return Decimal(1) if metric == f"count({run.event.type})" else ZERO
    fn = _add_fn(run.compiled, name)
    if fn is None or run.event.type not in metric.on or run.event.type == "refund":
        return ZERO
    try:
        return Decimal(run_rule(fn, run.values(), run.member_view(), run.context(), f"tiers.metrics.{name}"))
    except RuleFailure as exc:
        run.trace.append(Step("tiers", f"metric:{name}", False, str(exc)))
        return ZERO


def _add_fn(compiled: Compiled, name: str) -> ExprFn | None:
    return compiled.functions.get(("tiers", "metrics", name, "add"))


def event_amounts(run: Run, plan: Plan, tier_plan: TierPlan) -> dict[str, Decimal]:
    """What this event adds to each named metric (only the metrics it changes)."""
    found = {name: _amount(run, plan, name, metric) for name, metric in _metrics(tier_plan).items()}
    return {name: amount for name, amount in found.items() if amount}


def add_named(state: MemberState, amounts: Mapping[str, Decimal], key: int) -> None:
    for name, amount in amounts.items():
        state.put("tier_metrics", (name, key), state.tier_metrics.get((name, key), ZERO) + amount)


def lowered_by(run: Run, tier_plan: TierPlan, order: OrderRecord, amount: Decimal, clawback: Decimal,
               metric_view: MetricView) -> dict[str, Decimal]:
    """What a refund of ``amount`` takes off each named metric: spend the amount, points the
    clawback, a count nothing, an ``{on, add}`` metric with refund in ``on:`` the difference
    of its ``add:`` before and after the refund (as the single metric does)."""
    out: dict[str, Decimal] = {}
    for name, metric in _metrics(tier_plan).items():
        if metric == "spend":
            out[name] = amount
        elif metric == "points_earned":
            out[name] = clawback
        elif isinstance(metric, MetricSum) and "refund" in metric.on and order.type in metric.on:
            out[name] = custom_lowered(run, _add_fn(run.compiled, name), order, amount, metric_view,
                                       f"tiers.metrics.{name}")
    return {name: value for name, value in out.items() if value > 0}


def custom_lowered(run: Run, fn: ExprFn | None, order: OrderRecord, amount: Decimal, metric_view: MetricView,
                   where: str) -> Decimal:
    """The order's ``add:`` at what was left to refund less at what is left after: a refund never
    raises a metric, and an ``add:`` that cannot be computed lowers nothing (traced)."""
    if fn is None:
        return ZERO
    left = order.amount - order.refunded
    try:
        before = Decimal(run_rule(fn, *metric_view(left), where))
        after = Decimal(run_rule(fn, *metric_view(left - amount), where)) if amount < left else ZERO
    except RuleFailure as exc:
        run.trace.append(Step("tiers", "metric", False, str(exc)))
        return ZERO
    return max(before - after, ZERO)


def lower_named(state: MemberState, lowered: Mapping[str, Decimal], key: int) -> None:
    for name, amount in lowered.items():
        state.put("tier_metrics", (name, key), state.tier_metrics.get((name, key), ZERO) - amount)


def window_keys(state: MemberState) -> Iterator[int]:
    """The windows some named metric has a value in."""
    return iter({key for _, key in state.tier_metrics})


def forget_windows(state: MemberState, gone: Callable[[int], bool]) -> None:
    """Forget the named metrics of every window ``gone`` says no longer counts."""
    for pair in [p for p in state.tier_metrics if gone(p[1])]:
        state.put("tier_metrics", pair, FORGET)


def shortfalls(level: TierLevel, have: Mapping[str, Decimal]) -> list[dict[str, Decimal]]:
    """Per way of reaching ``level`` (its requires: with each path, or alone), what each metric
    still lacks (0 where it is met)."""
    ways = [{**(level.requires or {}), **path} for path in level.paths] if level.paths else [dict(level.requires or {})]
    return [{name: max(figure - have.get(name, ZERO), ZERO) for name, figure in way.items()} for way in ways]


def progress(plan: TierPlan, have: Mapping[str, Decimal], index: int) -> dict[str, Any]:
    """Where a member at level ``index`` stands: each metric (``have``); per way of reaching the
    next level, what each metric still lacks (``next``, ``to_next``); per metric of the current
    level's keep, what keeping it needs (``to_keep``)."""
    shown: dict[str, Any] = {"have": dict(have)}
    if index + 1 < len(plan.levels):
        ahead = plan.levels[index + 1]
        shown["next"], shown["to_next"] = ahead.name, shortfalls(ahead, have)
    current = plan.levels[index]
    if isinstance(current.keep, dict):
        shown["to_keep"] = {name: max(figure - have.get(name, ZERO), ZERO) for name, figure in current.keep.items()}
    return shown


def progress_note(plan: TierPlan, have: Mapping[str, Decimal], index: int) -> tuple[str, dict[str, Any]]:
    """The trace's words for :func:`progress`, and the figures it shows."""
    shown = progress(plan, have, index)
    note = ", ".join(f"{name} {value}" for name, value in have.items())
    if "to_next" in shown:
        needs = " or ".join(" and ".join(f"{v} more {n}" for n, v in way.items() if v) or "nothing"
                            for way in shown["to_next"])
        note += f"; {shown['next']} needs {needs}"
    if "to_keep" in shown:
        note += "; keeping " + plan.levels[index].name + " needs " + (
            " and ".join(f"{v} more {n}" for n, v in shown["to_keep"].items() if v) or "nothing more")
    return note, shown
