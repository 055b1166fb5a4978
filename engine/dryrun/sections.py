"""The report page's tables and trace listings (the charts are in :mod:`.html`, the owner's
sections at the top in :mod:`.owner_html`), and the variants of a ruleset that has them.

Every value is escaped here. The report given is JSON-ready (strings for Decimals);
points are shown to the rounding step, breakage as a percentage, and a difference is
coloured by what it means to the program's cost (:mod:`.figures`). Each figure has
one row: rejected events are split into those a fraud or compliance rule blocked and
the rest, and when a point is worth exactly 1 of the currency, money figures (the same
numbers) are not repeated.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from .cells import fmt, table
from .figures import COST_UP, NEUTRAL, cost_delta_cell, legend, percent_text, points_text, step_of
from .messages_view import messages_section
from .traces import decision_details, pair_details
from .vouchers_view import vouchers_section

__all__ = ["shown_total", "detail_sections", "variants_section", "variant_bars_svg", "TOTAL_LABELS", "OTHER_REJECTED",
           "VARIANT_COST"]

OTHER_REJECTED = "rejected_other"  # rejected, less blocked: shown instead of the JSON's overlapping sum
TOTAL_LABELS = [
    ("events", "Events"), ("applied", "Applied"), ("review", "Held for review"), ("duplicates", "Duplicates"),
    ("blocked", "Blocked by fraud or compliance"), (OTHER_REJECTED, "Rejected for other reasons"),
    ("bad_rows", "Bad rows"), ("members", "Members"), ("points_issued", "Points issued"),
    ("points_redeemed_gross", "Points redeemed (gross)"), ("points_redeemed_reversed", "Points redeemed, reversed"),
    ("points_redeemed", "Points redeemed"), ("points_expired", "Points expired"),
    ("points_clawed_back", "Points clawed back"), ("points_adjusted_down", "Points adjusted down"),
    ("points_voided", "Points voided"), ("opening_liability_points", "Opening liability (points)"),
    ("liability_points", "Liability at the end (points)"), ("liability_money", "Liability at the end (money)"),
    ("pending_points", "Pending at the end (points)"), ("points_issued_money", "Points issued (money)"),
    ("breakage", "Breakage (expired / issued)"),
]
_MONEY = frozenset(("liability_money", "points_issued_money"))
OPTIONAL_TOTALS = frozenset(("points_redeemed_gross", "points_redeemed_reversed"))
VARIANT_COST = ("the points a variant gives its members and does not take back (issued - expired - clawed back - "
                "adjusted down - voided): points they redeem or still hold at the end, valued at the point's worth")
_BAR_W, _BAR_LEFT, _BAR_RIGHT, _BAR_ROW, _BAR_TOP = 960, 200, 150, 30, 8  # the variants' bars, in px


def _section(anchor: str, title: str, inner: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{inner}</section>'


def _with_baseline(report: dict, headers: list[str]) -> list[str]:
    return headers + (["Baseline", "Δ"] if "baseline" in report else [])


def _total(totals: dict, key: str):
    if key == OTHER_REJECTED:
        rejected, blocked = totals.get("rejected"), totals.get("blocked")
        return None if rejected is None or blocked is None else Decimal(str(rejected)) - Decimal(str(blocked))
    return totals.get(key)


def shown_total(report: dict, key: str) -> bool:
    """Redemptions gross and reversed are figures only a report with a reversal has (on either side)."""
    if key not in OPTIONAL_TOTALS:
        return True
    return key in report["totals"] or key in report.get("baseline", {}).get("totals", {})


def _figure(key: str, value, step: Decimal) -> str:
    if key == "breakage":
        return percent_text(value)
    return points_text(value, step) if "points" in key else fmt(value)


def _totals(report: dict, money_is_points: bool) -> str:
    base = report.get("baseline", {}).get("totals", {})
    diff, step = report.get("diff", {}).get("totals", {}), step_of(report)
    rows = []
    for key, label in TOTAL_LABELS:
        if (money_is_points and key in _MONEY) or not shown_total(report, key):
            continue
        row = [escape(label), _figure(key, _total(report["totals"], key), step)]
        if "baseline" in report:
            row += [_figure(key, _total(base, key), step), cost_delta_cell(key, _total(diff, key), step)]
        rows.append(row)
    return _section("totals", "Totals", table(_with_baseline(report, ["Figure", report["ruleset"]]), rows))


def _months(report: dict, money_is_points: bool) -> str:
    fields = ["events", "rejected", "points_issued", "points_redeemed", "points_expired", "points_clawed_back",
              "liability_points", "liability_money", "tier_up", "tier_down"]
    headers = ["Month", "Events", "Rejected", "Issued", "Redeemed", "Expired", "Clawed back", "Liability",
               f"Liability ({report['currency']})", "Tier ups", "Tier downs"]
    if money_is_points:
        del fields[7], headers[8]
    diff, step = {r["month"]: r for r in report.get("diff", {}).get("by_month", [])}, step_of(report)
    rows = []
    for row in report["by_month"]:
        cells = [escape(row["month"])] + [_figure(f, row[f], step) for f in fields]
        if diff:
            cells.append(cost_delta_cell("points_issued", diff.get(row["month"], {}).get("points_issued"), step))
        rows.append(cells)
    return _section("months", "By month", table(headers + (["Δ issued"] if diff else []), rows))


def _limits(report: dict, step: Decimal) -> str:
    limits = [[f"<code>{escape(c['cap'])}</code>", fmt(c["bit"]), points_text(c["points_cut"], step)]
              for c in report["caps"]]
    limits += [[f"<code>budget:{escape(b['rule'])}</code>", fmt(b["bit"]), points_text(b["points_cut"], step)]
               for b in report["budgets"]]
    inner = "<h3>Caps and budgets that bit</h3>" + table(["Limit", "Times", "Points cut"], limits) if limits else ""
    for budget in report["budgets"]:
        held = budget.get("variants")  # with variants: whose program has the budget
        where = "" if held is None else (" (in the variants " + ", ".join(f"<code>{escape(v)}</code>" for v in held)
                                         + ")" if held else " (in no variant)")
        inner += (f'<p class="muted">Budget <code>{escape(budget["rule"])}</code>{where}: '
                  f'{points_text(budget["used"], step)} of {points_text(budget["max_points"], step)} points used.</p>')
    return inner


def variant_bars_svg(rows: list[dict], step: Decimal) -> str:
    """The cost per member of each variant, as horizontal bars (an inline SVG, like the histogram), in
    the colour of the version under test: a cost, not a difference, so neither cost colour."""
    values = [max(Decimal(str(r["cost_per_member"]["points"] or 0)), Decimal(0)) for r in rows]
    most, span = max(values, default=Decimal(0)) or Decimal(1), _BAR_W - _BAR_LEFT - _BAR_RIGHT
    height = _BAR_TOP * 2 + _BAR_ROW * len(rows)
    parts = []
    for index, (row, value) in enumerate(zip(rows, values, strict=True)):
        y, wide = _BAR_TOP + index * _BAR_ROW, int(value * span / most)
        label = escape(row["variant"])
        each = f"{points_text(row['cost_per_member']['points'], step)} points per member"
        parts.append(f'<text class="tick" x="{_BAR_LEFT - 8}" y="{y + 18}">{label}</text>'
                     f'<rect style="fill: var(--new)" x="{_BAR_LEFT}" y="{y + 5}" width="{wide}" '
                     f'height="{_BAR_ROW - 10}"><title>{label}: {each}</title></rect>'
                     f'<text x="{_BAR_LEFT + wide + 6}" y="{y + 18}">{each}</text>')
    return (f'<svg class="histogram variants" role="img" viewBox="0 0 {_BAR_W} {height}" width="{_BAR_W}" '
            f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>Cost per member by variant</title>'
            f'{"".join(parts)}</svg>')


def _variant_table(side: dict, against: bool, money_is_points: bool) -> str:
    step, currency = step_of(side), escape(side["currency"])
    headers = ["Variant", "Share", "Members", "Points issued", "Cost (points)", f"Cost ({currency})",
               "Cost per member", f"Per member ({currency})"]
    if money_is_points:
        del headers[7], headers[5]
    if against:
        headers += ["Δ points", "Δ per member", "Get more", "Get fewer"]
    rows = []
    for row in side["variants"]:
        cost, each = row["cost"], row["cost_per_member"]
        name = f"<code>{escape(row['variant'])}</code>" + (f'<br><span class="muted">{escape(row["description"])}'
                                                           "</span>" if row["description"] else "")
        cells = [name, f"{fmt(row['share'])}%", fmt(row["members"]), points_text(row["points_issued"], step),
                 points_text(cost["points"], step), fmt(cost["money"]), points_text(each["points"], step),
                 fmt(each["money"])]
        if money_is_points:
            del cells[7], cells[5]
        if against:
            change = row["change"]
            cells += [cost_delta_cell("points", change["points"], step, COST_UP),
                      cost_delta_cell("points", change["per_member"], step, COST_UP), fmt(change["more"]),
                      fmt(change["fewer"])]
        rows.append(cells)
    return table(headers, rows) + f'<div class="svg-chart">{variant_bars_svg(side["variants"], step)}</div>'


def variants_section(report: dict, money_is_points: bool = False) -> str:
    """Per variant of each side that has variants: members, points issued, cost, and the change ("" without)."""
    sides = [s for s in (report, report.get("baseline")) if s is not None and "variants" in s]
    if not sides:
        return ""
    against = "baseline" in report
    inner = (f'<p class="definition">Each member ran the variant a hash of the salt and their id gives them. '
             f"<b>Cost</b>: {escape(VARIANT_COST)}."
             + (" Δ: the cost of the change on the variant's members, new version - old." if against else "")
             + "</p>")
    for side in sides:
        title = f"<h3>{escape(side['ruleset'])}" + (" (the baseline)" if side is not report else "") + "</h3>"
        inner += (title if against else "") + _variant_table(side, against, money_is_points)
    return _section("variants", "Variants", inner + (legend() if against else ""))


def _rules(report: dict) -> str:
    diff, step = {r["rule"]: r for r in report.get("diff", {}).get("by_rule", [])}, step_of(report)
    rows = []
    for row in report["by_rule"]:
        cells = [f"<code>{escape(row['rule'])}</code>", fmt(row["fired"]), fmt(row["paid"]),
                 points_text(row["points"], step)]
        if diff:
            cells.append(cost_delta_cell("points", diff.get(row["rule"], {}).get("points"), step, COST_UP))
        rows.append(cells)
    headers = ["Rule", "Fired", "Paid", "Points"] + (["Δ points"] if diff else [])
    note = ('<p class="muted">A rule\'s points are its share of each event\'s points after stacking, caps and '
            "rounding, shown to the rounding step.</p>")
    return _section("rules", "Rules", note + table(headers, rows) + _limits(report, step))


def _tiers(report: dict) -> str:
    tiers, step = report["tiers"], step_of(report)
    if not tiers["levels"]:
        return _section("tiers", "Tiers", '<p class="muted">This ruleset has no tiers.</p>')
    base = report.get("baseline", {}).get("tiers", {}).get("end", {})
    rows = [[escape(t), fmt(n)] + ([fmt(base.get(t, 0)), cost_delta_cell("members", n - base.get(t, 0), step,
                                                                          NEUTRAL)] if base else [])
            for t, n in tiers["end"].items()]
    headers = _with_baseline(report, ["Tier", "Members at the end"]) if base else ["Tier", "Members at the end"]
    paths = [[escape(p["from"]), escape(p["to"]), fmt(p["members"])] for p in tiers["moves"]["paths"]]
    inner = table(headers, rows) + (f"<h3>Tier moves: {fmt(tiers['moves']['up'])} up, "
                                    f"{fmt(tiers['moves']['down'])} down</h3>"
                                    + table(["From", "To", "Moves"], paths, numeric_from=2))
    return _section("tiers", "Tiers", inner)


def _gates_and_bonuses(report: dict) -> str:
    step = step_of(report)
    fraud = [[f"<code>{escape(f['rule'])}</code>", fmt(f["fired"]),
              escape(", ".join(f"{k}: {v}" for k, v in f["actions"].items()))] for f in report["fraud"]]
    bonuses = [[f"<code>{escape(b['reward'])}</code>", fmt(b["paid"]), points_text(b["points"], step)]
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
    step = step_of(report)
    rows = [[fmt(m["rank"]), f'<a href="#{m["anchor"]}">{escape(m["member"])}</a>',
             points_text(m["points_issued"], step), points_text(m["liability_points"], step),
             escape(m["tier"] or "–"), fmt(m["events"])]
            for m in report["top_members"]]
    return _section("top", "Top members by points issued",
                    table(["#", "Member", "Issued", "Balance", "Tier", "Events"], rows, numeric_from=2))


def _traces(report: dict) -> str:
    parts, step = [], step_of(report)
    for member in report["top_members"]:
        items = "".join(decision_details(d, step) for d in member.get("decisions", []))
        parts.append(f'<div id="{member["anchor"]}"><h3>{escape(member["member"])}</h3>{items}</div>')
    return _section("traces", "Traces of the top members", "".join(parts)) if parts else ""


def _changed(report: dict) -> str:
    diff, step = report.get("diff"), step_of(report)
    if not diff:
        return ""
    counts = diff["members_changed"]
    inner = (f"<p>{fmt(counts['members'])} members changed: {fmt(counts['points'])} in points, "
             f"{fmt(counts['outcome'])} in outcomes, {fmt(counts['tier'])} in their final tier. "
             "The members with the largest changes, and their first differing events, old beside new "
             "(open one for its trace, step by step):</p>")
    for number, member in enumerate(diff["changed_members"]):
        issued, tier = member["points_issued"], member["tier"]
        moved = "" if tier["old"] == tier["new"] else f", tier {escape(str(tier['old']))} → {escape(str(tier['new']))}"
        inner += (f"<h3>{escape(member['member'])}: issued {points_text(issued['old'], step)} → "
                  f"{points_text(issued['new'], step)}{moved} ({escape(str(tier['new'] or '–'))})</h3>")
        inner += "".join(pair_details(pair["old"], pair["new"], step, opened=number == index == 0)
                         for index, pair in enumerate(member["events"]))  # the first opened, as an example
    return _section("changed", "Members whose outcome changed", inner)


def detail_sections(report: dict, money_is_points: bool = False) -> str:
    return (_totals(report, money_is_points) + _months(report, money_is_points) + _rules(report) + _tiers(report)
            + _gates_and_bonuses(report) + messages_section(report) + vouchers_section(report) + _rejections(report)
            + _top(report)
            + _changed(report) + _traces(report))
