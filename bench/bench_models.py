"""Models in the engine and the dry-run: Engine.offers with a model, and batched scoring.

    .venv/bin/python bench/bench_models.py [--calls 2000] [--events 5000] [--format json]

Trains, through the scikit-learn plugin's own API, an engagement model (a logistic
regression) on the bundled sample events with simulated offer responses, and a churn
model (a logistic regression) and an anomaly model (an isolation forest) on the events
alone (training is not timed). Then, each against a baseline in the same run:

- **Engine.offers, one member**: ``--calls`` calls for one member with a history, on a
  ruleset whose offers rank by ``score("engagement") * offer.value``; p50 and p99. The
  baseline is the same catalogue ranked by the plain expression ``offer.value`` with no
  model. Both must choose the same number of candidates, or the run fails.
- **The dry-run, one row at a time against batched**: the first ``--events`` sample events
  through a ruleset whose rules score each purchase with the churn model, then with the
  anomaly model: the members' rows scored one call each (the engine's way) and as the dry-run
  runs, in batches (engine/dryrun/batch.py) for a model that gains from them (the forest; a
  logistic regression is plain arithmetic, scored where it stands). Both must give the same
  report, or the run fails.

``Engine.offers`` is timed after a warm-up, with what is alive then frozen (``gc.freeze()``),
so the collector's walks over the compiled ruleset and the models are not counted in a call.
Each call is timed on the wall clock and on the thread's CPU clock: on a shared machine, a
call the system pauses for another process counts its wait on the first alone.

Ratios are times against the baseline's, so a busy machine moves both sides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import punchcard
from punchcard.engine.dryrun import Options, build_report, dry_run, replay, to_json_report
from punchcard.engine.policies.scoring import batch_pays
from punchcard.plugins.manager import get_plugin_manager
from punchcard.plugins.sklearn.data import read_events
from punchcard.plugins.sklearn.simulate import simulate_offers
from punchcard.plugins.sklearn.train import train

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "rulesets" / "samples" / "retail-tiers.jsonl.gz"
UNTIL = dt.datetime.fromisoformat("2026-09-01T00:00:00+09:00")
AT = dt.datetime.fromisoformat("2026-10-01T12:00:00+09:00")

HEAD = """\
punchcard: 1
ruleset: bench-models
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string, channel: optional string}
"""
OFFERS = """\
earning:
  base: {on: purchase, points: event.amount / 100}
offers:
  choose:
    on: [purchase]
    rank: RANK
    top: 2
    max_new: {count: 2, within: 7 days}
    max_active: 3
  templates:
    - {id: favourite-double, type: double_points, category: favourite, hours: usual, lift: 0.15}
    - {id: food-bonus, type: category_bonus, category: food, value: 80}
    - {id: home-bonus, type: category_bonus, category: home, value: 60}
    - {id: fashion-bonus, type: category_bonus, category: fashion, value: 70}
    - {id: basket-bonus, type: basket_bonus, min_purchase: 3000, value: 100}
    - {id: third-visit, type: streak_reward, visits: 3, value: 150, valid_for: 14 days}
"""
SCORED = """\
models:
  MODEL: models/MODEL.skops
earning:
  base: {on: purchase, points: event.amount / 100}
  rules:
    - id: scored
      on: purchase
      when: score("MODEL") > 0.5
      bonus: 5
"""


def train_models(folder: Path) -> None:
    """engagement (on simulated offer responses), churn and anomaly models, in folder/models."""
    events = read_events(SAMPLES)
    with_offers = list(simulate_offers(events))
    out = folder / "models"
    train(with_offers, "engagement", UNTIL, dt.timedelta(days=14), out / "engagement.skops", SAMPLES.name)
    train(events, "churn", UNTIL, dt.timedelta(days=60), out / "churn.skops", SAMPLES.name)
    train(events, "anomaly", UNTIL, dt.timedelta(days=30), out / "anomaly.skops", SAMPLES.name)


def write_rulesets(folder: Path) -> dict[str, Path]:
    texts = {"offers-model": HEAD + "models:\n  engagement: models/engagement.skops\n" +
             OFFERS.replace("RANK", 'score("engagement") * offer.value'),
             "offers-plain": HEAD + OFFERS.replace("RANK", "offer.value"),
             "churn": HEAD + SCORED.replace("MODEL", "churn"),
             "anomaly": HEAD + SCORED.replace("MODEL", "anomaly")}
    paths = {}
    for name, text in texts.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def sample_lines(count: int) -> list[str]:
    with gzip.open(SAMPLES, "rt", encoding="utf-8") as handle:
        return [line for _, line in zip(range(count), handle, strict=False)]


def busiest_member(lines: list[str]) -> str:
    counts: dict[str, int] = {}
    for line in lines:
        member = json.loads(line)["member"]
        counts[member] = counts.get(member, 0) + 1
    return max(sorted(counts), key=counts.__getitem__)


def offers_latency(ruleset: Path, member: str, lines: list[str], calls: int) -> dict:
    """p50 and p99 of Engine.offers for ``member``, whose events the store has first."""
    engine = punchcard.Engine(punchcard.compile(ruleset), "memory://")
    for line in lines:
        row = json.loads(line)
        if row["member"] == member:
            engine.process(row)
    chosen = len(engine.offers(member, AT))
    for _ in range(min(calls, 200)):  # warm up
        engine.offers(member, AT)
    gc.collect()
    gc.freeze()  # the compiled ruleset and the models stay: a collection walking them is not the call's
    times, cpu = [], []
    try:
        for _ in range(calls):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            engine.offers(member, AT)
            times.append(time.perf_counter_ns() - start)
            cpu.append(time.thread_time_ns() - start_cpu)
    finally:
        gc.unfreeze()
    return {"p50_us": _quantile(times, 50), "p99_us": _quantile(times, 99), "mean_us": statistics.fmean(times) / 1000,
            "p50_cpu_us": _quantile(cpu, 50), "p99_cpu_us": _quantile(cpu, 99), "candidates": chosen}


def _quantile(values: list[int], percent: int) -> float:
    """The value below which ``percent`` of them lie, ns as µs."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * percent // 100)] / 1000


def dryrun_seconds(ruleset: Path, events: Path, batched: bool) -> tuple[float, dict]:
    replay.SCORE_IN_BATCHES = batched
    try:
        start = time.perf_counter()
        result = dry_run(Options(ruleset, events, plugins=get_plugin_manager))
        seconds = time.perf_counter() - start
    finally:
        replay.SCORE_IN_BATCHES = True
    return seconds, json.loads(json.dumps(to_json_report(build_report(result))))


def batches(ruleset: Path) -> bool:
    """Does the dry-run batch this ruleset's model? (Not a model scored as plain arithmetic.)"""
    return all(batch_pays(scorer) for scorer in punchcard.compile(ruleset).scorers.values())


def dryrun_rows(paths: dict[str, Path], events: Path, count: int) -> list[dict]:
    rows = []
    for model in ("churn", "anomaly"):
        dryrun_seconds(paths[model], events, True)  # compiled once, the models loaded: not timed
        one, one_report = dryrun_seconds(paths[model], events, False)
        batched, batched_report = dryrun_seconds(paths[model], events, True)
        if one_report != batched_report:
            raise SystemExit(f"{model}: the dry-run scored one row at a time and in batches disagrees")
        rows.append({"model": model, "events": count, "batches": batches(paths[model]), "one_row_s": round(one, 3),
                     "batched_s": round(batched, 3), "speedup": round(one / batched, 2)})
    return rows


def run(calls: int, count: int, data: Path) -> dict:
    train_models(data)
    paths = write_rulesets(data)
    lines = sample_lines(count)
    events = data / "events.jsonl"
    events.write_text("".join(lines), encoding="utf-8")
    member = busiest_member(lines)
    plain = offers_latency(paths["offers-plain"], member, lines, calls)
    model = offers_latency(paths["offers-model"], member, lines, calls)
    if plain["candidates"] != model["candidates"]:
        raise SystemExit("Engine.offers with the model and without it weigh different catalogues")
    ratios = {f"{key}_ratio": round(model[f"{key}_us"] / plain[f"{key}_us"], 2)
              for key in ("p50", "p99", "p50_cpu", "p99_cpu")}
    return {"python": sys.version.split()[0], "member": member, "calls": calls,
            "offers": {"baseline": plain, "model": model, **ratios},
            "dryrun": dryrun_rows(paths, events, count)}


def print_text(report: dict) -> None:
    offers = report["offers"]
    print(f"python {report['python']}; Engine.offers for member {report['member']}, {report['calls']:,} calls")
    for label, key in (("rank by offer.value (baseline)", "baseline"), ('rank by score("engagement")', "model")):
        row = offers[key]
        print(f"  {label:<32} p50 {row['p50_us']:8.1f} us  p99 {row['p99_us']:8.1f} us  (CPU: p50 "
              f"{row['p50_cpu_us']:.1f} us, p99 {row['p99_cpu_us']:.1f} us; {row['candidates']} candidates)")
    print(f"  with the model: p50 x{offers['p50_ratio']}, p99 x{offers['p99_ratio']} the baseline (CPU: p50 "
          f"x{offers['p50_cpu_ratio']}, p99 x{offers['p99_cpu_ratio']})")
    for row in report["dryrun"]:
        how = "batched" if row["batches"] else "as the dry-run runs it (scored where it stands, not batched)"
        print(f"dry-run, {row['events']:,} events, {row['model']}: one row at a time {row['one_row_s']:.2f} s, "
              f"{how} {row['batched_s']:.2f} s, x{row['speedup']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="Engine.offers calls timed per side")
    parser.add_argument("--events", type=int, default=5000, help="sample events the dry-runs replay")
    parser.add_argument("--data", type=Path, default=None, help="where models and rulesets go (default: a temp dir)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data or Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        report = run(args.calls, args.events, data)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print_text(report)


if __name__ == "__main__":
    main()
