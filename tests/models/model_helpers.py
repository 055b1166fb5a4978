"""What the model tests share: the sample events, the training window, a ruleset naming a model."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "rulesets" / "samples" / "retail-tiers.jsonl.gz"
UNTIL = "2026-09-01T00:00:00+09:00"
HORIZONS = {"churn": 60, "engagement": 14, "anomaly": 30}

MODEL_RULESET = """\
punchcard: 1
ruleset: churn-care
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
models:
  churn: models/churn.skops
earning:
  base: {on: purchase, points: event.amount / 100}
  rules:
    - id: win-back
      on: purchase
      when: score("churn") > 0.5
      bonus: 50
"""


def copy_model(source: Path, folder: Path) -> Path:
    """The model file and its card, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (source.name, source.name.replace(".skops", ".card.json")):
        (folder / name).write_bytes((source.parent / name).read_bytes())
    return folder / source.name
