"""The A/B report as one self-contained HTML page, drawn like the dry-run's report.

It reuses the dry-run report's styles, its vendored Chart.js and its table helpers, read as
they are; its own short script (``assets/ab.js``) draws two charts: each figure per member by
variant, and each variant's uplift over the control with its 95% interval.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any

from punchcard.engine.runtime.decision import to_jsonable

from .cells import fmt, table

__all__ = ["render_ab_html", "AB_CHARTS"]

AB_CHARTS = ("chart-per-member", "chart-uplift")
_TITLES = {"chart-per-member": "Per member, by variant", "chart-uplift": "Uplift over the control, with 95% interval"}
_FIGURE_NAMES = {"spend": "spend", "visits": "visits", "points": "points cost"}


def _asset(name: str) -> str:
    return resources.files("punchcard.engine.dryrun").joinpath("assets", name).read_text(encoding="utf-8")


def _percent(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:+.1f}%"


def _variants(report: dict[str, Any]) -> str:
    rows = [[escape(v["variant"]), f"{fmt(v['share'])}%", fmt(v["members"]), fmt(v["expected_members"]),
             fmt(v["spend_per_member"]), fmt(v["visits_per_member"]), fmt(v["points_per_member"])]
            for v in report["variants"]]
    head = ["variant", "share", "members", "expected", "spend / member", "visits / member", "points cost / member"]
    return f'<section id="variants"><h2>Variants</h2>{table(head, rows)}</section>'


def _uplift(report: dict[str, Any]) -> str:
    rows = [[escape(u["variant"]), escape(_FIGURE_NAMES[u["figure"]]), fmt(u["control_mean"]), fmt(u["variant_mean"]),
             fmt(u["difference"]), f"{fmt(u['difference_low'])} to {fmt(u['difference_high'])}",
             _percent(u["uplift"]), f"{_percent(u['uplift_low'])} to {_percent(u['uplift_high'])}"]
            for u in report["uplift"]]
    head = ["variant", "per member", "control", "variant", "difference", "95% interval", "uplift", "95% interval"]
    note = (f"<p>Control: {escape(report['control'])}. Intervals: {escape(report['interval']['difference'])} for "
            f"the difference, {escape(report['interval']['uplift'])} for the uplift.</p>")
    return f'<section id="uplift"><h2>Uplift</h2>{note}{table(head, rows, 2)}</section>'


def _srm(report: dict[str, Any]) -> str:
    srm = report["srm"]
    verdict = ("the split differs from the stated shares: check the assignment before reading the uplift"
               if srm["mismatch"] else "the split matches the stated shares")
    return (f'<section id="srm"><h2>Sample ratio</h2><p class="{"bad" if srm["mismatch"] else "good"}">'
            f'{escape(verdict)} (chi-square {fmt(srm["chi_square"])}, {srm["df"]} degrees of freedom, '
            f'p = {fmt(srm["p_value"])}; a mismatch below p = {fmt(srm["alpha"])}).</p></section>')


def _charts() -> str:
    boxes = "".join(f'<div><h3>{escape(_TITLES[c])}</h3><div class="chart"><canvas id="{c}"></canvas></div></div>'
                    for c in AB_CHARTS)
    return f'<section id="charts"><h2>Charts</h2><div class="charts">{boxes}</div></section>'


def _data(report: dict[str, Any]) -> str:
    data = {"variants": report["variants"], "uplift": report["uplift"], "control": report["control"]}
    text = json.dumps(to_jsonable(data), ensure_ascii=False, separators=(",", ":"))
    # nothing in the data can close the script element or open a comment
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_ab_html(report: dict[str, Any]) -> str:
    report = to_jsonable(report)
    title = f"A/B report of {report['ruleset']}"
    header = (f"<header><h1>{escape(title)}</h1><p>{escape(str(report['source']))}: {fmt(report['members'])} "
              f"members; salt {escape(report['salt'])}</p></header>")
    body = header + "<main>" + _variants(report) + _uplift(report) + _srm(report) + _charts() + "</main>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_asset('report.css')}</style></head>"
        f"<body data-charts=\"{len(AB_CHARTS)}\">{body}"
        f"<script type=\"application/json\" id=\"report-data\">{_data(report)}</script>"
        f"<script>{_asset('chart.umd.js')}</script><script>{_asset('ab.js')}</script></body></html>\n"
    )
