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
from .figures import cost_delta_span, legend, percent_text, points_text, step_of
from .owner_html import owner_sections
from .sections import detail_sections, variants_section

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
    worth = f"a point is worth {fmt(report['point_value'])} {report['currency']}"
    return (f"<header><h1>{escape(title)}</h1><p>{escape(str(source['events']))}: {fmt(source['rows'])} rows, "
            f"{fmt(report['totals']['events'])} events, {fmt(report['totals']['members'])} members; "
            f"{escape(span)}; {escape(worth)}</p></header>")


def money_is_points(report: dict) -> bool:
    """A point worth exactly 1 of the currency: money figures repeat the points, and are not shown twice."""
    sides = [report] + ([report["baseline"]] if "baseline" in report else [])
    return all(Decimal(str(side["point_value"])) == 1 and side["currency"] == report["currency"] for side in sides)


_CARDS = [("Events", "events"), ("Points issued", "points_issued"), ("Points redeemed", "points_redeemed"),
          ("Points expired", "points_expired"), ("Liability (points)", "liability_points"),
          ("Liability (money)", "liability_money"), ("Breakage", "breakage")]


def _card_value(key: str, value, step: Decimal) -> str:
    if key == "breakage":
        return percent_text(value)
    return points_text(value, step) if "points" in key else fmt(value)


def _cards(report: dict) -> str:
    totals, diff, step = report["totals"], report.get("diff", {}).get("totals", {}), step_of(report)
    items = [(label.replace("money", report["currency"]), key) for label, key in _CARDS
             if not (key == "liability_money" and money_is_points(report))]
    cards = []
    for label, key in items:
        delta = diff.get(key)
        extra = ""
        if delta is not None and "baseline" in report:
            extra = f'<div class="delta">{cost_delta_span(key, delta, step)} vs baseline</div>'
        cards.append(f'<div class="card"><div class="label">{escape(label)}</div>'
                     f'<div class="value">{_card_value(key, totals.get(key), step)}</div>{extra}</div>')
    # the legend shows once, with the cost of the change when there is one
    inner = f'<div class="cards">{"".join(cards)}</div>' + (legend() if "baseline" in report and
                                                            "rules" not in report.get("diff", {}) else "")
    return f'<section id="summary"><h2>Summary</h2>{inner}</section>'


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
    plain = money_is_points(report)
    body = (_header(report) + "<main>" + owner_sections(report) + _cards(report) + variants_section(report, plain)
            + _charts(report) + detail_sections(report, plain) + "</main>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(report['ruleset'])} dry-run</title><style>{_asset('report.css')}</style></head>"
        f"<body data-charts=\"{len(CHARTS)}\">{body}"
        f"<script type=\"application/json\" id=\"report-data\">{_json_script(chart_data(report))}</script>"
        f"<script>{_asset('chart.umd.js')}</script><script>{_asset('report.js')}</script></body></html>\n"
    )
