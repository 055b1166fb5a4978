"""``--format table``: the report as rich tables for a terminal.

The report given is JSON-ready (exact strings for Decimals); figures are shown with
thousands separators, points to the rounding step and breakage as a percentage. A
difference is coloured by what it means to the program's cost (:mod:`.figures`): more
cost in the warning colour, less in the calm one, counts uncoloured.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.display import shown

from .figures import COST_DOWN, COST_UP, MEANING, NEUTRAL, delta_text, percent_text, points_text, step_of
from .messages_view import messages_table
from .owner_tables import cost_line, owner_parts
from .sections import OTHER_REJECTED, TOTAL_LABELS, shown_total
from .vouchers_view import vouchers_table

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


_STYLE = {COST_UP: "dark_orange", COST_DOWN: "cyan"}


def _delta(value, key: str = "", step: Decimal = Decimal(1), meaning: int | None = None) -> Text:
    """new - old, coloured by its effect on the program's cost (see :mod:`.figures`)."""
    if value is None:
        return Text("–", style="dim")
    number = Decimal(str(value))
    effect = (MEANING.get(key, NEUTRAL) if meaning is None else meaning) * (1 if number > 0 else -1 if number else 0)
    return Text(delta_text(key, number, step), style=_STYLE.get(effect, "dim" if not number else ""))


def _figure(key: str, value, step: Decimal) -> str:
    if key == "breakage":
        return percent_text(value)
    return points_text(value, step) if "points" in key else _fmt(value)


def _total(totals: dict, key: str):
    if key == OTHER_REJECTED:  # rejected includes blocked: shown apart, each event once
        return Decimal(str(totals["rejected"])) - Decimal(str(totals["blocked"])) if "rejected" in totals else None
    return totals.get(key)


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _totals(report: dict) -> Table:
    base, step = report.get("baseline"), step_of(report)
    columns = ["", report["ruleset"]] + ([base["ruleset"], "Δ"] if base else [])
    table = _table("Totals", columns)
    diff = report.get("diff", {}).get("totals", {})
    for key, label in TOTAL_LABELS:
        if (key.endswith("_money") and _money_is_points(report)) or not shown_total(report, key):
            continue
        row: list[str | Text] = [label, _figure(key, _total(report["totals"], key), step)]
        if base:
            row += [_figure(key, _total(base["totals"], key), step), _delta(_total(diff, key), key, step)]
        table.add_row(*row)
    return table


def _money_is_points(report: dict) -> bool:
    sides = [report] + ([report["baseline"]] if "baseline" in report else [])
    return all(Decimal(str(s["point_value"])) == 1 and s["currency"] == report["currency"] for s in sides)


def _months(report: dict) -> Table:
    diff, step = {r["month"]: r for r in report.get("diff", {}).get("by_month", [])}, step_of(report)
    table = _table("By month", ["Month", "Events", "Rejected", "Issued", "Redeemed", "Expired", "Clawed back",
                                "Liability"] + (["Δ issued"] if diff else []))
    for row in report["by_month"]:
        cells = [row["month"]] + [_figure(k, row[k], step) for k in (
            "events", "rejected", "points_issued", "points_redeemed", "points_expired", "points_clawed_back",
            "liability_points")]
        table.add_row(*cells, *([_delta(diff.get(row["month"], {}).get("points_issued"), "points_issued", step)]
                                if diff else []))
    return table


def _rules(report: dict) -> Table:
    diff, step = {r["rule"]: r for r in report.get("diff", {}).get("by_rule", [])}, step_of(report)
    table = _table("By rule", ["Rule", "Fired", "Paid", "Points"] + (["Δ points"] if diff else []))
    for row in report["by_rule"][:_ROWS_SHOWN]:
        table.add_row(row["rule"], _fmt(row["fired"]), _fmt(row["paid"]), points_text(row["points"], step),
                      *([_delta(diff.get(row["rule"], {}).get("points"), "points", step, COST_UP)] if diff else []))
    for cap in report["caps"]:
        table.add_row(Text(cap["cap"], style="dim"), _fmt(cap["bit"]), "", f"-{points_text(cap['points_cut'], step)}")
    for budget in report["budgets"]:
        held = budget.get("variants")  # with variants: whose program has the budget
        label = f"budget:{budget['rule']}" + ("" if held is None else f" ({', '.join(held) or 'no variant'})")
        table.add_row(Text(shown(label), style="dim"), _fmt(budget["bit"]),
                      f"{points_text(budget['used'], step)} / {points_text(budget['max_points'], step)}",
                      f"-{points_text(budget['points_cut'], step)}")
    return table


def _tiers(report: dict) -> Table | None:
    tiers = report["tiers"]
    if not tiers["levels"]:
        return None
    base = report.get("baseline", {}).get("tiers", {}).get("end")
    moves = f"{tiers['moves']['up']} moves up, {tiers['moves']['down']} down"
    table = _table(f"Tiers at the end, {_end_of(report)} ({moves})",
                   ["Tier", "Members"] + (["Baseline", "Δ"] if base is not None else []))
    for tier, count in tiers["end"].items():
        extra: list[str | Text] = [] if base is None else [_fmt(base.get(tier, 0)),
                                                           _delta(count - base.get(tier, 0), "members")]
        table.add_row(tier, _fmt(count), *extra)
    return table


def _end_of(report: dict) -> str:
    """When "the end" is: the last event's time, or the end of the day ``--until`` named (the
    replay's end instant is the midnight after it), which may be long after the last event:
    a member with no more events has dropped to the tier its windows left it."""
    given = report["input"].get("end")
    if not given:  # no event read: no end instant
        return "of the replay"
    end = dt.datetime.fromisoformat(given)
    if end.time() == dt.time(0):
        return f"after housekeeping to the end of {(end - dt.timedelta(days=1)).date().isoformat()}"
    return end.strftime("%Y-%m-%d %H:%M")


def _gates(report: dict) -> Table | None:
    rows = [(f["rule"], _fmt(f["fired"]), ", ".join(f"{k} {v}" for k, v in f["actions"].items()))
            for f in report["fraud"]]
    rows += [(b["reward"], _fmt(b["paid"]), f"{points_text(b['points'], step_of(report))} points")
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
        table.add_row(Text(shown(row["member"])), points_text(row["points_issued"], step_of(report)),
                      points_text(row["liability_points"], step_of(report)),
                      Text(shown(row["tier"] or "–")), _fmt(row["events"]))
    return table


def _variants(report: dict) -> list[Table]:
    """Per variant of each side with variants: members, points issued, cost and (with --against) the change."""
    against = "baseline" in report
    out = []
    for side in (report, report.get("baseline")):
        if side is None or "variants" not in side:
            continue
        step = step_of(side)
        table = _table(f"Variants of {side['ruleset']} (cost: points given out and not taken back)",
                       ["Variant", "Share", "Members", "Issued", "Cost", "Per member"]
                       + (["Δ points", "Δ per member"] if against else []))
        for row in side["variants"]:
            change = row.get("change") or {}
            table.add_row(Text(shown(row["variant"])), f"{_fmt(row['share'])}%", _fmt(row["members"]),
                          points_text(row["points_issued"], step), points_text(row["cost"]["points"], step),
                          points_text(row["cost_per_member"]["points"], step),
                          *([_delta(change.get("points"), "points", step, COST_UP),
                             _delta(change.get("per_member"), "points", step, COST_UP)] if against else []))
        out.append(table)
    return out


def render_tables(report: dict) -> Group:
    report = to_jsonable(report)
    parts = [*owner_parts(report), _totals(report), *_variants(report), _months(report), _rules(report),
             _tiers(report), _gates(report), messages_table(report), vouchers_table(report), _rejections(report),
             _top(report),
             cost_line(report)]
    return Group(*[p for p in parts if p is not None])


def print_tables(report: dict, console: Console) -> None:
    console.print(render_tables(report))
