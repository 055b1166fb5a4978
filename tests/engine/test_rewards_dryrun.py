"""The dry-run of redemptions with terms: points redeemed gross, reversed and net (a report
shows the first two only when some redemption was reversed), and a reward's stock replayed
across members exactly as one engine over all of them decides it."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

from rich.console import Console

import punchcard
from punchcard.engine import Engine
from punchcard.engine.dryrun import Options, dry_run
from punchcard.engine.dryrun.html import render_html
from punchcard.engine.dryrun.report import build_report
from punchcard.engine.dryrun.sections import shown_total
from punchcard.engine.dryrun.tables import print_tables

RULESETS = Path(__file__).parents[2] / "rulesets"
BAZAAR = RULESETS / "beauty-rewards.yaml"
BEANS = RULESETS / "beans-pay.yaml"


def _write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def _event(kind: str, event_id: str, member: str, time: str, **fields) -> dict:
    return {"type": kind, "id": event_id, "member": member, "time": time, **fields}


def _report(ruleset: Path, path: Path) -> dict:
    return build_report(dry_run(Options(ruleset, path)))


def test_gross_reversed_and_net_redemptions(tmp_path):
    events = [
        _event("purchase", "o-1", "li", "2026-03-01T10:00:00", amount="100", category="phone"),
        _event("redeem", "p-1", "li", "2026-03-02T10:00:00", order="x-1", amount="40"),  # all 100 beans (2000 allowed)
        _event("purchase", "o-2", "wu", "2026-03-01T10:00:00", amount="900", category="phone"),
        _event("redeem", "p-2", "wu", "2026-03-02T10:00:00", order="x-2", amount="10"),  # 500 beans: half of 10 CNY
        _event("refund", "f-2", "wu", "2026-03-03T10:00:00", order="x-2", amount="4"),  # 4 of 10 CNY: 200 beans back
    ]
    report = _report(BEANS, _write(tmp_path / "e.jsonl", events))
    totals = report["totals"]
    assert Decimal(totals["points_redeemed_gross"]) == Decimal(600)
    assert Decimal(totals["points_redeemed_reversed"]) == Decimal(200)
    assert Decimal(totals["points_redeemed"]) == Decimal(400)  # the net, as the liability counts it
    assert "Points redeemed (gross)" in _text(report) and "Points redeemed, reversed" in _text(report)
    assert "Points redeemed, reversed" in render_html(report)


def _text(report: dict) -> str:
    out = StringIO()
    print_tables(report, Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_without_a_reversal_the_report_has_no_new_figures(tmp_path):
    events = [_event("purchase", "o-1", "li", "2026-03-01T10:00:00", amount="100", category="phone"),
              _event("redeem", "p-1", "li", "2026-03-02T10:00:00", points="30")]
    report = _report(BEANS, _write(tmp_path / "e.jsonl", events))
    assert "points_redeemed_gross" not in report["totals"]
    assert "points_redeemed_reversed" not in report["totals"]
    assert not shown_total(report, "points_redeemed_gross")
    assert "gross" not in _text(report) and "reversed" not in _text(report)
    assert Decimal(report["totals"]["points_redeemed"]) == Decimal(30)


def test_a_stock_replayed_across_members_sells_as_one_engine_does(tmp_path):
    # five members race for the two skincare trios; one sale is reversed and sold again
    events = [_event("purchase", f"o-{m}", m, "2026-03-01T10:00:00", amount="800") for m in "abcde"]
    events += [_event("redeem", f"r-{m}", m, f"2026-03-02T10:0{i}:00", reward="skincare-trio")
               for i, m in enumerate("abcde")]
    events.append(_event("redeem_reversal", "v-a", "a", "2026-03-02T11:00:00", redemption="r-a"))
    events.append(_event("redeem", "r-e2", "e", "2026-03-02T12:00:00", reward="skincare-trio"))
    events.append(_event("redeem", "r-d2", "d", "2026-03-02T12:01:00", reward="skincare-trio"))
    engine = Engine(punchcard.compile(str(BAZAAR)))
    expected = {e["id"]: engine.process(e).outcome for e in sorted(events, key=lambda e: e["time"])}
    seen: dict[str, str] = {}

    def observe(member, run):
        for _line, _at, decision in run.sides[0].decisions:
            if decision is not None and decision.event_type != "tick":
                seen[decision.event_id] = decision.outcome

    result = dry_run(Options(BAZAAR, _write(tmp_path / "e.jsonl", events), observe=observe))
    assert seen == expected
    assert [expected[f"r-{m}"] for m in "abcde"] == ["applied", "applied", "rejected", "rejected", "rejected"]
    assert expected["r-e2"] == "applied" and expected["r-d2"] == "rejected"
    totals = build_report(result)["totals"]
    assert Decimal(totals["points_redeemed_gross"]) == Decimal(1500)
    assert Decimal(totals["points_redeemed_reversed"]) == Decimal(500)
