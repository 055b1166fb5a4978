"""``--format text`` with ``--against``: what changed in the rules, what it costs and on whom, as rich tables.

The same figures as the top of the HTML report (:mod:`.owner_html`), for a terminal.
Text from the rulesets and the input is printed as plain Text (no markup) through
:func:`shown`.
"""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table
from rich.text import Text

from punchcard.dsl.diff import value_text
from punchcard.engine.runtime.display import shown

from .figures import delta_text, points_text, step_of

__all__ = ["owner_parts", "cost_line", "rule_diff_table"]

_MARK = {"added": ("+", "bold"), "removed": ("-", "dim"), "changed": ("~", "")}
_STYLE_UP, _STYLE_DOWN = "dark_orange", "cyan"


def rule_diff_table(rules: dict) -> Table | Text:
    summary = rules["summary"]
    title = (f"What changed in the rules: {rules['old']} → {rules['new']} ({summary['added']} added, "
             f"{summary['removed']} removed, {summary['changed']} changed)")
    if not rules["changes"]:
        return Text(shown(f"{title}: the two versions hold the same rules."))
    table = Table(title=shown(title), title_justify="left", title_style="bold")
    for column in ("", "Where", "Field", "Old", "New"):
        table.add_column(column)
    for unit in rules["changes"]:
        mark, style = _MARK[unit["change"]]
        where = unit["section"] + (f": {unit['key']}" if unit["key"] else "")
        for index, field in enumerate(unit["fields"]):
            lead = [Text(mark, style=style), Text(shown(where))] if index == 0 else ["", ""]
            table.add_row(*lead, Text(shown(field["field"])), Text(shown(value_text(field["old"]))),
                          Text(shown(value_text(field["new"]))))
    return table


def _signed_style(number: Decimal) -> str:
    return _STYLE_UP if number > 0 else _STYLE_DOWN if number < 0 else "dim"


def _cost(report: dict) -> Text:
    cost, step = report["diff"]["cost"], step_of(report)
    points = Decimal(str(cost["points"]))
    money = f" ({Decimal(str(cost['money'])):,} {cost['currency']})" if cost["money"] is not None else ""
    percent = f"{'+' if points > 0 else ''}{cost['percent']}%" if cost["percent"] is not None else "–"
    per_member, per_month = cost["per_member"], cost["per_month"]
    return Text.assemble(
        ("Cost of the change: ", "bold"),
        (f"{delta_text('points', points, step)} points{money}", _signed_style(points)),
        f", {percent} on the old version's {points_text(cost['old_points'], step)}; "
        f"{points_text(per_member['points'], step)} points per member ({cost['members']:,} members), "
        f"{points_text(per_month['points'], step)} points per month ({cost['months']} months).\n",
        (f"The cost of the change is {cost['definition']}.", "dim"))


def _groups(title: str, name: str, rows: list[dict], step: Decimal) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for index, column in enumerate((name, "Members", "Get more", "Get fewer", "Δ points",
                                    "Δ per member")):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        points, each = Decimal(str(row["points"])), row["per_member"]
        table.add_row(Text(shown(row["name"] or "none")), f"{row['members']:,}", f"{row['more']:,}",
                      f"{row['fewer']:,}", Text(delta_text("points", points, step), style=_signed_style(points)),
                      Text(delta_text("points", each, step), style=_signed_style(Decimal(str(each or 0)))))
    return table


def _distribution(report: dict) -> Text:
    dist = report["diff"]["distribution"]
    return Text.assemble(f"Of {dist['members']:,} members, ", (f"{dist['more']:,} get more points", _STYLE_UP),
                         " (more cost), ", (f"{dist['fewer']:,} get fewer", _STYLE_DOWN),
                         f" (less cost), {dist['same']:,} the same.")


def owner_parts(report: dict) -> list:
    """The renderables the text output opens with when two versions were compared."""
    diff = report.get("diff")
    if not diff or "rules" not in diff:
        return []
    step = step_of(report)
    parts: list = [rule_diff_table(diff["rules"]), _cost(report), _distribution(report),
                   _groups("Change by tier (the highest tier each member held under the old version)", "Tier",
                           diff["by_tier"], step)]
    if diff["by_segment"]:
        parts.append(_groups("Change by segment", "Segment", diff["by_segment"], step))
    else:  # said, not left out silently: the owner asked for it
        parts.append(Text("Change by segment: no member has a segment field; give one in --members or with "
                          "profile events.", style="dim"))
    return parts


def cost_line(report: dict) -> Text | None:
    """The closing line: the cost and how many members changed, and in what."""
    diff = report.get("diff")
    if not diff:
        return None
    cost, changed, step = diff["cost"], diff["members_changed"], step_of(report)
    money = f"{Decimal(str(cost['money'])):,} {cost['currency']}" if cost["money"] is not None else cost["note"]
    return Text.assemble(("Cost of the change: ", "bold"), f"{delta_text('points', cost['points'], step)} points, "
                         f"{money}; {changed['members']:,} members changed ({changed['points']:,} in points, "
                         f"{changed['outcome']:,} in outcomes, {changed['tier']:,} in their tier)")
