"""The engine's performance table: each path against a hand-written function, in one run.

    .venv/bin/python bench/run.py table [--events 1000000] [--members 10000] [--format text|json]

For coffee-club and retail-tiers it generates seeded events (not timed), checks on the
first ``--check`` events that the hand-written function (bench/handwritten.py) and every
path agree on points and member state (or stops), then times with ``perf_counter_ns``:
the hand-written function (the baseline, best of a run before and one after the rest),
``evaluate(compiled, state, event, owned=True)`` with the trace on and, when the engine
offers ``trace=``, off; ``Engine(compiled).process`` on a ``MemoryStore``; and the p99
latency of ``Engine.process`` under the latency GC setting (docs/performance.md). Then a
dry-run of retail-tiers on one worker, with peak RSS at a quarter of the events and at
all of them. Ratios are mean time per event against the baseline's.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import json
import sys
import tempfile
import time
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_dryrun  # noqa: E402
from bench_engine import generate  # noqa: E402
from handwritten import BY_HAND, disagreements  # noqa: E402

from punchcard.engine import Engine, MemoryStore, compile_ruleset, evaluate  # noqa: E402

RULESETS = ("coffee-club", "retail-tiers")
BASELINE, TRACE_ON, TRACE_OFF = "hand-written function", "evaluate, trace on", "evaluate, trace off"
ENGINE, LATENCY = "Engine.process, MemoryStore", "Engine.process p99, latency GC"
PATHS = (BASELINE, TRACE_ON, TRACE_OFF, ENGINE, LATENCY)
# (ruleset, path) -> (what is compared, limit, as printed)
TARGETS = {("coffee-club", TRACE_ON): ("ratio", 3, "≤ 3×"), ("retail-tiers", TRACE_ON): ("ratio", 5, "≤ 5×"),
           ("coffee-club", ENGINE): ("ratio", 5, "≤ 5×"), ("coffee-club", LATENCY): ("p99_us", 50, "p99 < 50 µs")}
DRYRUN_TARGET = (30, "≤ 30 s per 1,000,000")
# Young collections every 50,000 new objects instead of 700, and the older generations
# collected 50 and 100 times less often than that (the defaults: 10 and 10).
LATENCY_GC = (50_000, 50, 100)


@dataclass
class Row:
    ruleset: str
    path: str
    available: bool = True
    events: int = 0
    ns_per_event: float = 0.0
    ratio: float = 0.0
    p50_us: float | None = None
    p99_us: float | None = None
    target: str | None = None
    met: bool | None = None
    gc_threshold: list[int] | None = field(default=None)


def offers_trace(function) -> bool:
    return "trace" in inspect.signature(function).parameters


def events_for(name: str, count: int, members: int) -> list[dict]:
    return generate(count, members, with_check_ins=name == "retail-tiers")


def core(compiled, trace: bool = True):
    """``evaluate`` as the dry-run and the stores drive it: states handed over, budgets carried."""
    states, budgets = {}, {}
    options = {} if trace else {"trace": False}

    def decide(event):
        member = event["member"]
        decision, states[member] = evaluate(compiled, states.get(member), event, budgets=budgets, owned=True,
                                            **options)
        for effect in decision.effects:
            if effect.kind == "budget":
                budgets[effect.detail["rule"]] = budgets.get(effect.detail["rule"], 0) + effect.points
        return decision

    return decide


def deciders(compiled) -> dict:
    """Each engine path that is timed, by name: a factory of a fresh ``event -> Decision``."""
    paths = {TRACE_ON: lambda: core(compiled)}
    if offers_trace(evaluate):
        paths[TRACE_OFF] = lambda: core(compiled, trace=False)
    paths[ENGINE] = lambda: Engine(compiled, MemoryStore()).process
    return paths


def check_agreement(name: str, compiled, sample: list[dict]) -> None:
    found = [f"{path}: {line}" for path, make in deciders(compiled).items()
             for line in disagreements(name, make(), sample)]
    if found:
        raise SystemExit(f"{name}: the hand-written function and the engine disagree:\n" + "\n".join(found))


def throughput(decide, events: list[dict]) -> int:
    gc.collect()
    start = time.perf_counter_ns()
    for event in events:
        decide(event)
    return time.perf_counter_ns() - start


def latencies(decide, events: list[dict]) -> array:
    """Per event, after a tenth of the events as warm-up and under the latency GC setting."""
    warm = len(events) // 10
    for event in events[:warm]:
        decide(event)
    thresholds, clock, out = gc.get_threshold(), time.perf_counter_ns, array("q")
    gc.collect()
    gc.freeze()  # what lives after warm-up (ruleset, modules, states) is never scanned again
    gc.set_threshold(*LATENCY_GC)
    try:
        for event in events[warm:]:
            began = clock()
            decide(event)
            out.append(clock() - began)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return out


def judged(row: Row) -> Row:
    target = TARGETS.get((row.ruleset, row.path))
    if target and row.available:
        key, limit, row.target = target
        value = getattr(row, key)
        row.met = value <= limit if key == "ratio" else value < limit
    return row


def pct(values: array, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)] / 1000


def ruleset_rows(name: str, count: int, members: int, checked: int) -> list[Row]:
    compiled, events = compile_ruleset(ROOT / f"rulesets/{name}.yaml"), events_for(name, count, members)
    check_agreement(name, compiled, events[:checked])
    gc.collect()
    gc.freeze()  # the generated input is static: the collector need not rescan it in any run
    base = throughput(BY_HAND[name]().points, events)
    spent = {path: throughput(make(), events) for path, make in deciders(compiled).items()}
    base = min(base, throughput(BY_HAND[name]().points, events)) / count
    rows = [Row(name, BASELINE, events=count, ns_per_event=base, ratio=1.0)]
    for path in (TRACE_ON, TRACE_OFF, ENGINE):
        ns = spent.get(path)
        rows.append(Row(name, path, available=ns is not None, events=count if ns else 0,
                        ns_per_event=ns / count if ns else 0.0, ratio=ns / count / base if ns else 0.0))
    timed = latencies(deciders(compiled)[ENGINE](), events)
    mean = sum(timed) / len(timed)
    rows.append(Row(name, LATENCY, events=len(timed), ns_per_event=mean, ratio=mean / base, p50_us=pct(timed, 0.5),
                    p99_us=pct(timed, 0.99), gc_threshold=list(LATENCY_GC)))
    return [judged(row) for row in rows]


def dryrun_figures(count: int, members: int, data: Path) -> dict:
    """A dry-run of retail-tiers on one worker, each run in a fresh process; read and parse
    alone is its baseline, and the same run on a quarter of the events shows memory."""
    small = max(count // 4, 1)
    data.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):
        big_file = bench_dryrun.generate(data / f"retail-{count}-{members}.jsonl", count, members)
        small_file = bench_dryrun.generate(data / f"retail-{small}-{members}.jsonl", small, members)
    base = bench_dryrun.measure(mode="parse", ruleset=bench_dryrun.V1, events=big_file)
    quarter = bench_dryrun.measure(mode="run", ruleset=bench_dryrun.V1, events=small_file, workers=1)
    one = bench_dryrun.measure(mode="run", ruleset=bench_dryrun.V1, events=big_file, workers=1)
    per_million = one["seconds"] * 1_000_000 / one["events"]
    return {"events": one["events"], "members": members, "seconds": one["seconds"],
            "seconds_per_million": per_million, "ratio": base["rate"] / one["rate"],
            "baseline_seconds": base["seconds"], "small_events": quarter["events"],
            "small_peak_rss_mb": max(quarter["rss_mb"], quarter["worker_rss_mb"]),
            "peak_rss_mb": max(one["rss_mb"], one["worker_rss_mb"]), "target": DRYRUN_TARGET[1],
            "met": per_million <= DRYRUN_TARGET[0]}


def cell(row: Row | None) -> str:
    if row is None or not row.available:
        return "n/a"
    if row.path == BASELINE:
        text = f"{row.ns_per_event / 1000:.2f} µs/event"
    elif row.path == LATENCY:
        text = f"p99 {row.p99_us:.1f} µs, p50 {row.p50_us:.1f} µs, {row.ratio:.2f}×"
    else:
        text = f"{row.ratio:.2f}× ({row.ns_per_event / 1000:.2f} µs/event)"
    if row.target:
        text += f" [target {row.target}: {'met' if row.met else 'missed'}]"
    return text


def print_table(rows: list[Row], dryrun: dict | None, checked: int) -> None:
    by = {(row.ruleset, row.path): row for row in rows}
    print(f"\n{'path':<32} | {'coffee-club':<64} | retail-tiers")
    for path in PATHS:
        print(f"{path:<32} | {cell(by.get(('coffee-club', path))):<64} | {cell(by.get(('retail-tiers', path)))}")
    print(f"agreement: points and member state equal to the hand-written function on the first {checked:,} events")
    print(f"latency GC: gc.freeze() after a tenth of the events as warm-up, gc.set_threshold{LATENCY_GC}")
    if dryrun:
        print(f"dry-run, retail-tiers, --workers 1: {dryrun['events']:,} events over {dryrun['members']:,} members "
              f"in {dryrun['seconds']:.1f} s = {dryrun['seconds_per_million']:.1f} s per 1,000,000 "
              f"[target {dryrun['target']}: {'met' if dryrun['met'] else 'missed'}], "
              f"{dryrun['ratio']:.1f}× reading and parsing alone")
        print(f"  peak RSS {dryrun['small_events']:,} -> {dryrun['events']:,} events: "
              f"{dryrun['small_peak_rss_mb']:.0f} -> {dryrun['peak_rss_mb']:.0f} MB")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--dryrun-events", type=int, default=None, help="default: --events")
    parser.add_argument("--dryrun-members", type=int, default=100_000)
    parser.add_argument("--check", type=int, default=20_000, help="events checked for agreement, not timed")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "punchcard-bench")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    checked = min(args.check, args.events)
    # the dry-run first, while this process is small: its runs are fresh processes all the same
    dryrun = dryrun_figures(args.dryrun_events or args.events, args.dryrun_members, args.data)
    rows = [row for name in RULESETS for row in ruleset_rows(name, args.events, args.members, checked)]
    if args.format == "json":
        print(json.dumps({"python": sys.version.split()[0], "events": args.events, "members": args.members,
                          "agreement": {"events": checked}, "rows": [asdict(row) for row in rows],
                          "dryrun": dryrun}, indent=2, ensure_ascii=False))
    else:
        print(f"python {sys.version.split()[0]}, {args.events:,} events across {args.members:,} members")
        print_table(rows, dryrun, checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
