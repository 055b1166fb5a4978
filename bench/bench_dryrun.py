"""Dry-run throughput and memory on generated history (retail-tiers, and 2.0.0 against 1.0.0).

Measured in this run, each in a fresh process:

* baseline: reading and parsing the events only (the readers, the mapping and the
  event schema), the floor any replay stands on;
* a dry-run with --workers 1 and --workers 2;
* an --against comparison (two rulesets in one pass) with --workers 2;
* peak RSS of the main process and of the largest worker, and the same dry-run on a
  quarter of the events over the same members: memory should not follow events. That
  run also times every call of ``evaluate`` (and the closing ticks' housekeeping), to
  split a replay into the engine's share and the dry-run's own (reading, spilling,
  sorting, counting, the report).

Ratios are against the baseline. ``--profile`` adds the top functions of a profiled
replay of 50,000 events. Usage::

    python bench/bench_dryrun.py [--events 1000000] [--members 100000] [--small 250000] [--profile]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "rulesets/retail-tiers.yaml"
V2 = ROOT / "rulesets/changes/retail-tiers-v2.yaml"

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
args = json.loads(sys.argv[1])
start = time.perf_counter()
if args["mode"] == "parse":
    from punchcard.engine.compiler.stages import compile_ruleset
    from punchcard.engine.dryrun.formats import RowError
    from punchcard.engine.dryrun.mapping import ColumnMap
    from punchcard.engine.dryrun.rows import prepared_rows
    compiled = compile_ruleset(args["ruleset"])
    start = time.perf_counter()
    count = 0
    for line, row in prepared_rows(Path(args["events"]), ColumnMap(), compiled):
        if not isinstance(row, RowError):
            compiled.schema.parse(row)
            count += 1
else:
    from punchcard.engine.dryrun import Options, build_report, dry_run
    inside = [0.0]
    if args.get("split"):
        from punchcard.engine.dryrun import member

        def timed(function):
            def call(*a, **k):
                began = time.perf_counter()
                try:
                    return function(*a, **k)
                finally:
                    inside[0] += time.perf_counter() - began
            return call

        member.evaluate, member.housekeep = timed(member.evaluate), timed(member.housekeep)
    result = dry_run(Options(args["ruleset"], Path(args["events"]), against=args.get("against"),
                             workers=args["workers"]))
    build_report(result)
    count = result.partial.events
elapsed = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# ru_maxrss survives exec: it would report the parent's peak when that is larger. The
# process's own peak (VmHWM, in kB like ru_maxrss) is its own, where Linux reports it.
status = Path("/proc/self/status")
if status.exists():
    own = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"events": count, "seconds": elapsed, "rss_mb": own / 1024, "worker_rss_mb": children / 1024,
                  "evaluate_seconds": inside[0] if args["mode"] != "parse" else 0}))
"""


def measure(**args) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps({k: str(v) if isinstance(v, Path) else v
                                                                   for k, v in args.items()})],
                         check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["rate"] = figures["events"] / figures["seconds"]
    return figures


def generate(path: Path, count: int, members: int) -> Path:
    if path.exists():
        return path
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from punchcard.cli import app; app()", "sample-events", "-o", str(path),
                    "--count", str(count), "--members", str(members), "--seed", "1"], check=True, cwd=ROOT)
    print(f"generated {count:,} events for {members:,} members in {time.perf_counter() - started:.1f} s",
          flush=True)
    return path


def line(label: str, figures: dict, baseline: dict | None) -> None:
    ratio = f"  {baseline['rate'] / figures['rate']:6.1f}x slower than the baseline" if baseline else ""
    print(f"{label:<38} {figures['events']:>9,} events {figures['seconds']:8.1f} s {figures['rate']:>9,.0f} ev/s "
          f"rss {figures['rss_mb']:7.0f} MB (largest worker {figures['worker_rss_mb']:5.0f} MB){ratio}", flush=True)


def split(figures: dict, baseline: dict) -> None:
    per_event = 1e6 / figures["events"]
    inside = figures["evaluate_seconds"] * per_event
    outside = figures["seconds"] * per_event - inside
    print(f"  per event: {inside:.1f} µs in evaluate (ticks' housekeeping included), {outside:.1f} µs outside it, "
          f"of which {1e6 / baseline['rate']:.1f} µs is the baseline's reading and parsing", flush=True)


def profile(events: Path, limit: int) -> None:
    import cProfile
    import itertools
    import pstats

    from punchcard.engine.dryrun import Options, dry_run

    part = events.with_name(f"profile-{limit}.jsonl")
    with open(events) as source, open(part, "w") as target:
        target.writelines(itertools.islice(source, limit))
    profiler = cProfile.Profile()
    profiler.runcall(dry_run, Options(V1, part))
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=250_000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "punchcard-bench")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    big = generate(args.data / f"retail-{args.events}-{args.members}.jsonl", args.events, args.members)
    small = generate(args.data / f"retail-{args.small}-{args.members}.jsonl", args.small, args.members)
    base = measure(mode="parse", ruleset=V1, events=big)
    line("baseline: read and parse", base, None)
    one = measure(mode="run", ruleset=V1, events=big, workers=1)
    line("dry-run, --workers 1", one, base)
    two = measure(mode="run", ruleset=V1, events=big, workers=2)
    line("dry-run, --workers 2", two, base)
    against = measure(mode="run", ruleset=V2, against=str(V1), events=big, workers=2)
    line("--against (2 rulesets), --workers 2", against, base)
    quarter = measure(mode="run", ruleset=V1, events=small, workers=1, split=True)
    line(f"dry-run, --workers 1, {args.small:,} events", quarter, base)
    split(quarter, base)
    print(f"peak RSS {args.small:,} -> {args.events:,} events: {quarter['rss_mb']:.0f} -> {one['rss_mb']:.0f} MB "
          f"({one['rss_mb'] / quarter['rss_mb']:.2f}x for {args.events / args.small:.0f}x the events)")
    print(f"1M-event target (20 s on one core): {one['seconds'] * 1_000_000 / one['events']:.0f} s")
    if args.profile:
        profile(big, 50_000)


if __name__ == "__main__":
    main()
