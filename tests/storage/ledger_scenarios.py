"""Event streams for the storage tests: deterministic (seeded), every built-in event
type, retries and reused ids included."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVERYTHING = HERE / "rulesets" / "everything.yaml"
COFFEE = HERE.parents[1] / "rulesets" / "coffee-club.yaml"

__all__ = ["EVERYTHING", "COFFEE", "mixed_events", "purchases", "stamp"]


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class _Stream:
    def __init__(self, seed: int, members: int):
        self.rng = random.Random(seed)
        self.members = [f"m{i}" for i in range(members)]
        self.now = dt.datetime(2026, 1, 5, 9, 0)
        self.count = 0
        self.orders: dict[str, list[str]] = {m: [] for m in self.members}
        self.redemptions: dict[str, list[str]] = {m: [] for m in self.members}
        self.events: list[dict] = []

    def base(self, kind: str, member: str) -> dict:
        self.count += 1
        self.now += dt.timedelta(minutes=self.rng.choice([5, 30, 90, 600, 1500, 4000, 12000]))
        return {"type": kind, "id": f"{kind[:2]}-{self.count}", "member": member, "time": stamp(self.now)}

    def next(self) -> dict:
        member = self.rng.choice(self.members)
        roll = self.rng.random()
        if roll < 0.04 and self.events:
            return dict(self.rng.choice(self.events))  # a host retry: same id, same body
        if roll < 0.45:
            return self.purchase(member)
        makers = [self.visit, self.redeem, self.refund, self.reversal, self.adjust, self.review, self.tick]
        return self.rng.choice(makers)(member)

    def purchase(self, member: str) -> dict:
        event = self.base("purchase", member)
        event.update(amount=str(self.rng.choice([12, 99, 150, 310, 480, 950, "73.5"])),
                     category=self.rng.choice(["coffee", "food"]))
        self.orders[member].append(event["id"])
        return event

    def visit(self, member: str) -> dict:
        return self.base("visit", member)

    def redeem(self, member: str) -> dict:
        event = self.base("redeem", member)
        event["points"] = str(self.rng.choice([10, 50, 200, 700]))
        self.redemptions[member].append(event["id"])
        return event

    def refund(self, member: str) -> dict:
        event = self.base("refund", member)
        event.update(order=self._pick(self.orders[member]), amount=str(self.rng.choice([5, 50, 140])))
        return event

    def reversal(self, member: str) -> dict:
        event = self.base("redeem_reversal", member)
        event["redemption"] = self._pick(self.redemptions[member])
        return event

    def adjust(self, member: str) -> dict:
        event = self.base("adjust", member)
        event.update(points=str(self.rng.choice([-400, -30, 20, 75])), reason="service recovery")
        return event

    def review(self, member: str) -> dict:
        event = self.base("review_decision", member)
        event.update(target=self._pick(self.orders[member]), verdict=self.rng.choice(["release", "void"]))
        return event

    def tick(self, member: str) -> dict:
        return self.base("tick", member)

    def _pick(self, ids: list[str]) -> str:
        return self.rng.choice(ids[-6:]) if ids else "nothing"


def mixed_events(seed: int, count: int, members: int = 4) -> list[dict]:
    """Every built-in event type for the ``everything`` ruleset, with retries."""
    stream = _Stream(seed, members)
    while len(stream.events) < count:
        stream.events.append(stream.next())
    return stream.events


def purchases(seed: int, count: int, members: int, prefix: str = "p") -> list[dict]:
    """Coffee-club purchases, at most one per member a day: every member's total is then
    the same whatever order they are applied in (the daily cap never sees two)."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 3, 2, 7, 0)
    days: dict[str, int] = {}
    events = []
    for i in range(count):
        member = f"m{rng.randrange(members)}"
        days[member] = days.get(member, -1) + 1
        moment = start + dt.timedelta(days=days[member], minutes=rng.randrange(60 * 14))
        events.append({"type": "purchase", "id": f"{prefix}-{i}", "member": member, "time": stamp(moment),
                       "amount": str(rng.choice([80, 150, 420, 1350])), "category": rng.choice(["coffee", "food"])})
    return events
