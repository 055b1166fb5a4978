"""Engine throughput and latency against a hand-written baseline, in one run.

    .venv/bin/python bench/bench_engine.py [--events 1000000] [--members 10000]

For coffee-club and retail-tiers it generates synthetic events, then times
(1) a hand-written Python function that computes the same points for the same raw
events, (2) the core ``evaluate`` with in-memory states handed over (``owned=True``, as
the dry-run and the stores call it), (2b) the same with the garbage collector's
thresholds raised as docs/performance.md suggests for hosts that care about latency,
(3) the same without handing them over (every event works on a copy; a tenth of the
events), (4) ``Engine.process`` on a ``MemoryStore`` (a tenth) and (5) a floor: validating
each event and building objects equal to those the engine returns and keeps for it (its
decision with every trace step and effect, its lot and its order record), with no rule
run (a tenth). An evaluation that returns the same decision costs about that much at
least. Every event's points
from the engine must equal the hand-written function's, or the run fails. Figures:
events per second, p50, p99 and the slowest event, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import statistics
import sys
import time
from array import array
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from handwritten import coffee_club, retail_tiers  # noqa: E402

from punchcard.engine import Engine, MemoryStore, evaluate  # noqa: E402
from punchcard.engine.compiler.stages import compile_ruleset  # noqa: E402
from punchcard.engine.runtime.decision import Decision, Effect, Step, TierView  # noqa: E402
from punchcard.engine.runtime.state import Lot, OrderRecord  # noqa: E402

LATENCY_GC_THRESHOLDS = (50_000, 20, 20)
CATEGORIES = ["coffee", "coffee", "food", "food", "books", "gift_card"]
CHECK_IN_SHARE = 0.2  # of the events, when the ruleset takes check-ins


def generate(count: int, members: int, with_check_ins: bool, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 5, 6, 0)
    step = dt.timedelta(seconds=365 * 86400 / count)
    events = []
    for i in range(count):
        when = (start + step * i).isoformat(timespec="seconds")
        member = f"m{rng.randrange(members)}"
        if with_check_ins and rng.random() < CHECK_IN_SHARE:
            events.append({"type": "check_in", "id": f"e{i}", "member": member, "time": when})
            continue
        amount = min(int(rng.lognormvariate(6, 1.1)), 15000)
        events.append({"type": "purchase", "id": f"e{i}", "member": member, "time": when,
                       "amount": str(amount), "category": rng.choice(CATEGORIES)})
    return events


def coffee_by_hand():
    """coffee-club written out by hand (bench/handwritten.py): event -> points."""
    return coffee_club().points


def retail_by_hand():
    """retail-tiers written out by hand (bench/handwritten.py): event -> points."""
    return retail_tiers().points


def timed(fn, events) -> tuple[float, array, list]:
    latencies, results = array("q"), []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for event in events:
        t0 = clock()
        results.append(fn(event))
        latencies.append(clock() - t0)
    return time.perf_counter() - start, latencies, results


def core_runner(compiled, owned: bool = True):
    """The core as a caller drives it: member states in a dict, budgets carried across members.
    ``owned``: the states are handed over (as the dry-run and the stores do); otherwise every
    event works on a copy."""
    states, budgets = {}, {}

    def run(event):
        decision, state = evaluate(compiled, states.get(event["member"]), event, budgets=budgets, owned=owned)
        states[event["member"]] = state
        for effect in decision.effects:
            if effect.kind == "budget":
                budgets[effect.detail["rule"]] = budgets.get(effect.detail["rule"], 0) + effect.points
        return decision.points

    return run


def rebuild(compiled, raw: dict, made: Decision) -> Decision:
    """What building the engine's output for ``raw`` costs on its own, given the decision it
    made: the validated event, a decision equal to ``made`` (every trace step and effect
    copied), and the lot and order record the member's state keeps for it."""
    event = compiled.schema.parse(raw)
    trace = [Step(s.phase, s.rule, s.fired, s.note, dict(s.values), s.before, s.after) for s in made.trace]
    effects = [Effect(e.kind, e.points, e.lot, dict(e.detail)) for e in made.effects]
    for effect in effects:
        if effect.kind == "earn":
            Lot(effect.lot, "earn", event.time, effect.points, effect.points, None, effect.detail["expires_at"],
                None, event.id)
    if compiled.plans.get(event.type) is not None and compiled.plans[event.type].is_order:
        OrderRecord(event.id, event.type, event.time, tuple(event.fields.items()), event.fields["amount"],
                    made.points, Decimal(0), None, None)
    tier = made.tier and TierView(made.tier.current, made.tier.metric, made.tier.next, made.tier.to_next,
                                  made.tier.to_keep)
    return Decision(event.id, event.member, made.ruleset, made.outcome, made.points, tuple(effects), made.balance,
                    made.pending, tier, tuple(trace), made.reason, event.type, event.time)


def floor_runner(compiled, events: list[dict]):
    """Rebuilds each event's output (see :func:`rebuild`) from decisions made beforehand."""
    made, states = {}, {}
    for event in events:  # budgets are per member here; only the objects' shape matters
        decision, states[event["member"]] = evaluate(compiled, states.get(event["member"]), event, owned=True)
        made[event["id"]] = decision
    return lambda raw: rebuild(compiled, raw, made[raw["id"]]).points


def engine_runner(compiled):
    engine = Engine(compiled, MemoryStore())
    return lambda event: engine.process(event).points


def pct(latencies: array, q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)] / 1000


def row(name, seconds, latencies, count, baseline):
    rate = count / seconds
    return (f"{name:<28} {rate:>12,.0f} ev/s  p50 {pct(latencies, 0.50):6.1f} us  p99 {pct(latencies, 0.99):6.1f} us"
            f"  mean {statistics.fmean(latencies) / 1000:6.1f} us  max {max(latencies) / 1e6:7.1f} ms"
            f"  x{seconds / count / baseline:5.2f} baseline")


def with_latency_gc(work):
    """``work()`` with the collector set as docs/performance.md suggests for latency-bound hosts."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*LATENCY_GC_THRESHOLDS)
    try:
        return work()
    finally:
        gc.set_threshold(*thresholds)


def bench(name: str, path: Path, hand, events: list[dict]) -> None:
    compiled = compile_ruleset(path)
    gc.collect()
    gc.freeze()  # the generated input is static: keep the collector from rescanning it for every run
    hand_s, hand_lat, hand_points = timed(hand(), events)
    base_per = hand_s / len(events)
    core_s, core_lat, core_points = timed(core_runner(compiled), events)
    mismatches = sum(1 for a, b in zip(hand_points, core_points, strict=True) if a != b)
    if mismatches:
        raise SystemExit(f"{name}: {mismatches} events where the engine and the hand-written function disagree")
    tuned_s, tuned_lat, _ = with_latency_gc(lambda: timed(core_runner(compiled), events))
    sub = events[: max(len(events) // 10, 1)]
    pure_s, pure_lat, _ = timed(core_runner(compiled, owned=False), sub)
    eng_s, eng_lat, _ = timed(engine_runner(compiled), sub)
    floor_s, floor_lat, _ = timed(floor_runner(compiled, sub), sub)
    print(f"\n{name}: {len(events):,} events, points identical to the hand-written function on every event")
    print(row("hand-written function", hand_s, hand_lat, len(events), base_per))
    print(row("evaluate, owned states", core_s, core_lat, len(events), base_per))
    print(row("  the same, latency GC", tuned_s, tuned_lat, len(events), base_per))
    print(row("evaluate, pure (1/10)", pure_s, pure_lat, len(sub), base_per))
    print(row("Engine + MemoryStore (1/10)", eng_s, eng_lat, len(sub), base_per))
    print(row("floor: its objects (1/10)", floor_s, floor_lat, len(sub), base_per))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.events:,} events across {args.members:,} members")
    bench("coffee-club", ROOT / "rulesets/coffee-club.yaml", coffee_by_hand,
          generate(args.events, args.members, with_check_ins=False))
    bench("retail-tiers", ROOT / "rulesets/retail-tiers.yaml", retail_by_hand,
          generate(args.events, args.members, with_check_ins=True))


if __name__ == "__main__":
    main()
