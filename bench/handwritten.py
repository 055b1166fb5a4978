"""The benchmarks' baseline: each ruleset written out by hand as a plain Python function.

``coffee_club()`` and ``retail_tiers()`` each return a :class:`ByHand`: ``points(event)``
decides one raw event (the generator's dicts, as the engine receives them) and returns
its points, keeping every member's state in a dict; ``view(member)`` reads back what the
engine's decision reports about that member afterwards. They cover what the generated
events exercise (purchases and check-ins inside one year and a bit, no refunds or
redemptions), which is what makes them a fair floor: the same answers, none of the
engine's generality. :func:`disagreements` checks both against the engine.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["BY_HAND", "ByHand", "coffee_club", "disagreements", "engine_view", "retail_tiers"]

ZERO = Decimal(0)
# The rulesets' figures, as the rulesets write them.
MORNING_UNTIL = 10  # coffee-club: coffee earns double before 10:00...
WORKDAYS = 5  # ...Monday to Friday (weekday() 0-4)
BIG_ORDER = 1300  # coffee-club: an order of at least this earns the bonus...
BIG_ORDERS_A_MONTH = 4  # ...at most this many times a month
VELOCITY_LIMIT = 10  # retail-tiers: purchases an hour before the gate blocks them
REVIEW_ABOVE = 10000  # retail-tiers: a purchase above this is held for review


@dataclass(frozen=True)
class ByHand:
    points: Callable[[dict], Decimal]
    view: Callable[[str], tuple]


def _floor(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding=ROUND_FLOOR)


def _coffee_cap(state: dict, day: dt.date, total: Decimal, bonus: Decimal) -> tuple[Decimal, Decimal]:
    """The daily cap of 500: it cuts from the last contribution (the bonus) first."""
    if state["day"] != day:
        state["day"], state["day_points"] = day, ZERO
    room = Decimal(500) - state["day_points"]
    if total <= room:
        return total, bonus
    return room, bonus - min(bonus, total - room)


def coffee_club() -> ByHand:
    """coffee-club: base, weekday-morning double on coffee, big-basket bonus (4 a month,
    from a shared budget), a daily cap. Points are available at once; view: the balance."""
    tz, members, budget = ZoneInfo("Europe/Moscow"), {}, [Decimal(1_000_000)]

    def points(ev: dict) -> Decimal:
        local = dt.datetime.fromisoformat(ev["time"]).replace(tzinfo=tz)
        amount, category = Decimal(ev["amount"]), ev["category"]
        state = members.get(ev["member"])
        if state is None:
            state = members[ev["member"]] = {"day": None, "day_points": ZERO, "month": None, "bigs": 0,
                                             "balance": ZERO}
        base = ZERO if category == "gift_card" else amount
        extra = base if category == "coffee" and local.hour < MORNING_UNTIL and local.weekday() < WORKDAYS else ZERO
        month = (local.year, local.month)
        if state["month"] != month:
            state["month"], state["bigs"] = month, 0
        bonus = min(Decimal(50), budget[0]) if amount >= BIG_ORDER and state["bigs"] < BIG_ORDERS_A_MONTH else ZERO
        total, bonus = _coffee_cap(state, local.date(), base + extra + bonus, bonus)
        result = _floor(total)
        if bonus > 0:
            state["bigs"] += 1
            budget[0] -= bonus
        if result > 0:
            state["day_points"] += result
            state["balance"] += result
        return result

    return ByHand(points, lambda member: (members[member]["balance"],))


RETAIL_LEVELS = ((Decimal(20000), "diamond", Decimal(2)), (Decimal(5000), "gold", Decimal("1.5")),
                 (Decimal(1000), "silver", Decimal("1.2")), (ZERO, "standard", Decimal(1)))
RANK = {name: rank for rank, (_, name, _) in enumerate(reversed(RETAIL_LEVELS))}


def _level(spend: Decimal) -> tuple[Decimal, str, Decimal]:
    return next(level for level in RETAIL_LEVELS if spend >= level[0])


def _retail_tier(state: dict, year: int) -> tuple[Decimal, str, Decimal]:
    """The tier held in ``year``: the better of this year's spend and last year's (a tier
    earned in a calendar year is kept through the next)."""
    spend = state["spend"]
    now, last = _level(spend.get(year, ZERO)), _level(spend.get(year - 1, ZERO))
    return now if RANK[now[1]] >= RANK[last[1]] else last


def _release(state: dict, local: dt.datetime) -> None:
    """Pending points become spendable 14 days after they were earned."""
    lots = state["lots"]
    while lots and lots[0][0] <= local:
        state["balance"] += lots.popleft()[1]


def _check_in(state: dict, local: dt.datetime) -> Decimal:
    today = local.toordinal()
    if state["day"] == today:
        return ZERO
    state["streak"] = state["streak"] + 1 if state["day"] == today - 1 else 1
    state["day"] = today
    return Decimal(5) + min(2 * state["streak"], 20)


def _purchase(state: dict, ev: dict, local: dt.datetime) -> Decimal:
    recent = state["recent"]
    while recent and recent[0] <= local - dt.timedelta(minutes=60):
        recent.popleft()
    if len(recent) >= VELOCITY_LIMIT:
        return ZERO  # the velocity gate blocks it: nothing changes
    recent.append(local)
    amount = Decimal(ev["amount"])
    held = _retail_tier(state, local.year)[2]  # earned at the tier held before this purchase
    spend = state["spend"]
    spend[local.year] = spend.get(local.year, ZERO) + amount
    return ZERO if ev["category"] == "gift_card" else _floor(amount / 100 * held)


def retail_tiers() -> ByHand:
    """retail-tiers: 1 point per 100 yen times the tier's multiplier, a velocity block, a
    check-in streak, purchases over 10,000 yen held for review; points pending for 14 days.
    View: the tier, this year's spend, the balance, the pending points."""
    tz, members, wait = ZoneInfo("Asia/Tokyo"), {}, dt.timedelta(days=14)

    def points(ev: dict) -> Decimal:
        local = dt.datetime.fromisoformat(ev["time"]).replace(tzinfo=tz)
        state = members.get(ev["member"])
        if state is None:
            state = members[ev["member"]] = {"spend": {}, "recent": deque(), "day": None, "streak": 0,
                                             "lots": deque(), "balance": ZERO, "held": ZERO, "year": 0}
        _release(state, local)
        state["year"] = local.year
        result = _check_in(state, local) if ev["type"] == "check_in" else _purchase(state, ev, local)
        if not result:
            return result
        if ev["type"] == "purchase" and Decimal(ev["amount"]) > REVIEW_ABOVE:
            state["held"] += result  # held for review: pending until someone decides, never released by time
        else:
            state["lots"].append((local + wait, result))
        return result

    def view(member: str) -> tuple:
        state = members[member]
        pending = sum((points for _, points in state["lots"]), state["held"])
        return (_retail_tier(state, state["year"])[1], state["spend"].get(state["year"], ZERO), state["balance"],
                pending)

    return ByHand(points, view)


BY_HAND: dict[str, Callable[[], ByHand]] = {"coffee-club": coffee_club, "retail-tiers": retail_tiers}


def engine_view(name: str, decision: Any) -> tuple:
    """What the engine's decision says about the member, in the shape ``view`` returns."""
    if name == "coffee-club":
        return (decision.balance,)
    return (decision.tier.current, decision.tier.metric, decision.balance, decision.pending)


def disagreements(name: str, decide: Callable[[dict], Any], events: list[dict], limit: int = 5) -> list[str]:
    """Events on which the hand-written function and ``decide`` (raw event -> the engine's
    decision) differ in points or in the member's view; at most ``limit`` of them."""
    hand, found = BY_HAND[name](), []
    for event in events:
        points = hand.points(event)
        decision = decide(event)
        ours, theirs = (points, *hand.view(event["member"])), (decision.points, *engine_view(name, decision))
        if ours != theirs:
            found.append(f"{event['id']}: by hand {ours}, engine {theirs}")
            if len(found) >= limit:
                break
    return found
