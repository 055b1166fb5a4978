"""``punchcard sample-events``: a year of made-up but plausible history, from a seed.

Members have habits: morning coffee buyers on weekdays, weekly shoppers on their
day, occasional shoppers, a few big spenders, and some who check in every day.
Baskets are heavy-tailed (lognormal, with a Pareto tail for big spenders), in the
ruleset's currency, as exact Decimal money. Some orders are refunded days later,
points are redeemed once they are likely to be there, big tickets get a review
verdict, a few members burst many purchases within minutes, and a few events are
sent twice. The same seed and options give the same bytes.

For a ruleset with variants, the history can know a truth for ``ab report`` to find: the members
of a variant shop more often (``uplift``), or are shown offers and answer them with the
purchases the offers bring (``offers``): before each such purchase the member is shown three
offers and takes one, chosen as the engagement model's simulated history chooses
(:mod:`.responses`), and the purchase is in the taken offer's category.

Events are generated day by day and written in time order, so a million events
need no more memory than a day's worth.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from itertools import accumulate

from punchcard.engine.policies.profile import fold_event
from punchcard.engine.program import Compiled, Split
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import Profile

from .responses import draw_offer, take_one
from .shape import Shape, shape_of

__all__ = ["SampleOptions", "generate", "csv_columns", "member_id", "PERSONAS"]

# persona: (share of members, purchases a week, median basket x scale, tail)
PERSONAS = {"coffee": (0.25, 3.0, Decimal("0.15"), "lognormal"), "weekly": (0.35, 1.0, Decimal("1.0"), "lognormal"),
            "occasional": (0.35, 0.25, Decimal("1.3"), "lognormal"), "big": (0.05, 2.0, Decimal("3.0"), "pareto")}
_LAST_DAY = dt.date.max - dt.timedelta(days=366)  # leaves room for refunds and verdicts due later
_SHARE = {"purchase": 0.80, "checkin": 0.12, "bursts": 0.012}  # the rest: refunds, redemptions, reviews, retries
# Habits and odds: each draw below is compared with one of these.
_WORKDAYS = 5  # Monday to Friday (weekday() 0-4): the coffee buyer's days
_COFFEE_WEEKEND = 0.05  # purchases a coffee buyer makes on a weekend day
_CHECKIN_ODDS = 0.7  # a daily checker checks in on seven days in ten
_MORNING_ENDS = 11  # a coffee buyer's purchases before this hour are coffee
_GIFT_ODDS = 0.03  # purchases of the gift category
_RETRY_ODDS = 0.003  # purchases a client sends twice
_REFUND_ODDS = 0.03  # purchases refunded later
_FULL_REFUND_ODDS = 0.6  # refunds of the whole amount; the others refund part
_RELEASE_ODDS = 0.85  # reviews that release the points; the others void them
_REDEEM_ODDS = 0.3  # chances a member redeems once enough points are there
_EXACT_POISSON_BELOW = 30  # mean under which a Poisson draw is exact; above, the normal approximation
_SHOWN = 3  # offers shown together before a purchase an offer brings; the member takes one
_SHOWN_BEFORE = (5, 180)  # minutes between the offers being shown and the purchase they bring
_OFFER_COLUMNS = ["offer", "offer_type", "category", "value"]


@dataclass(frozen=True)
class SampleOptions:
    count: int = 20_000
    members: int = 2_500
    seed: int = 7
    start: dt.date = dt.date(2026, 1, 1)
    days: int = 365
    # (variant, true uplift as a fraction): members the ruleset puts in that variant shop this
    # much more often (0.2: 20% more purchases), so an A/B report has a known truth to find
    uplift: tuple[tuple[str, Decimal], ...] = ()
    # (variant, true lift as a fraction): members the ruleset puts in that variant are shown offers
    # and answer them with that many more purchases (0.2: 20% more), each brought by an offer taken
    offers: tuple[tuple[str, Decimal], ...] = ()


@dataclass
class _Member:
    id: str
    persona: str
    weekday: int  # the weekly shopper's day
    hour: int
    points: list  # (spendable from, points) not yet counted as available
    available: Decimal = Decimal(0)


class _Generator:
    def __init__(self, shape: Shape, options: SampleOptions, split: Split | None = None):
        self.shape, self.options = shape, options
        self.rng = random.Random(options.seed)
        self.members = [self._member(i) for i in range(options.members)]
        self.factors = _factors(self.members, options.uplift, split, "--uplift")
        brought = _factors(self.members, options.offers, split, "--offers")
        if brought:  # the offers' purchases come on top of any uplift: the factors multiply
            self.factors = {m.id: self.factors.get(m.id, 1.0) * brought[m.id] for m in self.members}
        # the chance that a habitual purchase of the member is one an offer brought: lift / (1 + lift)
        self.responds = {m: 1.0 - 1.0 / f for m, f in brought.items() if f > 1.0}
        self.profiles: dict[str, Profile] = {}  # of the members who answer offers: what they spend on
        self.later: list = []  # heap of (time, seq, event) due on a later day
        self.seq = 0
        self.counts = {"p": 0, "c": 0, "f": 0, "x": 0, "v": 0, "o": 0}
        self.rate = self._purchase_rate()
        self.samplers = [self._sampler(day) for day in range(7)]
        checkins = _SHARE["checkin"] * options.count if shape.checkin_type else 0
        self.checkers = self.members[:max(1, round(checkins / (_CHECKIN_ODDS * options.days)))] if checkins else []

    def _member(self, index: int) -> _Member:
        draw, acc, persona = self.rng.random(), 0.0, "occasional"
        for name, (share, *_rest) in PERSONAS.items():
            acc += share
            if draw < acc:
                persona = name
                break
        hour = self.rng.randint(7, 9) if persona == "coffee" else self.rng.randint(10, 20)
        return _Member(member_id(index), persona, self.rng.randrange(7), hour, [])

    def _weight(self, member: _Member, weekday: int) -> float:
        per_week = PERSONAS[member.persona][1] * self.factors.get(member.id, 1.0)
        if member.persona == "coffee":
            return per_week / _WORKDAYS if weekday < _WORKDAYS else _COFFEE_WEEKEND
        if member.persona == "weekly":
            return per_week * 0.8 if weekday == member.weekday else per_week * 0.2 / 6
        return per_week / 7

    def _sampler(self, weekday: int) -> tuple[list, float]:
        cumulative = list(accumulate(self._weight(m, weekday) for m in self.members))
        return cumulative, cumulative[-1]

    def _purchase_rate(self) -> float:
        """Scales habits so purchases come to their share of ``count`` over the days."""
        weekly = sum(sum(self._weight(m, d) for d in range(7)) for m in self.members)
        expected = weekly * self.options.days / 7
        return _SHARE["purchase"] * self.options.count / expected if expected else 0.0

    def _poisson(self, mean: float) -> int:
        if mean < _EXACT_POISSON_BELOW:
            limit, k, p = math.exp(-mean), 0, 1.0
            while True:
                p *= self.rng.random()
                if p <= limit:
                    return k
                k += 1
        return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))

    def _id(self, prefix: str) -> str:
        self.counts[prefix] += 1
        return f"{prefix}{self.counts[prefix]:07d}"

    def _at(self, day: dt.date, hour: int, spread_minutes: int = 90) -> dt.datetime:
        minute = self.rng.randrange(spread_minutes)
        base = dt.datetime(day.year, day.month, day.day, tzinfo=self.shape.tz)
        return base + dt.timedelta(hours=hour, minutes=minute, seconds=self.rng.randrange(60))

    def _push(self, when: dt.datetime, event: dict) -> None:
        self.seq += 1
        heapq.heappush(self.later, (when, self.seq, event))

    def day(self, day: dt.date) -> list[tuple[dt.datetime, dict]]:
        out: list[tuple[dt.datetime, dict]] = []
        cumulative, total = self.samplers[day.weekday()]
        for _ in range(self._poisson(total * self.rate)):
            member = self.members[bisect_right(cumulative, self.rng.random() * total)]
            self._habit(out, member, self._at(day, member.hour))
        checkin = self.shape.checkin_type  # there are checkers only when there is a check-in type
        for member in self.checkers:
            if self.rng.random() < _CHECKIN_ODDS and checkin is not None:
                out.append(self._event(checkin, member, self._at(day, 8, 14 * 60), "c"))
        for _ in range(self._poisson(_SHARE["bursts"] * self.options.count / self.options.days / 12)):
            self._burst(out, day)
        end = dt.datetime(day.year, day.month, day.day, tzinfo=self.shape.tz) + dt.timedelta(days=1)
        while self.later and self.later[0][0] < end:
            when, _seq, event = heapq.heappop(self.later)
            out.append((when, event))
        out.sort(key=lambda item: (item[0], item[1]["id"]))
        return out

    def _event(self, kind: str, member: _Member, when: dt.datetime, prefix: str, **fields) -> tuple:
        return when, {"type": kind, "id": self._id(prefix), "member": member.id, "time": when.isoformat(), **fields}

    def _basket(self, member: _Member) -> Decimal:
        _share, _week, median, tail = PERSONAS[member.persona]
        centre = float(self.shape.scale * median)
        draw = centre * self.rng.paretovariate(2.2) / 1.3 if tail == "pareto" \
            else self.rng.lognormvariate(math.log(centre), 0.8)
        # the draw is a float; the amount is a whole number of the currency's smallest unit
        units = max(1, int(draw / float(self.shape.cents)))
        return (Decimal(units) * self.shape.cents).quantize(self.shape.cents, rounding=ROUND_FLOOR)

    def _category(self, member: _Member, when: dt.datetime) -> str:
        shape = self.shape
        if shape.coffee and member.persona == "coffee" and when.hour < _MORNING_ENDS:
            return shape.coffee
        if shape.gift and self.rng.random() < _GIFT_ODDS:
            return shape.gift
        plain = [c for c in shape.categories if c not in (shape.coffee, shape.gift)] or ["food"]
        return plain[min(int(self.rng.paretovariate(1.5)) - 1, len(plain) - 1)]

    def _habit(self, out: list, member: _Member, when: dt.datetime) -> None:
        """A purchase of the member's habits, or, for a member who answers offers, one an offer brought."""
        chance = self.responds.get(member.id)
        if chance is not None and self.rng.random() < chance:
            self._brought(out, member, when)
        else:
            self._purchase(out, member, when)

    def _brought(self, out: list, member: _Member, when: dt.datetime) -> None:
        """Offers shown a little before, the one the member took, the purchase in its category, and
        ``offer_used``: the events of simulate-offers (offer, offer_type, category, value)."""
        profile = self.profiles.get(member.id, Profile())
        categories = self.shape.categories or ["food"]
        offers = [draw_offer(self.rng, self._id("o"), categories) for _ in range(_SHOWN)]
        taken = offers[take_one(self.rng, profile, offers)]
        shown = when - dt.timedelta(minutes=self.rng.randint(*_SHOWN_BEFORE))
        for index, fields in enumerate(offers):
            at = shown + dt.timedelta(seconds=index)
            out.append((at, {"type": "offer_presented", "id": f"{fields['offer']}-presented", "member": member.id,
                             "time": at.isoformat(), **fields}))
        self._purchase(out, member, when, category=str(taken["category"]))
        used = when + dt.timedelta(seconds=1)
        out.append((used, {"type": "offer_used", "id": f"{taken['offer']}-used", "member": member.id,
                           "time": used.isoformat(), **taken}))

    def _purchase(self, out: list, member: _Member, when: dt.datetime, amount: Decimal | None = None,
                  category: str | None = None) -> None:
        amount = amount if amount is not None else self._basket(member)
        fields: dict[str, Decimal | str] = {"amount": amount}
        if "category" in self.shape.order_fields:
            fields["category"] = category or self._category(member, when)
        if "channel" in self.shape.order_fields:
            fields["channel"] = self.rng.choices(["store", "online", "app"], [7, 2, 1])[0]
        item = self._event(self.shape.order_type, member, when, "p", **fields)
        out.append(item)
        if member.id in self.responds:  # what the member spends on decides which offers they take
            self.profiles[member.id] = fold_event(self.profiles.get(member.id), Event(
                item[1]["id"], self.shape.order_type, member.id, when, fields))
        if self.rng.random() < _RETRY_ODDS:  # a client retry: the same event again, a moment later
            out.append((when + dt.timedelta(seconds=2), item[1]))
        self._after_purchase(member, when, item[1]["id"], amount)

    def _after_purchase(self, member: _Member, when: dt.datetime, order: str, amount: Decimal) -> None:
        shape = self.shape
        if "refund" in shape.types and self.rng.random() < _REFUND_ODDS:
            back = amount if self.rng.random() < _FULL_REFUND_ODDS else \
                (amount * Decimal(self.rng.randint(1, 9)) / 10).quantize(shape.cents, rounding=ROUND_FLOOR)
            if back > 0:
                self._push(*self._event("refund", member, when + dt.timedelta(days=self.rng.randint(1, 20)), "f",
                                        order=order, amount=back))
        if shape.review_over is not None and amount > shape.review_over and "review_decision" in shape.types:
            verdict = "release" if self.rng.random() < _RELEASE_ODDS else "void"
            self._push(*self._event("review_decision", member, when + dt.timedelta(days=self.rng.randint(1, 5)),
                                    "v", target=order, verdict=verdict))
        member.points.append((when + shape.pending, amount * shape.points_per_money))
        self._maybe_redeem(member, when)

    def _maybe_redeem(self, member: _Member, when: dt.datetime) -> None:
        ready = [p for p in member.points if p[0] <= when]
        member.points = [p for p in member.points if p[0] > when]
        member.available += sum((p[1] for p in ready), Decimal(0))
        unit = max(Decimal(10), (self.shape.scale * self.shape.points_per_money * 3).quantize(Decimal(1)))
        if "redeem" in self.shape.types and member.available >= unit and self.rng.random() < _REDEEM_ODDS:
            points = unit * self.rng.randint(1, max(1, min(5, int(member.available / unit))))
            member.available -= points
            self._push(*self._event("redeem", member, when + dt.timedelta(minutes=self.rng.randint(1, 600)), "x",
                                    points=points))

    def _burst_member(self) -> _Member:
        """Anyone, alike; with an uplift, drawn in proportion to it (bursts are purchases too)."""
        member = self.members[self.rng.randrange(len(self.members))]
        if self.factors:
            top = max(self.factors.values())
            while self.rng.random() * top >= self.factors[member.id]:
                member = self.members[self.rng.randrange(len(self.members))]
        return member

    def _burst(self, out: list, day: dt.date) -> None:
        """Many purchases within minutes: what velocity rules are for."""
        member = self._burst_member()
        when = self._at(day, self.rng.randint(9, 21))
        for _ in range(self.rng.randint(8, 16)):
            when += dt.timedelta(seconds=self.rng.randint(20, 240))
            self._purchase(out, member, when, (self.shape.scale * Decimal("0.3")).quantize(self.shape.cents))


def member_id(index: int) -> str:
    """The id of the generated member number ``index``: ``m000000``, ``m000001``, ..."""
    return f"m{index:06d}"


def _factors(members: list[_Member], uplift: tuple[tuple[str, Decimal], ...], split: Split | None,
             option: str) -> dict[str, float]:
    """How much more often each member shops: 1 + the uplift of the variant the ruleset puts them in."""
    if not uplift:
        return {}
    if split is None:
        raise ValueError(f"{option} needs a ruleset with variants:")
    if option == "--offers" and any(value < 0 for _name, value in uplift):
        raise ValueError("--offers: offers bring purchases; the lift must be 0 or more")
    unknown = [name for name, _ in uplift if name not in split.programs]
    if unknown:
        raise ValueError(f"unknown variant {unknown[0]!r}; the variants are {', '.join(split.programs)}")
    lift = {name: 1.0 + float(value) for name, value in uplift}
    return {m.id: lift.get(split.variant_of(m.id), 1.0) for m in members}


def generate(compiled: Compiled, options: SampleOptions) -> Iterator[dict]:
    """Exactly ``options.count`` events in time order. Habits are scaled to ``count`` over
    ``days``, so a few events over many members may leave long idle stretches: generation goes
    on past them (and past ``days`` if the draws fell short), stopping early only when the
    calendar runs out."""
    generator = _Generator(shape_of(compiled), options, compiled.split)
    emitted, day = 0, options.start
    while emitted < options.count and day < _LAST_DAY:
        events = generator.day(day)
        for _when, event in events:
            yield event
            emitted += 1
            if emitted >= options.count:
                return
        day += dt.timedelta(days=1)


def csv_columns(compiled: Compiled, offers: bool = False) -> list[str]:
    """The columns of a CSV or Parquet sample; ``offers``: with those of the offer events too."""
    shape = shape_of(compiled)
    columns = ["type", "id", "member", "time", *shape.order_fields, "order", "amount", "points", "target", "verdict",
               *(_OFFER_COLUMNS if offers else ())]
    return list(dict.fromkeys(columns))
