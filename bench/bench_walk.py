"""The generated walks against the general path, on the same events, in one run.

    .venv/bin/python bench/bench_walk.py [--events 200000] [--members 5000] [--rounds 5]

For coffee-club and retail-tiers it compiles the ruleset twice, once as usual and once
with generation off (``specialise=False``: every event type walks its phases one by one),
and replays the same
generated events through both with the state handed over (``owned=True``), alternating
the two for ``--rounds`` rounds and keeping each one's best. The collector is paused
during a round, so the figures are the engine's own work. Both must give the same
points on every event, or the run fails.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import core_runner, generate  # noqa: E402

from punchcard.engine.compiler.stages import compile_ruleset  # noqa: E402


def general_path(path: Path):
    return compile_ruleset(path, specialise=False)


def one_round(compiled, events: list[dict]) -> tuple[float, list]:
    run = core_runner(compiled)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        points = [run(event) for event in events]
        return time.perf_counter() - start, points
    finally:
        gc.enable()


def bench(name: str, events: list[dict], rounds: int) -> None:
    path = ROOT / f"rulesets/{name}.yaml"
    sides = {"general path": general_path(path), "generated": compile_ruleset(path)}
    best, points = dict.fromkeys(sides, float("inf")), {}
    for _ in range(rounds):
        for label, compiled in sides.items():
            seconds, points[label] = one_round(compiled, events)
            best[label] = min(best[label], seconds)
    if points["generated"] != points["general path"]:
        raise SystemExit(f"{name}: the generated walks and the general path disagree")
    base = best["general path"]
    print(f"\n{name}: {len(events):,} events, the same points both ways")
    for label, seconds in best.items():
        print(f"{label:<14} {seconds / len(events) * 1e6:7.2f} us/event  x{seconds / base:5.3f} the general path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, best of {args.rounds} rounds")
    bench("coffee-club", generate(args.events, args.members, with_check_ins=False), args.rounds)
    bench("retail-tiers", generate(args.events, args.members, with_check_ins=True), args.rounds)


if __name__ == "__main__":
    main()
