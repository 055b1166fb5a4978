"""Paths and small helpers the dry-run tests share (conftest.py holds the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

from punchcard.engine.dryrun import Options

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
V1 = RULESETS / "retail-tiers.yaml"
V2 = RULESETS / "changes/retail-tiers-v2.yaml"
SAMPLE = RULESETS / "samples/retail-tiers.jsonl.gz"
DEMO_LABEL = "rulesets/samples/retail-tiers.jsonl.gz"


def demo_options(**changes) -> Options:
    options = Options(V2, SAMPLE, against=V1, label=DEMO_LABEL)
    for key, value in changes.items():
        setattr(options, key, value)
    return options


def write_jsonl(path: Path, events: list) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


def purchase(event_id: str, member: str, time: str, amount, category: str = "food") -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": amount,
            "category": category}
