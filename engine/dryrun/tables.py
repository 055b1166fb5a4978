"""``--format table``: the report as rich tables for a terminal.

The report given is JSON-ready (exact strings for Decimals); figures are shown with
thousands separators and nothing else is rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.display import shown

from .sections import TOTAL_LABELS

__all__ = ["render_tables", "print_tables"]

_ROWS_SHOWN = 12


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return f"{Decimal(str(value)):,}"
    except InvalidOperation:
        return str(value)


def _delta(value) -> Text:
    if value is None:
        return Text("–", style="dim")
    number = Decimal(str(value))
    style = "green" if number > 0 else "red" if number < 0 else "dim"
    return Text(("+" if number > 0 else "") + _fmt(number), style=style)


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _totals(report: dict) -> Table:
    base = report.get("baseline")
    columns = ["", report["ruleset"]] + ([base["ruleset"], "Δ"] if base else [])
    table = _table("Totals", columns)
    diff = report.get("diff", {}).get("totals", {})
    for key, label in TOTAL_LABELS:
        row: list[str | Text] = [label, _fmt(report["totals"].get(key))]
        if base:
            row += [_fmt(base["totals"].get(key)), _delta(diff.get(key))]
        table.add_row(*row)
    return table


def _months(report: dict) -> Table:
    diff = {r["month"]: r for r in report.get("diff", {}).get("by_month", [])}
    table = _table("By month", ["Month", "Events", "Rejected", "Issued", "Redeemed", "Expired", "Clawed back",
                                "Liability"] + (["Δ issued"] if diff else []))
    for row in report["by_month"]:
        cells = [row["month"]] + [_fmt(row[k]) for k in ("events", "rejected", "points_issued", "points_redeemed",
                                                         "points_expired", "points_clawed_back", "liability_points")]
        table.add_row(*cells, *([_delta(diff.get(row["month"], {}).get("points_issued"))] if diff else []))
    return table


def _rules(report: dict) -> Table:
    diff = {r["rule"]: r for r in report.get("diff", {}).get("by_rule", [])}
    table = _table("By rule", ["Rule", "Fired", "Paid", "Points"] + (["Δ points"] if diff else []))
    for row in report["by_rule"][:_ROWS_SHOWN]:
        table.add_row(row["rule"], _fmt(row["fired"]), _fmt(row["paid"]), _fmt(row["points"]),
                      *([_delta(diff.get(row["rule"], {}).get("points"))] if diff else []))
    for cap in report["caps"]:
        table.add_row(Text(cap["cap"], style="dim"), _fmt(cap["bit"]), "", f"-{_fmt(cap['points_cut'])}")
    for budget in report["budgets"]:
        table.add_row(Text(f"budget:{budget['rule']}", style="dim"), _fmt(budget["bit"]),
                      f"{_fmt(budget['used'])} / {_fmt(budget['max_points'])}", f"-{_fmt(budget['points_cut'])}")
    return table


def _tiers(report: dict) -> Table | None:
    tiers = report["tiers"]
    if not tiers["levels"]:
        return None
    base = report.get("baseline", {}).get("tiers", {}).get("end")
    table = _table(f"Tiers at the end ({tiers['moves']['up']} moves up, {tiers['moves']['down']} down)",
                   ["Tier", "Members"] + (["Baseline", "Δ"] if base is not None else []))
    for tier, count in tiers["end"].items():
        extra: list[str | Text] = [] if base is None else [_fmt(base.get(tier, 0)), _delta(count - base.get(tier, 0))]
        table.add_row(tier, _fmt(count), *extra)
    return table


def _gates(report: dict) -> Table | None:
    rows = [(f["rule"], _fmt(f["fired"]), ", ".join(f"{k} {v}" for k, v in f["actions"].items()))
            for f in report["fraud"]]
    rows += [(b["reward"], _fmt(b["paid"]), f"{_fmt(b['points'])} points")
             for b in report["streaks"] + report["achievements"]]
    if not rows:
        return None
    table = _table("Fraud rules, streaks and achievements", ["Rule", "Times", "What"])
    for row in rows:
        table.add_row(*row)
    return table


def _rejections(report: dict) -> Table | None:
    rows = report["rejections"][:_ROWS_SHOWN]
    bad = report["input"]["bad_rows_by_reason"][:_ROWS_SHOWN]
    if not rows and not bad:
        return None
    table = _table(f"Rejections and bad rows ({report['input']['bad_rows']} bad rows)", ["Reason", "Events", "First"])
    # Reasons, ids and file names come from the input: plain Text (no markup), escaped by shown().
    for row in rows:
        table.add_row(Text(f"{row['outcome']}: {shown(row['reason'])}"), _fmt(row["events"]),
                      Text(f"line {row['example']['line']} ({shown(row['example']['event_id'])})"))
    for group in bad:  # the group's reason, and its first row with its reason in full
        example = group["example"]
        table.add_row(Text(f"bad row: {shown(group['reason'])}", style="red"), _fmt(group["rows"]),
                      Text(f"{shown(group['file'])} line {example['line']}: {shown(example['reason'])}"))
    return table


def _top(report: dict) -> Table:
    table = _table("Top members by points issued", ["Member", "Issued", "Balance", "Tier", "Events"])
    for row in report["top_members"]:
        table.add_row(Text(shown(row["member"])), _fmt(row["points_issued"]), _fmt(row["liability_points"]),
                      Text(shown(row["tier"] or "–")), _fmt(row["events"]))
    return table


def _cost(report: dict) -> Text | None:
    diff = report.get("diff")
    if not diff:
        return None
    cost, changed = diff["cost"], diff["members_changed"]
    money = f"{_fmt(cost['money'])} {cost['currency']}" if cost["money"] is not None else cost["note"]
    return Text.assemble(("Cost of the change: ", "bold"), f"{_fmt(cost['points'])} points, {money}; ",
                         f"{_fmt(changed['members'])} members changed ({_fmt(changed['points'])} in points, "
                         f"{_fmt(changed['outcome'])} in outcomes, {_fmt(changed['tier'])} in their tier)")


def render_tables(report: dict) -> Group:
    report = to_jsonable(report)
    parts = [_totals(report), _months(report), _rules(report), _tiers(report), _gates(report),
             _rejections(report), _top(report), _cost(report)]
    return Group(*[p for p in parts if p is not None])


def print_tables(report: dict, console: Console) -> None:
    console.print(render_tables(report))
