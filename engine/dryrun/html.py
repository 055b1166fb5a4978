"""``--report FILE``: one self-contained HTML page with charts and the traces behind them.

Everything is inline: the styles, the page script, the report's data and Chart.js
itself (vendored under assets/ with its MIT license header), so the file opens
offline, from a mail attachment or a CI artifact, with no network at view time.
"""

from __future__ import annotations

import json
from decimal import Decimal
from html import escape
from importlib import resources

from punchcard.engine.runtime.decision import to_jsonable

from .cells import delta_cell, fmt, table
from .sections import detail_sections

__all__ = ["render_html", "chart_data", "CHARTS", "fmt", "table", "delta_cell"]

CHARTS = ("chart-issued", "chart-liability", "chart-tiers", "chart-rules")
_CHART_TITLES = {"chart-issued": "Points issued per month", "chart-liability": "Points liability at month end",
                 "chart-tiers": "Members per tier at the end", "chart-rules": "Points by rule"}


def _asset(name: str) -> str:
    return resources.files("punchcard.engine.dryrun").joinpath("assets", name).read_text(encoding="utf-8")


def chart_data(report: dict) -> dict:
    """What the charts draw: exact strings, turned into numbers only by the page script."""
    baseline = report.get("baseline")
    data = {"label": report["ruleset"], "months": _month_points(report["by_month"]), "baseline": None}
    old_tiers = baseline["tiers"]["end"] if baseline else {}
    data["tiers"] = [{"tier": t, "members": n, "baseline": old_tiers.get(t, 0)}
                     for t, n in report["tiers"]["end"].items()]
    old_rules = {r["rule"]: r["points"] for r in baseline["by_rule"]} if baseline else {}
    rules = [r["rule"] for r in report["by_rule"]] + [r for r in old_rules if r not in
                                                       {x["rule"] for x in report["by_rule"]}]
    new_rules = {r["rule"]: r["points"] for r in report["by_rule"]}
    data["rules"] = [{"rule": r, "points": new_rules.get(r, "0"), "baseline": old_rules.get(r, "0")} for r in rules]
    if baseline:
        data["baseline"] = {"label": baseline["ruleset"], "months": _aligned(report, baseline)}
    return data


def _month_points(rows: list[dict]) -> list[dict]:
    return [{"month": r["month"], "points_issued": r["points_issued"], "liability_points": r["liability_points"]}
            for r in rows]


def _aligned(report: dict, baseline: dict) -> list[dict]:
    old = {r["month"]: r for r in baseline["by_month"]}
    return [{"month": r["month"], "points_issued": old.get(r["month"], {}).get("points_issued", "0"),
             "liability_points": old.get(r["month"], {}).get("liability_points", "0")} for r in report["by_month"]]


def _header(report: dict) -> str:
    against = report.get("baseline")
    title = f"Dry-run of {report['ruleset']}" + (f" against {against['ruleset']}" if against else "")
    source = report["input"]
    span = f"{source.get('start') or '–'} to {source.get('end') or '–'}"
    return (f"<header><h1>{escape(title)}</h1><p>{escape(str(source['events']))}: {fmt(source['rows'])} rows, "
            f"{fmt(report['totals']['events'])} events, {fmt(report['totals']['members'])} members; "
            f"{escape(span)}</p></header>")


def _cards(report: dict) -> str:
    totals, diff = report["totals"], report.get("diff", {}).get("totals", {})
    items = [("Events", "events"), ("Points issued", "points_issued"), ("Points redeemed", "points_redeemed"),
             ("Points expired", "points_expired"), ("Liability (points)", "liability_points"),
             (f"Liability ({report['currency']})", "liability_money"), ("Breakage", "breakage")]
    cards = []
    for label, key in items:
        delta = diff.get(key)
        extra = f'<div class="delta">{"+" if delta and Decimal(str(delta)) > 0 else ""}{fmt(delta)} vs baseline</div>' \
            if delta is not None and "baseline" in report else ""
        cards.append(f'<div class="card"><div class="label">{escape(label)}</div>'
                     f'<div class="value">{fmt(totals.get(key))}</div>{extra}</div>')
    if "diff" in report:
        cost = report["diff"]["cost"]
        money = f"{fmt(cost['money'])} {escape(cost['currency'] or '')}" if cost["money"] is not None else "–"
        cards.append(f'<div class="card"><div class="label">Cost of the change</div><div class="value">{money}</div>'
                     f'<div class="delta">{fmt(cost["points"])} points</div></div>')
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'


def _charts(report: dict) -> str:
    boxes = "".join(f'<div><h3>{escape(_CHART_TITLES[c])}</h3><div class="chart"><canvas id="{c}"></canvas></div></div>'
                    for c in CHARTS)
    return f'<section id="charts"><h2>Charts</h2><div class="charts">{boxes}</div></section>'


def _json_script(data: dict) -> str:
    text = json.dumps(to_jsonable(data), ensure_ascii=False, separators=(",", ":"))
    # nothing in the data can close the script element or open a comment
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(report: dict) -> str:
    report = to_jsonable(report)
    body = _header(report) + "<main>" + _cards(report) + _charts(report) + detail_sections(report) + "</main>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(report['ruleset'])} dry-run</title><style>{_asset('report.css')}</style></head>"
        f"<body data-charts=\"{len(CHARTS)}\">{body}"
        f"<script type=\"application/json\" id=\"report-data\">{_json_script(chart_data(report))}</script>"
        f"<script>{_asset('chart.umd.js')}</script><script>{_asset('report.js')}</script></body></html>\n"
    )
