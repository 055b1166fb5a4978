"""With ``--against``: the figures that answer the owner, added to the report's ``diff``.

- ``rules``: what changed in the rules (``punchcard diff``, :mod:`punchcard.dsl.diff`);
- ``cost``: the cost of the change (see :mod:`.diff`) as a percentage of what the old
  version gives out, per member and per month of the replay;
- ``distribution``: members who get more points, fewer, or the same, and a histogram
  of each member's change (:mod:`.change`);
- ``by_tier``, ``by_segment``: the change by the highest tier the member held under the old
  version, and by the member's ``segment`` profile field.

Points are exact; a share (per member, per month) is rounded to the new version's
rounding step, money to the currency's minor unit, percentages to 0.1.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from punchcard.dsl.diff import diff_rulesets

from .change import GROUP_SEGMENT, GROUP_TIER, NO_GROUP, ChangeTally, bin_bounds

__all__ = ["owner_figures", "COST_DEFINITION", "net_points", "share_of"]

ZERO = Decimal(0)
PERCENT = Decimal("0.1")
_OUT = ("expired", "clawed_back", "adjusted_down", "voided")
COST_DEFINITION = ("the points the new version gives out and does not take back (issued - expired - clawed back - "
                   "adjusted down - voided), minus the same for the old version: points members redeem or still "
                   "hold at the end, valued at the point's worth")


def net_points(side: dict) -> Decimal:
    totals = side["totals"]
    return totals["points_issued"] - sum((totals[f"points_{name}"] for name in _OUT), ZERO)


def share_of(value: Decimal | None, count: int, step: Decimal) -> Decimal | None:
    """``value`` per one of ``count`` (a member, a month), to ``step``, half to even; None for none."""
    if value is None or not count:
        return None
    return (value / count).quantize(step, rounding=ROUND_HALF_EVEN)


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part * 100 / whole).quantize(PERCENT, rounding=ROUND_HALF_EVEN) if whole else None


def _cost(report: dict, members: int, model) -> dict:
    cost, months = report["diff"]["cost"], len(report["by_month"])
    old_net = net_points(report["baseline"])
    step, cent = model.rounding.step, Decimal(1).scaleb(-model.money_places)
    return {**cost, "definition": COST_DEFINITION, "old_points": old_net, "new_points": net_points(report),
            "percent": _percent(cost["points"], old_net), "members": members, "months": months,
            "per_member": {"points": share_of(cost["points"], members, step),
                           "money": share_of(cost["money"], members, cent)},
            "per_month": {"points": share_of(cost["points"], months, step),
                          "money": share_of(cost["money"], months, cent)}}


def _distribution(change: ChangeTally) -> dict:
    bins = change.bins
    rows = []
    for number in _axis(bins):
        low, high = bin_bounds(number)
        rows.append({"bin": number, "low": low, "high": high, "members": bins.get(number, 0)})
    more = sum(n for b, n in bins.items() if b > 0)
    fewer = sum(n for b, n in bins.items() if b < 0)
    return {"members": change.members, "more": more, "fewer": fewer, "same": bins.get(0, 0),
            "points": change.points, "bins": rows}


def _axis(bins) -> list[int]:
    """Bin 0, and on each side every bin from the smallest change seen to the largest, so the
    histogram's axis has no holes (and no run of empty bins below the smallest change)."""
    fewer = [b for b in bins if b < 0]
    more = [b for b in bins if b > 0]
    below = list(range(min(fewer), max(fewer) + 1)) if fewer else []
    above = list(range(min(more), max(more) + 1)) if more else []
    return [*below, 0, *above]


def _groups(change: ChangeTally, kind: str, order: list[str], step: Decimal) -> list[dict]:
    found = {name: row for (k, name), row in change.groups.items() if k == kind}
    names = [n for n in order if n in found] + sorted(n for n in found if n not in order)
    return [{"name": name or None, "members": found[name][0], "more": found[name][1], "fewer": found[name][2],
             "points": found[name][3], "per_member": share_of(found[name][3], found[name][0], step)}
            for name in names]


def owner_figures(report: dict, change: ChangeTally, new_model, old_model) -> dict:
    """The fields added to ``report["diff"]``: rules, cost (extended), distribution, by_tier, by_segment."""
    step = new_model.rounding.step
    levels = report["baseline"]["tiers"]["levels"] or report["tiers"]["levels"]
    return {
        "rules": {k: v for k, v in diff_rulesets(old_model, new_model).to_json().items() if k != "schema"},
        "cost": _cost(report, change.members, new_model),
        "distribution": _distribution(change),
        "by_tier": _groups(change, GROUP_TIER, [*levels, NO_GROUP], step),
        "by_segment": _groups(change, GROUP_SEGMENT, [], step),
    }
