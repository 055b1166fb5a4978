"""The sample baskets (rulesets/samples/grocery-basket.jsonl.gz) replay through the dry-run,
whose report agrees with the engine deciding the same events one by one, and a basket's
lines survive the stores: what the order remembers per line comes back as it was saved."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "rulesets/grocery-basket.yaml"
SAMPLE = ROOT / "rulesets/samples/grocery-basket.jsonl.gz"


def sample_events() -> list[dict]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_the_sample_carries_baskets_and_item_refunds():
    events = sample_events()
    assert all(e["items"] for e in events if e["type"] == "purchase")
    assert any(e["type"] == "refund" and e["items"] for e in events)
    assert any(line["category"] == "gift_cards" for e in events if e["type"] == "purchase" for line in e["items"])


def test_the_dry_run_replays_baskets_and_agrees_with_the_engine():
    result = CliRunner().invoke(app, ["dry-run", str(RULESET), "--events", str(SAMPLE), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    totals = report["totals"]
    assert totals["events"] == len(sample_events()) and totals["rejected"] == 0 and totals["bad_rows"] == 0
    assert report["checks"] == {"liability_reconciles": True, "member_counters_agree": True}
    engine = Engine(compile_ruleset(RULESET))
    decisions = [engine.process(event) for event in sample_events()]
    assert all(d.outcome == "applied" for d in decisions), [d.reason for d in decisions if d.outcome != "applied"]
    issued = sum((d.points for d in decisions if d.points > 0), Decimal(0))
    clawed = -sum((d.points for d in decisions if d.event_type == "refund"), Decimal(0))
    assert Decimal(totals["points_issued"]) == issued
    assert Decimal(totals["points_clawed_back"]) == clawed > 0
    rules = {row["rule"]: row for row in report["by_rule"]}
    assert rules["fresh-produce-double"]["points"] and rules["meal-deal"]["points"]


def test_an_orders_lines_come_back_from_every_store(store_factory):
    purchase = {"type": "purchase", "id": "r-1", "member": "ana", "time": "2026-04-04T11:20:00", "amount": "30.00",
                "items": [{"sku": "veg-box", "category": "produce", "amount": "12.00"},
                          {"sku": "gift-card-25", "category": "gift_cards", "amount": "18.00"}]}
    engine = Engine(compile_ruleset(RULESET), store_factory())
    assert engine.process(purchase).points == 24
    state = engine.member("ana")
    assert state is not None
    assert state.orders["r-1"].lines == (("veg-box", 1, Decimal(24)), ("gift-card-25", 1, Decimal(0)))
    refund = {"type": "refund", "id": "x-1", "member": "ana", "time": "2026-04-05T09:00:00", "order": "r-1",
              "amount": "12.00", "items": [{"sku": "veg-box"}]}
    assert engine.process(refund).points == -24
    assert engine.member("ana").orders["r-1"].lines == (("veg-box", 0, Decimal(0)), ("gift-card-25", 1, Decimal(0)))
