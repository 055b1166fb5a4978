"""The in-memory store's unit of work: the stored state changed in place under a savepoint,
against the same store handing out a clone per event (how it worked before), in one run.

    .venv/bin/python bench/bench_memory_store.py [--events 60000] [--members 3000] [--rounds 3]

Both sides process the same seeded events through ``Engine.process`` on a fresh store, rounds
interleaved; the figure is the median time per event. It stops if the two disagree on any
decision's outcome or points.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import generate  # noqa: E402

from punchcard.engine import Engine, MemoryStore, compile_ruleset  # noqa: E402
from punchcard.engine.runtime.state import MemberState  # noqa: E402
from punchcard.engine.store import _MemoryUnit  # noqa: E402


class _CloningUnit(_MemoryUnit):
    """The baseline: a clone of the stored state per event, which the engine copies on write."""

    def load_member(self, member_id: str) -> MemberState | None:
        state = self.store._members.get(member_id)
        return state.clone() if state is not None else None


class CloningStore(MemoryStore):
    def unit_of_work(self, member_id: str, *, contended: bool = False, **expected) -> _MemoryUnit:
        return _CloningUnit(self, member_id)


def one_round(compiled, store: MemoryStore, events: list[dict]) -> tuple[float, list[tuple[str, str]]]:
    engine = Engine(compiled, store)
    gc.collect()
    started = time.perf_counter()
    decisions = [engine.process(event) for event in events]
    seconds = time.perf_counter() - started
    return seconds / len(events) * 1e6, [(d.outcome, str(d.points)) for d in decisions]


def bench(name: str, events: list[dict], rounds: int) -> dict[str, float]:
    compiled = compile_ruleset(ROOT / f"rulesets/{name}.yaml")
    times: dict[str, list[float]] = {"clone per event": [], "in place": []}
    for _ in range(rounds):
        cloned, before = one_round(compiled, CloningStore(), events)
        in_place, after = one_round(compiled, MemoryStore(), events)
        if before != after:
            raise SystemExit(f"{name}: the two stores disagree on a decision; no figures")
        times["clone per event"].append(cloned)
        times["in place"].append(in_place)
    baseline, new = (statistics.median(times[key]) for key in ("clone per event", "in place"))
    print(f"{name}: clone per event {baseline:.1f} µs/event (baseline), in place {new:.1f} µs/event, "
          f"{new / baseline:.2f}x; the same decisions both ways")
    return {"baseline_us": baseline, "in_place_us": new, "ratio": new / baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--members", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name in ("coffee-club", "retail-tiers"):
        bench(name, generate(args.events, args.members, with_check_ins=name == "retail-tiers"), args.rounds)


if __name__ == "__main__":
    main()
