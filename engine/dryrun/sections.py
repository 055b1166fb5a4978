"""The report page's tables and trace listings (the charts are in :mod:`.html`).

Every value is escaped here; the report given is already JSON-ready (strings for
Decimals), so nothing is rounded for display beyond thousands separators.
"""

from __future__ import annotations

import json
from html import escape

from .cells import delta_cell, fmt, table

__all__ = ["detail_sections", "TOTAL_LABELS"]

TOTAL_LABELS = [
    ("events", "Events"), ("applied", "Applied"), ("review", "Held for review"), ("duplicates", "Duplicates"),
    ("blocked", "Blocked by fraud or compliance"), ("rejected", "Rejected or blocked"), ("bad_rows", "Bad rows"),
    ("members", "Members"), ("points_issued", "Points issued"), ("points_redeemed", "Points redeemed"),
    ("points_expired", "Points expired"), ("points_clawed_back", "Points clawed back"),
    ("points_adjusted_down", "Points adjusted down"), ("points_voided", "Points voided"),
    ("opening_liability_points", "Opening liability (points)"), ("liability_points", "Liability at the end (points)"),
    ("liability_money", "Liability at the end (money)"), ("pending_points", "Pending at the end (points)"),
    ("points_issued_money", "Points issued (money)"), ("breakage", "Breakage (expired / issued)"),
]


def _section(anchor: str, title: str, inner: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{inner}</section>'


def _with_baseline(report: dict, headers: list[str]) -> list[str]:
    return headers + (["Baseline", "Δ"] if "baseline" in report else [])


def _totals(report: dict) -> str:
    base = report.get("baseline", {}).get("totals", {})
    diff = report.get("diff", {}).get("totals", {})
    rows = []
    for key, label in TOTAL_LABELS:
        row = [escape(label), fmt(report["totals"].get(key))]
        if "baseline" in report:
            row += [fmt(base.get(key)), delta_cell(diff.get(key))]
        rows.append(row)
    return _section("totals", "Totals", table(_with_baseline(report, ["Figure", report["ruleset"]]), rows))


def _months(report: dict) -> str:
    fields = ["events", "rejected", "points_issued", "points_redeemed", "points_expired", "points_clawed_back",
              "liability_points", "liability_money", "tier_up", "tier_down"]
    diff = {r["month"]: r for r in report.get("diff", {}).get("by_month", [])}
    headers = ["Month", "Events", "Rejected", "Issued", "Redeemed", "Expired", "Clawed back", "Liability",
               f"Liability ({report['currency']})", "Tier ups", "Tier downs"]
    rows = []
    for row in report["by_month"]:
        cells = [escape(row["month"])] + [fmt(row[f]) for f in fields]
        if diff:
            cells.append(delta_cell(diff.get(row["month"], {}).get("points_issued")))
        rows.append(cells)
    if diff:
        headers.append("Δ issued")
    return _section("months", "By month", table(headers, rows))


def _rules(report: dict) -> str:
    diff = {r["rule"]: r for r in report.get("diff", {}).get("by_rule", [])}
    rows = []
    for row in report["by_rule"]:
        cells = [f"<code>{escape(row['rule'])}</code>", fmt(row["fired"]), fmt(row["paid"]), fmt(row["points"])]
        if diff:
            cells.append(delta_cell(diff.get(row["rule"], {}).get("points")))
        rows.append(cells)
    headers = ["Rule", "Fired", "Paid", "Points"] + (["Δ points"] if diff else [])
    limits = [[f"<code>{escape(c['cap'])}</code>", fmt(c["bit"]), fmt(c["points_cut"])] for c in report["caps"]]
    limits += [[f"<code>budget:{escape(b['rule'])}</code>", fmt(b["bit"]), fmt(b["points_cut"])]
               for b in report["budgets"]]
    inner = table(headers, rows)
    if limits:
        inner += "<h3>Caps and budgets that bit</h3>" + table(["Limit", "Times", "Points cut"], limits)
    for budget in report["budgets"]:
        inner += (f'<p class="muted">Budget <code>{escape(budget["rule"])}</code>: {fmt(budget["used"])} of '
                  f'{fmt(budget["max_points"])} points used.</p>')
    return _section("rules", "Rules", inner)


def _tiers(report: dict) -> str:
    tiers = report["tiers"]
    if not tiers["levels"]:
        return _section("tiers", "Tiers", '<p class="muted">This ruleset has no tiers.</p>')
    base = report.get("baseline", {}).get("tiers", {}).get("end", {})
    rows = [[escape(t), fmt(n)] + ([fmt(base.get(t, 0)), delta_cell(n - base.get(t, 0))] if base else [])
            for t, n in tiers["end"].items()]
    inner = table(_with_baseline(report, ["Tier", "Members at the end"]) if base else ["Tier", "Members at the end"],
                    rows)
    paths = [[escape(p["from"]), escape(p["to"]), fmt(p["members"])] for p in tiers["moves"]["paths"]]
    inner += (f"<h3>Tier moves: {fmt(tiers['moves']['up'])} up, {fmt(tiers['moves']['down'])} down</h3>"
              + table(["From", "To", "Moves"], paths, numeric_from=2))
    return _section("tiers", "Tiers", inner)


def _gates_and_bonuses(report: dict) -> str:
    fraud = [[f"<code>{escape(f['rule'])}</code>", fmt(f["fired"]),
              escape(", ".join(f"{k}: {v}" for k, v in f["actions"].items()))] for f in report["fraud"]]
    bonuses = [[f"<code>{escape(b['reward'])}</code>", fmt(b["paid"]), fmt(b["points"])]
               for b in report["streaks"] + report["achievements"]]
    inner = "<h3>Fraud and compliance rules that fired</h3>" + (
        table(["Rule", "Fired", "Actions"], fraud, numeric_from=1) if fraud else '<p class="muted">None fired.</p>')
    inner += "<h3>Streak and achievement bonuses</h3>" + (
        table(["Reward", "Paid", "Points"], bonuses) if bonuses else '<p class="muted">None paid.</p>')
    return _section("gates", "Fraud, streaks and achievements", inner)


def _rejections(report: dict) -> str:
    rows = [[escape(r["outcome"]), escape(r["reason"]), fmt(r["events"]),
             f'line {fmt(r["example"]["line"])}: <code>{escape(r["example"]["event_id"])}</code>']
            for r in report["rejections"]]
    groups = [[escape(g["file"]), escape(g["reason"]), fmt(g["rows"]),
               f'line {fmt(g["example"]["line"])}: {escape(g["example"]["reason"])}']
              for g in report["input"]["bad_rows_by_reason"]]
    bad = [[escape(b["file"]), fmt(b["line"]), escape(b["reason"])] for b in report["input"]["bad_row_sample"]]
    inner = table(["Outcome", "Reason", "Events", "First"], rows, numeric_from=2) if rows else \
        '<p class="muted">No event was rejected.</p>'
    inner += f"<h3>Bad rows: {fmt(report['input']['bad_rows'])}</h3>"
    if groups:
        inner += table(["File", "Reason", "Rows", "First"], groups, numeric_from=2)
        inner += "<h3>The first bad rows</h3>" + table(["File", "Line", "Reason"], bad, numeric_from=1)
    return _section("rejections", "Rejections and bad rows", inner)


def _top(report: dict) -> str:
    rows = [[fmt(m["rank"]), f'<a href="#{m["anchor"]}">{escape(m["member"])}</a>', fmt(m["points_issued"]),
             fmt(m["liability_points"]), escape(m["tier"] or "–"), fmt(m["events"])]
            for m in report["top_members"]]
    return _section("top", "Top members by points issued",
                    table(["#", "Member", "Issued", "Balance", "Tier", "Events"], rows, numeric_from=2))


def _decision(d: dict) -> str:
    fired = ", ".join(d.get("fired") or []) or "–"
    summary = (f'<span class="tag {escape(d["outcome"])}">{escape(d["outcome"])}</span> '
               f'<code>{escape(str(d["event_id"]))}</code> {escape(str(d.get("type") or ""))} '
               f'{escape(str(d.get("time") or ""))}: {escape(str(d["points"]))} points; fired: {escape(fired)}')
    if d.get("reason"):
        summary += f' <span class="muted">({escape(d["reason"])})</span>'
    detail = json.dumps({"effects": d.get("effects"), "trace": d.get("trace")}, indent=1, ensure_ascii=False)
    return f"<details><summary>{summary}</summary><pre>{escape(detail)}</pre></details>"


def _traces(report: dict) -> str:
    parts = []
    for member in report["top_members"]:
        items = "".join(_decision(d) for d in member.get("decisions", []))
        parts.append(f'<div id="{member["anchor"]}"><h3>{escape(member["member"])}</h3>{items}</div>')
    return _section("traces", "Traces of the top members", "".join(parts)) if parts else ""


def _changed(report: dict) -> str:
    diff = report.get("diff")
    if not diff:
        return ""
    counts = diff["members_changed"]
    inner = (f"<p>{fmt(counts['members'])} members changed: {fmt(counts['points'])} in points, "
             f"{fmt(counts['outcome'])} in outcomes, {fmt(counts['tier'])} in their final tier. "
             "The members with the largest changes, and their first differing events:</p>")
    for member in diff["changed_members"]:
        issued = member["points_issued"]
        inner += (f"<h3>{escape(member['member'])}: issued {fmt(issued['old'])} → {fmt(issued['new'])}, "
                  f"tier {escape(str(member['tier']['old']))} → {escape(str(member['tier']['new']))}</h3>")
        for pair in member["events"]:
            inner += f"<div><b>new</b> {_decision(pair['new'])}<b>old</b> {_decision(pair['old'])}</div>"
    return _section("changed", "Members whose outcome changed", inner)


def detail_sections(report: dict) -> str:
    return (_totals(report) + _months(report) + _rules(report) + _tiers(report) + _gates_and_bonuses(report)
            + _rejections(report) + _top(report) + _changed(report) + _traces(report))
