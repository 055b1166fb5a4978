"""What messages cost, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_messages.py [--events 20000] [--members 500] [--rounds 3] [--outbox 2000]

1. Deciding: the same seeded purchases through ``Engine.process`` (memory store) with
   compliance-strict as shipped (its ``messages:`` section choosing, counting and suppressing)
   against the same ruleset with that section taken out.
2. Storing: the same on SQLite, where each chosen message is also an outbox row written in the
   decision's transaction.
3. Composing: the guardrails run on a text (what a model's draft costs to check) against
   filling the fallback template alone, on the messages the run chose.
4. Draining: ``drain`` of an SQLite outbox to a delivery that keeps nothing, per message.

Figures are medians over rounds, rounds interleaved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from punchcard.engine import Engine, MemoryStore, compile_ruleset  # noqa: E402
from punchcard.engine.messaging.guardrails import check  # noqa: E402
from punchcard.engine.messaging.send import drain  # noqa: E402
from punchcard.engine.messaging.templates import fill_request  # noqa: E402
from punchcard.engine.runtime.message import MessageRequest  # noqa: E402
from punchcard.plugins.sql.store import SqlStore  # noqa: E402

RULESET = ROOT / "rulesets" / "compliance-strict.yaml"


def _without_messages(text: str) -> str:
    """The ruleset without its messages: section, and without the tests that expect messages."""
    return text[:text.index("\nmessages:\n")] + "\n"


def events(count: int, members: int, seed: int = 7, days: int = 28) -> list[dict]:
    rng = random.Random(seed)
    out = [{"type": "profile", "id": f"m{m}-p", "member": f"m{m}", "time": "2026-01-01T00:00:00",
            "first_name": f"Name{m}", "birth_date": "1990-01-01", "marketing_opt_in": m % 3 != 0}
           for m in range(members)]
    for n in range(count):
        day, minute = divmod(rng.randrange(days * 24 * 60), 24 * 60)
        out.append({"type": "purchase", "id": f"e{n}", "member": f"m{rng.randrange(members)}", "amount": "12.50",
                    "category": rng.choice(["food", "food", "alcohol"]),
                    "time": f"2026-03-{1 + day:02d}T{minute // 60:02d}:{minute % 60:02d}:00"})
    return out


def _per_event(process: Callable[[dict], object], batch: list[dict], out: list | None = None) -> float:
    started = time.perf_counter()
    results = [process(event) for event in batch]
    seconds = time.perf_counter() - started
    if out is not None:
        out += results
    return seconds / len(batch) * 1e6


def deciding(rounds: int, batch: list[dict], sql: bool) -> tuple[float, float, list[MessageRequest]]:
    text = RULESET.read_text()
    programs = {"with": compile_ruleset(text), "without": compile_ruleset(_without_messages(text))}
    times: dict[str, list[float]] = {"with": [], "without": []}
    requests: list[MessageRequest] = []
    for _ in range(rounds):
        points: dict[str, list] = {}
        for side, compiled in programs.items():
            with tempfile.TemporaryDirectory() as folder:
                store = SqlStore(f"sqlite:///{folder}/p.db", batch_size=1) if sql else MemoryStore()
                engine, decisions = Engine(compiled, store), []
                times[side].append(_per_event(engine.process, batch, decisions))
                points[side] = [(d.outcome, d.points) for d in decisions]
                if side == "with" and not requests:
                    requests = _requests(engine, batch)
                store.close()
        if points["with"] != points["without"]:
            raise SystemExit("messages changed a decision's outcome or points; no figures")
    return statistics.median(times["without"]), statistics.median(times["with"]), requests


def _requests(engine: Engine, batch: list[dict]) -> list[MessageRequest]:
    out = []
    for member in sorted({e["member"] for e in batch})[:200]:
        for decision in engine.store.decisions(member, limit=1000):
            out += [MessageRequest.from_detail(decision.member_id, decision.event_id, decision.ruleset, e.detail)
                    for e in decision.effects if e.kind == "message"]
    return out


def composing(requests: list[MessageRequest], rounds: int) -> tuple[float, float]:
    filled, checked = [], []
    check(fill_request(requests[0]), requests[0])  # the language model loads once per process: not timed
    for _ in range(rounds):
        filled.append(_per_event(fill_request, requests))  # type: ignore[arg-type]
        texts = [fill_request(r) for r in requests]
        started = time.perf_counter()
        for request, text in zip(requests, texts, strict=True):
            check(text, request)
        checked.append((time.perf_counter() - started) / len(requests) * 1e6)
    return statistics.median(filled), statistics.median(checked)


class _Sink:
    name, channels = "sink", ("sms", "push", "email")

    def deliver(self, message: object) -> None:
        return None


def draining(batch: list[dict], limit: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite:///{folder}/p.db")
        Engine(compile_ruleset(RULESET), store).process_many(batch)
        sink = _Sink()
        started = time.perf_counter()
        report = drain(store, {c: sink for c in sink.channels}, {}, limit=limit,
                       clock=lambda: dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))  # due, none stale
        seconds = time.perf_counter() - started
        store.close()
    return seconds / max(report.sent, 1) * 1e6, report.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--outbox", type=int, default=2_000)
    args = parser.parse_args()
    batch = events(args.events, args.members)
    base, new, requests = deciding(args.rounds, batch, sql=False)
    print(f"deciding, memory store: without messages {base:.1f} µs/event (baseline), with {new:.1f}, {new / base:.2f}x")
    small = batch[: max(args.events // 10, args.members + 1)]
    base, new, _ = deciding(1, small, sql=True)
    print(f"storing, SQLite, one event a transaction: without messages {base:.1f} µs/event (baseline), with "
          f"{new:.1f} (outbox rows included), {new / base:.2f}x")
    filled, checked = composing(requests, args.rounds)
    print(f"composing {len(requests)} messages: template fill {filled:.1f} µs (baseline), every guardrail on the text "
          f"{checked:.1f} µs, {checked / filled:.1f}x")
    each, sent = draining(events(len(small), args.members, days=1), args.outbox)  # one day: all due at noon
    print(f"draining an SQLite outbox: {sent} messages, {each:.0f} µs a message (claim, compose, deliver, mark sent)")


if __name__ == "__main__":
    main()
