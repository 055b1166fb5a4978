"""The top of the report with ``--against``: what changed in the rules, what it costs, and on whom.

The histogram is an inline SVG drawn here, not by the page script: it is part of the
page's bytes (and of its golden test), and it shows with scripts off. Every text is
escaped here; bars are coloured by meaning (a member who gets more points is more cost).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from html import escape

from punchcard.dsl.diff import value_text

from .cells import fmt, table
from .figures import COST_UP, cost_delta_cell, legend, percent_text, points_text, signed, step_of

__all__ = ["owner_sections", "rule_diff_section", "histogram_svg", "bin_label"]

_W, _H, _LEFT, _RIGHT, _BOTTOM, _TOP = 960, 280, 96, 16, 84, 18  # the histogram's size and margins, in px
_KIND_MARK = {"added": "+ added", "removed": "- removed", "changed": "~ changed"}


def _value(value) -> str:
    text = value_text(value)
    return '<span class="muted">–</span>' if value is None else f"<code>{escape(text)}</code>"


def rule_diff_section(report: dict) -> str:
    rules = report["diff"]["rules"]
    summary = rules["summary"]
    head = (f"<p>{escape(rules['old'])} → {escape(rules['new'])}: {fmt(summary['added'])} added, "
            f"{fmt(summary['removed'])} removed, {fmt(summary['changed'])} changed "
            "(<code>punchcard diff OLD NEW</code> prints the same).</p>")
    rows = []
    for unit in rules["changes"]:
        where = escape(unit["section"]) + (f": <code>{escape(unit['key'])}</code>" if unit["key"] else "")
        kind = f'<span class="tag {escape(unit["change"])}">{escape(_KIND_MARK[unit["change"]])}</span>'
        for index, field in enumerate(unit["fields"] or [{"field": "", "old": None, "new": None}]):
            lead = [kind, where] if index == 0 else ["", ""]
            rows.append([*lead, f"<code>{escape(field['field'])}</code>", _value(field["old"]), _value(field["new"])])
    inner = head + (table(["Change", "Where", "Field", "Old", "New"], rows, numeric_from=5) if rows else
                    '<p class="muted">The two versions hold the same rules.</p>')
    return f'<section id="rule-diff"><h2>What changed in the rules</h2>{inner}</section>'


def _card(label: str, value: str, note: str, css: str = "") -> str:
    return (f'<div class="card {css}"><div class="label">{escape(label)}</div><div class="value">{value}</div>'
            f'<div class="delta">{note}</div></div>')


def _money(figure: dict, currency: str | None, suffix: str = "") -> str:
    """``117 JPY each, ``: the money of a figure, or nothing when the currencies differ."""
    return f"{fmt(figure['money'])} {escape(currency or '')}{suffix}" if figure.get("money") is not None else ""


def _points(value, step: Decimal) -> str:
    return "–" if value is None else f"{escape(points_text(value, step))} points"  # none: no member, no month


def cost_section(report: dict) -> str:
    cost, step = report["diff"]["cost"], step_of(report)
    points = Decimal(str(cost["points"]))
    css = "cost-up" if points > 0 else "cost-down" if points < 0 else ""
    months = report["by_month"]
    span = f"{months[0]['month']} to {months[-1]['month']}" if months else "–"
    percent = f"{signed(fmt(cost['percent']), Decimal(str(cost['percent'])))}%" if cost["percent"] is not None \
        else "–"
    cards = [
        _card("Cost of the change", f"{escape(signed(points_text(points, step), points))} points",
              _money(cost, cost["currency"]) or escape(cost["note"] or ""), css),
        _card("Change", percent, f"on {points_text(cost['old_points'], step)} points the old version gives out "
                                 f"and keeps; {points_text(cost['new_points'], step)} with the new", css),
        _card("Per member", _points(cost["per_member"]["points"], step),
              f"{_money(cost['per_member'], cost['currency'], ' each, ')}over {fmt(cost['members'])} members", css),
        _card("Per month", _points(cost["per_month"]["points"], step),
              f"{_money(cost['per_month'], cost['currency'], ' a month, ')}over {fmt(cost['months'])} months "
              f"({escape(span)})", css),
    ]
    definition = (f'<p class="definition"><b>Cost of the change</b>: {escape(cost["definition"])}. '
                  f"Positive: the new version costs more.</p>")
    return (f'<section id="cost"><h2>Cost of the change</h2>{definition}<div class="cards">{"".join(cards)}</div>'
            f"{legend()}</section>")


def bin_label(low: Decimal, high: Decimal, step: Decimal) -> str | None:
    """The changes a bin holds, in whole rounding steps: ``+6 to +10``; None when it can hold none."""
    if low == high == 0:
        return "0"
    if high > 0:  # (low, high]
        first = (low / step).to_integral_value(ROUND_FLOOR) * step + step
        last = (high / step).to_integral_value(ROUND_FLOOR) * step
    else:  # [low, high)
        first = (low / step).to_integral_value(ROUND_CEILING) * step
        last = (high / step).to_integral_value(ROUND_CEILING) * step - step
    if first > last:
        return None
    a, b = signed(points_text(first, step), first), signed(points_text(last, step), last)
    return a if first == last else f"{a} to {b}"


def _bars(bins: list[dict], step: Decimal) -> list[tuple[str, int, int]]:
    out = []
    for row in bins:
        label = bin_label(Decimal(str(row["low"])), Decimal(str(row["high"])), step)
        if label is not None or row["members"]:
            out.append((label or f"{row['low']} to {row['high']}", row["bin"], row["members"]))
    return out


def histogram_svg(bins: list[dict], step: Decimal) -> str:
    """Members by the change in their points: one bar per bin, coloured by what it costs the program."""
    bars = _bars(bins, step)
    most = max((n for _, _, n in bars), default=0) or 1
    width = max(1, (_W - _LEFT - _RIGHT) // max(1, len(bars)))
    plot = _H - _BOTTOM - _TOP
    parts = [f'<line class="axis" x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W}" y2="{_H - _BOTTOM}"/>']
    for index, (label, number, members) in enumerate(bars):
        x, tall = _LEFT + index * width, max(members * plot // most, 1 if members else 0)  # one member shows
        css = "cost-up" if number > 0 else "cost-down" if number < 0 else "neutral"
        parts.append(f'<rect class="{css}" x="{x + 2}" y="{_H - _BOTTOM - tall}" width="{width - 4}" '
                     f'height="{tall}"><title>{escape(label)}: {members} members</title></rect>')
        if members:
            parts.append(f'<text class="count" x="{x + width // 2}" y="{_H - _BOTTOM - tall - 4}">{members}</text>')
        parts.append(f'<text class="tick" transform="translate({x + width // 2},{_H - _BOTTOM + 12}) rotate(-40)">'
                     f"{escape(label)}</text>")
    parts.append(f'<text class="axis-label" x="12" y="{_TOP + plot // 2}" transform="rotate(-90 12 '
                 f'{_TOP + plot // 2})">members</text>')
    parts.append(f'<text class="axis-label" x="{_W - _RIGHT}" y="{_H - 4}" text-anchor="end">each member\'s change '
                 "in points, new version - old</text>")
    return (f'<svg class="histogram" role="img" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>Members by the change in their points</title>'
            f'{"".join(parts)}</svg>')


def _group_table(rows: list[dict], title: str, step: Decimal, total: Decimal) -> str:
    cells = []
    for row in rows:
        share = percent_text(Decimal(str(row["points"])) / total) if total else "–"  # of the whole change
        cells.append([escape(row["name"] or "none"), fmt(row["members"]), fmt(row["more"]), fmt(row["fewer"]),
                      cost_delta_cell("points", row["points"], step, COST_UP),
                      cost_delta_cell("points", row["per_member"], step, COST_UP), share])
    return table([title, "Members", "Get more", "Get fewer", "Δ points", "Δ per member", "Share of the change"], cells)


def distribution_section(report: dict) -> str:
    diff, step = report["diff"], step_of(report)
    dist, total = diff["distribution"], Decimal(str(diff["distribution"]["points"]))
    inner = (f"<p>Of {fmt(dist['members'])} members, <b class=\"cost-up-text\">{fmt(dist['more'])} get more points"
             f"</b> under the new version (more cost), <b class=\"cost-down-text\">{fmt(dist['fewer'])} get fewer"
             f"</b> (less cost) and {fmt(dist['same'])} get the same. A member's change is the points the new "
             "version gives them and does not take back, less the old version's: the changes add up to the cost "
             f"of the change ({escape(signed(points_text(total, step), total))} points).</p>")
    inner += f'<div class="svg-chart">{histogram_svg(dist["bins"], step)}</div>{legend()}'
    inner += ("<h3>By tier (the highest tier each member held under the old version)</h3>"
              + _group_table(diff["by_tier"], "Tier", step, total))
    inner += "<h3>By segment</h3>" + (_group_table(diff["by_segment"], "Segment", step, total) if diff["by_segment"]
                                      else '<p class="muted">No member has a <code>segment</code> field: give one in '
                                           "<code>--members</code> or with <code>profile</code> events.</p>")
    return f'<section id="distribution"><h2>Who gets more, who gets less</h2>{inner}</section>'


def owner_sections(report: dict) -> str:
    """The sections the page opens with when two versions were compared ("" otherwise)."""
    if "diff" not in report or "rules" not in report["diff"]:
        return ""
    return rule_diff_section(report) + cost_section(report) + distribution_section(report)
