"""One seed, one whole history: members, their events, and the decisions the oracle expects.

Amounts are drawn across the documented range (docs/semantics.md; ``MAX_AMOUNT``
currency units with as many decimal places as the currency has: 2 for GBP, 0 for JPY, 3
for BHD): zero, one minor unit, the maximum, and every number of digits in between,
written with and without trailing zeros, with an extra trailing zero, or with an
exponent. Points in ``redeem`` and ``adjust`` are multiples of the ruleset's step, up to
``MAX_POINTS`` either way. Redemptions and
refunds are drawn against what the member holds (all of it, all of it and one more, a
part, a penny), so the edges are hit often. Times move on by seconds to weeks, land now
and then exactly on an edge (a lot's expiry, the end of a refund window, or a second
before), and a few events are late (earlier than the member's last one). A share of
events are retries of earlier ones (the same id and body, perhaps written differently:
a duplicate) or reuse an id with another body (a conflict). With ``out_of_bounds`` > 0,
that share of events carries input outside the documented bounds, which must be
rejected and change nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sim_oracle import GBP, REFUND_MONTHS, Expected, Oracle, Units, add_months

__all__ = ["History", "SimEvent", "make_history", "money", "out_of_bounds_values", "MAX_AMOUNT", "MAX_POINTS",
           "START"]

MAX_AMOUNT = 10 ** 12  # the documented bounds, in currency units and in points (inclusive)
MAX_POINTS = 10 ** 15
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KINDS = ["purchase"] * 8 + ["redeem"] * 4 + ["refund"] * 3 + ["redeem_reversal"] * 2 + ["adjust"] * 2 + ["tick"]


def out_of_bounds_values(units: Units) -> dict[str, list[str]]:
    """Values a documented bound refuses, for the field each type's event carries them in:
    one decimal place too many, past the maximum, not finite, -0, or not plain digits."""
    finer_amount = "0." + "0" * units.amount_places + "1"
    finer_points = "0." + "0" * units.point_places + "1"
    return {
        "purchase": [finer_amount, "12." + "3" * (units.amount_places + 1), str(MAX_AMOUNT + 1), "1e309",
                     "1e999999999", "-0", "5_0", " 5 ", "1E-30", "-1", "NaN"],
        "redeem": [finer_points, "1e-30", str(MAX_POINTS + 1), "1e309", "-0", "Infinity"],
        "adjust": [finer_points, "-" + finer_points, str(MAX_POINTS + 1), f"-{MAX_POINTS + 1}", "1e999999999", "-0"],
    }


@dataclass
class SimEvent:
    raw: dict
    expected: Expected


@dataclass
class History:
    seed: int
    events: list[SimEvent]
    members: list[str]
    oracle: Oracle
    workers: list[list[int]] = field(default_factory=list)  # event indexes per worker, by member
    units: Units = GBP

    def worker_events(self, worker: int) -> list[dict]:
        return [self.events[i].raw for i in self.workers[worker]]


def make_history(seed: int, events: int, members: int, workers: int, out_of_bounds: float = 0.0,
                 late_records: bool = False, units: Units = GBP) -> History:
    """``late_records``: refunds and reversals may be late too (earlier than the member's
    last event). Off by default: a late one is refused once housekeeping at a later event
    has forgotten its order or redemption (tests/sim/test_found.py)."""
    rng = random.Random(seed)
    names = [f"m{seed % 1000}-{i}" for i in range(members)]
    maker = _Maker(rng, Oracle(units), out_of_bounds, late_records)
    for _ in range(events):
        maker.next(rng.choice(names))
    history = History(seed, maker.events, names, maker.oracle, units=units)
    history.workers = share_out(seed, names, maker.events, workers)
    return history


def share_out(seed: int, names: list[str], events: list[SimEvent], workers: int) -> list[list[int]]:
    """Each member's events go to one worker; a quarter of the members are mirrored on a
    second worker too, as an at-least-once queue with two consumers would deliver them:
    both send the same events in the same order, so each must be applied exactly once,
    whichever gets there first, and the member's order still holds."""
    rng = random.Random(f"mirror-{seed}")
    owners = {name: {i % workers, (i + 1) % workers} if rng.random() < 0.25 else {i % workers}
              for i, name in enumerate(names)}
    return [[i for i, e in enumerate(events) if w in owners[e.raw["member"]]] for w in range(workers)]


def money(minor: int, rng: random.Random, places: int = 2) -> str:
    """``minor`` units of 10**-places as text: all the places, trailing zeros dropped or one
    added, or an exponent."""
    sign = "-" if minor < 0 else ""
    major, fraction = divmod(abs(minor), 10 ** places)
    text, roll = f"{major}.{fraction:0{places}d}" if places else str(major), rng.random()
    if roll < 0.25 and places:
        text = text.rstrip("0").rstrip(".") or "0"
    elif roll < 0.35:
        text += "0" if places else ".0"
    elif roll < 0.45:
        text = f"{abs(minor)}E-{places}"
    return sign + text


def draw_minor(rng: random.Random, limit: int) -> int:
    """Zero, one, the maximum, or a number with a uniformly drawn count of digits."""
    roll = rng.random()
    if roll < 0.04:
        return rng.choice([0, 1, limit])
    digits = rng.randint(1, len(str(limit)))
    return min(rng.randint(10 ** (digits - 1), 10 ** digits - 1), limit)


class _Maker:
    def __init__(self, rng: random.Random, oracle: Oracle, out_of_bounds: float, late_records: bool):
        self.rng, self.oracle, self.oob, self.late_records = rng, oracle, out_of_bounds, late_records
        units = oracle.units
        self.bad = out_of_bounds_values(units)
        self.amount_places, self.point_places = units.amount_places, units.point_places
        self.amount_limit = MAX_AMOUNT * 10 ** units.amount_places  # the bounds in minor units and steps
        self.points_limit = MAX_POINTS * 10 ** units.point_places
        self.events: list[SimEvent] = []
        self.clock: dict[str, dt.datetime] = {}
        self.bodies: dict[str, list[tuple]] = {}  # member -> [(raw, oracle args)] sent so far
        self.count = 0

    def next(self, member: str) -> None:
        rng = self.rng
        now = self._advance(member)
        sent = self.bodies.setdefault(member, [])
        if sent and rng.random() < 0.05:
            return self._resend(sent, now)
        self.count += 1
        kind = rng.choice(KINDS)
        if kind in ("refund", "redeem_reversal") and not self.late_records:
            now = max(now, self.clock[member])  # see make_history: sent at the member's own time
        event_id = f"{kind[:3]}-{self.count}"
        raw = {"type": kind, "id": event_id, "member": member, "time": now.isoformat()}
        valid, values = True, {}
        if kind in self.bad and rng.random() < self.oob:
            valid, values = False, {}
            raw["amount" if kind == "purchase" else "points"] = rng.choice(self.bad[kind])
        else:
            values = getattr(self, f"_{kind}")(member, now, raw)
        if kind == "adjust":
            raw["reason"] = "goodwill"
        self._record(raw, kind, now, valid, values)
        sent.append((raw, kind, now, valid, values))

    def _record(self, raw: dict, kind: str, now, valid: bool, values: dict) -> None:
        # what the request means, not how it is written: "12.3" and "12.30" are one amount
        body = (kind, raw["member"], now, tuple(sorted(values.items()))) if valid else tuple(sorted(raw.items()))
        expected = self.oracle.apply(raw["id"], raw["member"], kind, now, body, valid, **values)
        self.events.append(SimEvent(raw, expected))

    def _advance(self, member: str) -> dt.datetime:
        rng, roll = self.rng, self.rng.random()
        gap = (rng.randint(0, 600) if roll < 0.4 else rng.randint(600, 3 * 86400) if roll < 0.8
               else rng.randint(3 * 86400, 40 * 86400))
        if member in self.clock and roll > 0.97:  # a late event: earlier than the member's last one
            return self.clock[member] - dt.timedelta(seconds=rng.randint(1, 10 * 86400))
        edges = self._edges(member) if rng.random() < 0.06 else []
        self.clock[member] = rng.choice(edges) if edges else \
            self.clock.get(member, START) + dt.timedelta(seconds=gap)
        return self.clock[member]

    def _edges(self, member: str) -> list[dt.datetime]:
        """Instants where a rule changes its answer, still ahead of the member: a lot's expiry,
        the end of an order's or a redemption's refund window, and a second before each."""
        state, clock = self.oracle.member(member), self.clock.get(member, START)
        ends = [lot.expires_at for lot in state.lots.values() if lot.remaining]
        ends += [add_months(record[0], REFUND_MONTHS) for record in (*state.orders.values(),
                                                                     *state.redemptions.values())]
        second = dt.timedelta(seconds=1)
        return sorted(t for end in ends for t in (end, end - second) if t > clock)[:6]

    def _resend(self, sent: list, now) -> None:
        """An earlier event again: its own body, perhaps written differently (a duplicate), or
        another body (a conflict, never a duplicate)."""
        raw, kind, then, valid, values = self.rng.choice(sent)
        raw, values, roll = dict(raw), dict(values), self.rng.random()
        if roll < 0.2 and kind == "purchase" and valid:  # one penny more or less: the last digit differs
            values["pence"] += 1 if values["pence"] < self.amount_limit else -1
            raw["amount"] = money(values["pence"], self.rng, self.amount_places)
        elif roll < 0.2:
            then, raw["time"] = now, now.isoformat()
        elif roll < 0.5 and valid:  # the same values in other notation
            for name, key, places in (("amount", "pence", self.amount_places),
                                      ("points", "points", self.point_places)):
                if name in raw:
                    raw[name] = money(values[key], self.rng, places)
            raw["time"] = then.isoformat().replace("+00:00", "Z")
        self._record(raw, kind, then, valid, values)

    # -- bodies per type: each returns the oracle's arguments ---------------------------
    def _purchase(self, member, now, raw) -> dict:
        pence = draw_minor(self.rng, self.amount_limit)
        raw["amount"] = money(pence, self.rng, self.amount_places)
        return {"pence": pence}

    def _redeem(self, member, now, raw) -> dict:
        have = self._available(member, now)
        rng, roll = self.rng, self.rng.random()
        points = (have if roll < 0.15 else have + 1 if roll < 0.25 else rng.randint(1, max(have, 1))
                  if roll < 0.75 else max(1, draw_minor(rng, self.points_limit)))
        points = min(points, self.points_limit)  # a balance may hold more than one event may move
        raw["points"] = money(points, rng, self.point_places)
        return {"points": points}

    def _adjust(self, member, now, raw) -> dict:
        roll = self.rng.random()
        if roll < 0.3:  # taking back part of what the member has: no negative balance
            points = -self.rng.randint(1, min(max(1, self._available(member, now)), self.points_limit))
        else:
            points = draw_minor(self.rng, self.points_limit) or 1
            points = points if roll < 0.75 else -points
        raw["points"] = money(points, self.rng, self.point_places)
        return {"points": points}

    def _refund(self, member, now, raw) -> dict:
        orders = self.oracle.member(member).orders
        rng = self.rng
        if not orders or rng.random() < 0.05:
            order, left = f"nope-{self.count}", 100
        else:
            recent = list(orders)[-6:] if rng.random() < 0.8 else sorted(orders)  # most within the window
            order = rng.choice(recent)
            left = orders[order][1] - orders[order][3]
        roll = rng.random()
        pence = (left if roll < 0.2 else left + 1 if roll < 0.3 else 1 if roll < 0.4
                 else rng.randint(1, max(left, 1)))
        pence = min(pence, self.amount_limit)  # one more than a refundable maximum is out of bounds
        raw["order"], raw["amount"] = order, money(pence, rng, self.amount_places)
        return {"order": order, "pence": pence}

    def _redeem_reversal(self, member, now, raw) -> dict:
        made = self.oracle.member(member).redemptions
        recent = list(made)[-4:] if self.rng.random() < 0.8 else sorted(made)
        target = self.rng.choice(recent) if made and self.rng.random() < 0.95 else f"nope-{self.count}"
        raw["redemption"] = target
        return {"redemption": target}

    def _tick(self, member, now, raw) -> dict:
        return {}

    def _available(self, member: str, now) -> int:
        """What the member could spend at ``now`` (after expiry), by the oracle."""
        state = self.oracle.member(member)
        live = sum(lot.remaining for lot in state.lots.values() if lot.expires_at > now)
        return max(live - state.debt, 0)

