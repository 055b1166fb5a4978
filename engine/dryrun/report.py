"""The report: figures of one ruleset over the replay, as a JSON-ready dict.

The schema (``punchcard.dry-run/1``) is documented field by field in
docs/dry-run.md. Money and points are Decimals here and exact strings in JSON.
``build_report`` adds ``baseline`` and ``diff`` when a second ruleset was replayed. A side
whose ruleset has variants also has ``variants`` (its figures per variant); a ruleset
without variants reports exactly what it did before variants existed.
"""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.runtime.decision import Outcome, to_jsonable

from .account import compact
from .diff import build_diff
from .owner import owner_figures, share_of
from .partial import MemberSummary
from .tally import FLOWS, JUST_BEFORE, REDEMPTION_PARTS, Tally, month_of
from .vouchers_view import vouchers_report

__all__ = ["build_report", "side_report", "SCHEMA", "month_range", "RATIO"]

SCHEMA = "punchcard.dry-run/1"
ZERO = Decimal(0)
RATIO = Decimal("0.000001")


def build_report(result, map_json: dict | None = None) -> dict:
    """The whole report, traces included (``json_view`` strips what JSON output leaves out)."""
    partial = result.partial
    sides = [side_report(result, i) for i in range(len(result.sides))]
    report = {"schema": SCHEMA, "input": _input(result, map_json), **sides[0]}
    if len(sides) > 1:
        report["baseline"] = sides[1]
        report["diff"] = build_diff(sides[0], sides[1], partial)
        models = [side.compiled.model for side in result.sides]
        report["diff"].update(owner_figures(report, partial.tallies[0].change, models[0], models[1]))
    return report


def _input(result, map_json) -> dict:
    bad = result.partial.bad
    return {
        "events": result.source, "rows": result.rows, "filtered_out": result.filtered,
        "bad_rows": bad.count,
        "bad_rows_by_reason": bad.groups(),
        "bad_row_sample": [{"file": f, "line": line, "reason": reason} for f, line, reason in sorted(bad.rows)],
        "start": result.start, "end": result.end, "passes": result.passes, "map": map_json or None,
        # only with --ignore-effective: a report without it reads as before
        **({"ignore_effective": True} if any(side.ignore_effective for side in result.sides) else {}),
    }


def side_report(result, number: int) -> dict:
    tally: Tally = result.partial.tallies[number]
    compiled = result.sides[number].compiled
    model = compiled.model
    months = _months(tally, model.point_value, result)
    totals = _totals(tally, model.point_value, result.partial.bad.count)  # left out of both sides alike
    side = {
        "ruleset": model.label, "currency": model.currency, "point_value": model.point_value,
        "rounding_step": model.rounding.step,
        "totals": totals, "checks": _checks(tally, totals),
        "outcomes": {outcome: tally.outcomes.get(outcome, 0) for outcome in Outcome.ALL},
        "rejections": _rejections(tally), "by_month": months, "by_rule": _rules(tally),
        "caps": [{"cap": k, "bit": v[0], "points_cut": v[1]} for k, v in sorted(tally.caps.items())],
        "budgets": _budgets(tally, result.sides[number]), "tiers": _tiers(tally, model), "fraud": _fraud(tally),
        "streaks": _bonuses(tally, streaks=True), "achievements": _bonuses(tally, streaks=False),
        "badges": [{"achievement": k, "members": v} for k, v in sorted(tally.badges.items())],
        "sources": [{"source": k, "lots": v[0], "points": v[1]} for k, v in sorted(tally.sources.items())],
        "top_members": _top(result.partial.leaders[number].members),
    }
    if model.messages is not None:  # only then: a ruleset without messages reports exactly as before
        side["messages"] = _messages(tally)
    if model.conversion is not None:  # only then: a ruleset without conversion reports exactly as before
        side["vouchers"] = vouchers_report(tally, model.currency)
        totals["liability_money"] += tally.vouchers.get("held_money", ZERO)  # vouchers still held are owed too
    if compiled.split is not None:  # only then: a ruleset without variants reports exactly as before
        side["variants"] = _variants(tally, compiled, against=len(result.sides) > 1)
    return side


def _messages(tally: Tally) -> dict:
    """Messages chosen and suppressed, per kind and channel, and the suppressions by reason."""
    kinds: dict[tuple[str, str], dict] = {}
    reasons: dict[str, int] = {}
    for (message, channel, status), count in sorted(tally.messages.items()):
        row = kinds.setdefault((message, channel), {"message": message, "channel": channel, "sent": 0,
                                                    "suppressed": 0, "reasons": {}})
        if status == "sent":
            row["sent"] += count
            continue
        row["suppressed"] += count
        row["reasons"][status] = row["reasons"].get(status, 0) + count
        reasons[status] = reasons.get(status, 0) + count
    rows = list(kinds.values())
    return {"sent": sum(r["sent"] for r in rows), "suppressed": sum(r["suppressed"] for r in rows),
            "by_reason": dict(sorted(reasons.items())), "kinds": rows}


def _flow_totals(tally: Tally) -> dict[str, Decimal]:
    out = {name: ZERO for name in FLOWS}
    for counter in tally.months.values():
        for name in FLOWS:
            out[name] += counter.get(name, ZERO)
    return out


def _redemption_parts(tally: Tally) -> dict[str, Decimal]:
    """Points redeemed gross and reversed (``points_redeemed`` is their net), only when some
    redemption was reversed: without one, gross is the net and there is nothing to add."""
    parts = {part: ZERO for part in REDEMPTION_PARTS.values()}
    for counter in tally.months.values():
        for part in parts:
            parts[part] += counter.get(part, ZERO)
    if not parts["redeemed_reversed"]:
        return {}
    return {f"points_{part}": value for part, value in parts.items()}


def _totals(tally: Tally, point_value: Decimal, bad_rows: int) -> dict:
    flows = _flow_totals(tally)
    refused = tally.outcomes.get(Outcome.REJECTED, 0) + tally.outcomes.get(Outcome.BLOCKED, 0)
    issued = flows["issued"]
    return {
        "events": sum(tally.outcomes.values()), "applied": tally.outcomes.get(Outcome.APPLIED, 0),
        "review": tally.outcomes.get(Outcome.REVIEW, 0), "duplicates": tally.outcomes.get(Outcome.DUPLICATE, 0),
        "blocked": tally.outcomes.get(Outcome.BLOCKED, 0), "rejected": refused, "bad_rows": bad_rows,
        "members": tally.members,
        **{f"points_{name}": value for name, value in flows.items()},
        **_redemption_parts(tally),
        "opening_liability_points": tally.opening, "liability_points": tally.liability,
        "liability_money": tally.liability * point_value, "pending_points": tally.pending,
        "points_issued_money": issued * point_value,
        "breakage": (flows["expired"] / issued).quantize(RATIO) if issued else None,
    }


def _checks(tally: Tally, totals: dict) -> dict:
    """The figures agree with themselves: flows add up to the members' end balances."""
    net = sum((totals[f"points_{name}"] * (1 if name == "issued" else -1) for name in FLOWS), ZERO) \
        - tally.vouchers.get("points_converted", ZERO)  # points that became vouchers (0 without conversion)
    counters = {"issued": "issued", "redeemed": "redeemed", "expired": "expired", "clawed_back": "clawed_back",
                "adjusted_down": "adjusted_down", "voided": "voided"}
    agree = all(tally.lifetime.get(key, ZERO) == totals[f"points_{name}"] for name, key in counters.items())
    return {"liability_reconciles": tally.opening + net == tally.liability, "member_counters_agree": agree}


_DECEMBER = 12


def month_range(keys) -> list[str]:
    keys = sorted(k for k in keys if k)
    if not keys:
        return []
    year, month = map(int, keys[0].split("-"))
    last = keys[-1]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append(key)
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == _DECEMBER else (year, month + 1)


def _months(tally: Tally, point_value: Decimal, result) -> list[dict]:
    end = result.end - JUST_BEFORE if result.end is not None else None  # the end instant closes its month
    bounds = [m for m in (_month_key(result.start, tally), _month_key(end, tally)) if m]
    liability = tally.opening
    rows = []
    for month in month_range(list(tally.months) + bounds):
        counter = tally.months.get(month, {})
        flows = {name: counter.get(name, ZERO) for name in FLOWS}
        liability += flows["issued"] - sum((flows[n] for n in FLOWS if n != "issued"), ZERO) \
            - counter.get("converted", ZERO)  # converted into vouchers (none without conversion)
        rows.append({"month": month, "events": counter.get("events", 0),
                     "rejected": counter.get(Outcome.REJECTED, 0) + counter.get(Outcome.BLOCKED, 0),
                     **{f"points_{name}": value for name, value in flows.items()},
                     "liability_points": liability, "liability_money": liability * point_value,
                     "tier_up": counter.get("tier_up", 0), "tier_down": counter.get("tier_down", 0)})
    return rows


def _month_key(moment, tally: Tally) -> str | None:
    if moment is None:
        return None
    return month_of(moment, tally.tz)


def _rejections(tally: Tally) -> list[dict]:
    rows = [{"outcome": outcome, "reason": reason, "events": count,
             "example": {"line": example.line, "event_id": example.event_id}}
            for (outcome, reason), (count, example) in tally.reasons.items()]
    return sorted(rows, key=lambda r: (-r["events"], r["outcome"], r["reason"]))


def _rules(tally: Tally) -> list[dict]:
    rows = [{"rule": rule, "fired": v[0], "paid": v[2], "points": v[1]} for rule, v in tally.rules.items()]
    return sorted(rows, key=lambda r: (-r["points"], r["rule"]))


def _budgets(tally: Tally, side) -> list[dict]:
    """Every budget the replay kept: the ruleset's, and with variants those a variant adds, each
    with the variants whose program has it (the limit is the one the replay held, :mod:`.sides`)."""
    split = side.compiled.split
    held: dict[str, list[str]] = {}
    for name, program in (split.programs.items() if split is not None else ()):
        for budget in program.model.earning.budgets:
            held.setdefault(budget.rule, []).append(name)
    rows = []
    for rule, limit in side.budgets.items():
        bit, cut, used = tally.budgets.get(rule, (0, ZERO, ZERO))
        row = {"rule": rule, "max_points": limit, "used": used, "left": max(limit - used, ZERO), "bit": bit,
               "points_cut": cut}
        if split is not None:
            row["variants"] = held.get(rule, [])
        rows.append(row)
    return rows


_NO_MEMBER = (0, ZERO, ZERO, 0, ZERO, 0, 0)  # a variant nobody was dealt (a share of 0%, or few members)


def _variants(tally: Tally, compiled, against: bool) -> list[dict]:
    """Per variant, in the order written: its members, points issued and cost (points given out and
    kept, valued at the variant's point worth), per member; with ``against`` the change on its members."""
    split, step = compiled.split, compiled.model.rounding.step
    arms = {arm.name: arm for arm in compiled.model.variants.arms}
    rows = []
    for name, share in split.shares:
        program = split.programs[name]
        members, issued, kept, changed, delta, more, fewer = tally.variants.get(name, _NO_MEMBER)
        money, cent = kept * program.model.point_value, Decimal(1).scaleb(-program.model.money_places)
        row = {"variant": name, "share": share, "description": arms[name].description, "ruleset": program.label,
               "members": members, "points_issued": issued, "cost": {"points": kept, "money": money},
               "cost_per_member": {"points": share_of(kept, members, step), "money": share_of(money, members, cent)}}
        if against:
            row["change"] = {"members": changed, "points": delta, "per_member": share_of(delta, changed, step),
                             "more": more, "fewer": fewer}
        rows.append(row)
    return rows


def _tiers(tally: Tally, model) -> dict:
    levels = [level.name for level in model.tiers.levels] if model.tiers else []
    paths = [{"from": a, "to": b, "members": n} for (a, b), n in sorted(tally.tier_paths.items())]
    up = sum(row["members"] for row in paths if levels and levels.index(row["to"]) > levels.index(row["from"]))
    return {"levels": levels, "end": {name: tally.tier_end.get(name, 0) for name in levels},
            "moves": {"up": up, "down": sum(r["members"] for r in paths) - up, "paths": paths}}


def _fraud(tally: Tally) -> list[dict]:
    return [{"rule": rule, "fired": sum(actions.values()), "actions": dict(sorted(actions.items()))}
            for rule, actions in sorted(tally.gates.items())]


def _bonuses(tally: Tally, streaks: bool) -> list[dict]:
    rows = [{"reward": label, "paid": v[0], "points": v[1]} for label, v in sorted(tally.bonuses.items())
            if label.startswith("achievement:") != streaks]
    return rows


def _top(members: list[MemberSummary]) -> list[dict]:
    return [{"rank": rank, "member": s.member, "anchor": member_anchor(s.member), **s.figures,
             "decisions": [compact(line, d) for line, d in s.decisions]} for rank, s in enumerate(members, 1)]


def member_anchor(member: str) -> str:
    import hashlib

    return "member-" + hashlib.sha1(member.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def to_json_report(report: dict) -> dict:
    """What ``--format json`` prints: Decimals as strings, and top members' traces as event ids only."""
    out = dict(report)
    out["top_members"] = [{k: v for k, v in row.items() if k != "decisions"} for row in report["top_members"]]
    if "baseline" in report:
        baseline = dict(report["baseline"])
        baseline["top_members"] = [{k: v for k, v in r.items() if k != "decisions"} for r in baseline["top_members"]]
        out["baseline"] = baseline
    return to_jsonable(out)
