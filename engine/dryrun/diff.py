"""``--against``: every figure of the new ruleset minus the same figure of the old one.

Rows are matched by their key (month, rule, cap, tier, reward), a row missing on
one side counting as zeros. The cost of the change is the value of the points it
gives out and does not take back, ``issued - expired - clawed back - adjusted down
- voided``: those points are either redeemed (paid for) or still owed (liability).
"""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.runtime.decision import Decision

from .account import compact

__all__ = ["build_diff", "diff_rows", "diff_numbers", "cost"]

ZERO = Decimal(0)
_NET = ("issued", "expired", "clawed_back", "adjusted_down", "voided")


def _number(value) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def diff_numbers(new: dict, old: dict) -> dict:
    """new - old for every numeric field either side has; missing counts as zero."""
    out = {}
    for key in list(new) + [k for k in old if k not in new]:
        a, b = new.get(key), old.get(key)
        if (a is None or _number(a)) and (b is None or _number(b)) and (a is not None or b is not None):
            # not ``a or 0``: a Decimal zero would become the int 0, and print as a number, not a figure
            out[key] = (0 if a is None else a) - (0 if b is None else b)
    return out


def diff_rows(new: list[dict], old: list[dict], key: str) -> list[dict]:
    olds = {row[key]: row for row in old}
    news = {row[key]: row for row in new}
    keys = [row[key] for row in new] + [row[key] for row in old if row[key] not in news]
    return [{key: k, **diff_numbers(news.get(k, {}), olds.get(k, {}))} for k in keys]


def cost(new: dict, old: dict) -> dict:
    def net(side: dict) -> Decimal:
        totals = side["totals"]
        return totals["points_issued"] - sum((totals[f"points_{n}"] for n in _NET[1:]), ZERO)

    points = net(new) - net(old)
    same_currency = new["currency"] == old["currency"]
    money = net(new) * new["point_value"] - net(old) * old["point_value"] if same_currency else None
    return {"points": points, "money": money, "currency": new["currency"] if same_currency else None,
            "note": None if same_currency else f"the rulesets price points in {new['currency']} and "
                                               f"{old['currency']}: no money difference is given"}


def _pairs(decisions: list[tuple[tuple[int, Decision], tuple[int, Decision]]]) -> list[dict]:
    # the trace says why; the effects (lots, expiry dates) are in the members' own listings
    return [{"new": compact(new_line, new, effects=False), "old": compact(old_line, old, effects=False)}
            for (new_line, new), (old_line, old) in decisions]


def _no_money(rows: dict) -> dict:
    """Amounts in two currencies do not subtract: money differences are left out (null)."""
    return {k: (None if "money" in k else v) for k, v in rows.items()}


def build_diff(new: dict, old: dict, partial) -> dict:
    same = new["currency"] == old["currency"]
    months = diff_rows(new["by_month"], old["by_month"], "month")
    return {
        "totals": diff_numbers(new["totals"], old["totals"]) if same else
        _no_money(diff_numbers(new["totals"], old["totals"])),
        "outcomes": diff_numbers(new["outcomes"], old["outcomes"]),
        "by_month": months if same else [_no_money(row) for row in months],
        "by_rule": diff_rows(new["by_rule"], old["by_rule"], "rule"),
        "caps": diff_rows(new["caps"], old["caps"], "cap"),
        "budgets": diff_rows(new["budgets"], old["budgets"], "rule"),
        "tiers": {"end": diff_numbers(new["tiers"]["end"], old["tiers"]["end"]),
                  "moves": diff_numbers(new["tiers"]["moves"], old["tiers"]["moves"])},
        "fraud": diff_rows(new["fraud"], old["fraud"], "rule"),
        "streaks": diff_rows(new["streaks"], old["streaks"], "reward"),
        "achievements": diff_rows(new["achievements"], old["achievements"], "reward"),
        "cost": cost(new, old),
        "members_changed": {k: partial.changed_count.get(k, 0) for k in ("members", "points", "outcome", "tier")},
        "changed_members": [{"member": s.member, **s.figures, "events": _pairs(s.decisions)}
                            for s in partial.changed.members],
    }
