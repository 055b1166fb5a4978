"""Redemptions with terms: the ``rewards:`` catalogue and paying part of an order in points
(``redemption:``), docs/rewards.md.

A catalogue reward is bought at its price, inside its validity window, by a member of an
allowed tier, while it is in stock. Stock is a program budget named ``reward:<id>``: every
sale draws one unit, so the store hands it out exactly once however many members race for
the last unit (a conditional ``UPDATE`` on PostgreSQL, the write lock on SQLite), and a
reversed sale puts its unit back.

Paying an order in points: the points pay at most ``max_share`` of the order at ``rate``
points per unit of money, in whole ``step`` multiples; the rest is paid in cash. A refund of
the order gives the points back to the lots they came from, in proportion to the amount
refunded (whole steps; the refund that completes the order gives back the rest).

The ledger work (spending, giving back) is the lifecycle's (:mod:`.lifecycle.lots`); this
module decides what a redemption costs and what a refund returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from punchcard.dsl.rewards import RedemptionTerms, Reward

from ..program import Compiled
from ..runtime.decision import Effect, Step
from ..runtime.numbers import figure
from ..runtime.run import Rejected, Run
from ..runtime.state import ZERO, Redemption
from . import tiers
from .lifecycle import lots as ledger

__all__ = ["PLAN_KEY", "STOCK_PREFIX", "stock_limits", "RewardsPlan", "fill", "plan_of", "stock_key", "priced",
           "drawn", "restock", "paid_order", "refund_points", "whole_steps", "order_limit", "money_of", "member_rate"]

PLAN_KEY = "rewards:plan"  # the compiled catalogue in ``compiled.memo``
STOCK_PREFIX = "reward:"  # a reward's stock is the program budget of this name: a rule id never has a colon
ONE = Decimal(1)


@dataclasses.dataclass(frozen=True, slots=True)
class RewardsPlan:
    rewards: Mapping[str, Reward]
    terms: RedemptionTerms | None


def stock_key(reward: str) -> str:
    return STOCK_PREFIX + reward


def fill(compiled: Compiled) -> None:
    """The catalogue in ``compiled.memo``, and each stock in the limit plan's budgets (the engine
    reads and draws those through the store). Nothing without ``rewards:`` or ``redemption:``."""
    model = compiled.model
    if not model.rewards and model.redemption is None:
        return
    compiled.memo[PLAN_KEY] = RewardsPlan({r.id: r for r in model.rewards}, model.redemption)
    stocks = tuple((stock_key(r.id), Decimal(r.stock), f"stock:{r.id}") for r in model.rewards
                   if r.stock is not None)
    if stocks:
        limits = compiled.limit_plan
        compiled.limit_plan = dataclasses.replace(limits, budgets=limits.budgets + stocks)


def stock_limits(compiled: Compiled) -> dict[str, Decimal]:
    """Each limited reward's stock, as the program budget a replay plans like the earning ones."""
    return {rule: limit for rule, limit, _label in compiled.limit_plan.budgets if rule.startswith(STOCK_PREFIX)}


def plan_of(compiled: Compiled) -> RewardsPlan | None:
    found: RewardsPlan | None = compiled.memo.get(PLAN_KEY)
    return found


# -- what a redemption costs ----------------------------------------------------------------
def priced(run: Run) -> tuple[Decimal, dict[str, Any], str]:
    """The points a ``redeem`` spends, what its record keeps (reward, order) and what the trace
    adds. Without a catalogue a reward is only a label and the points are the event's."""
    plan = plan_of(run.compiled)
    fields = run.event.fields
    if plan is not None and plan.rewards and "reward" in fields:
        return _reward_price(run, plan.rewards, fields["reward"])
    if "order" in fields or "amount" in fields:
        if plan is None or plan.terms is None:
            raise Rejected("this ruleset has no redemption: terms, so an order cannot be paid in points")
        return _order_price(run, plan.terms)
    if "points" not in fields:
        raise Rejected("a redemption needs points, a reward of the catalogue, or an order to pay")
    return fields["points"], {}, ""


def _reward_price(run: Run, rewards: Mapping[str, Reward], reward_id: str) -> tuple[Decimal, dict[str, Any], str]:
    reward = rewards.get(reward_id)
    if reward is None:
        raise Rejected(f"unknown reward {reward_id!r}: it is not in the catalogue")
    day = run.now.date()
    if reward.from_ is not None and day < reward.from_:
        raise Rejected(f"reward {reward.id} can be redeemed from {reward.from_}")
    if reward.until is not None and day > reward.until:
        raise Rejected(f"reward {reward.id} could be redeemed until {reward.until}")
    if reward.tiers is not None:
        tier = tiers.current_name(run.compiled, run.state)
        if tier not in reward.tiers:
            raise Rejected(f"reward {reward.id} is for {', '.join(reward.tiers)} members; this member is {tier}")
    if reward.stock is not None and run.budgets_used.get(stock_key(reward.id), ZERO) + ONE > reward.stock:
        # the step a replay reads to know this refusal depends on the stock (engine/dryrun/budgets.py)
        run.trace.append(Step("ledger", stock_key(reward.id), False, f"all {reward.stock} sold",
                              before=ONE, after=ZERO))
        raise Rejected(f"reward {reward.id} is out of stock")
    asked = run.event.fields.get("points")
    if asked is not None and asked != reward.points:
        raise Rejected(f"reward {reward.id} costs {figure(reward.points)} points, not {figure(asked)}")
    return reward.points, {"reward": reward.id}, f" for reward {reward.id} ({reward.name})"


def whole_steps(points: Decimal, step: Decimal) -> Decimal:
    """``points`` rounded down to a whole multiple of ``step``."""
    return (points / step).to_integral_value(ROUND_FLOOR) * step


def order_limit(terms: RedemptionTerms, amount: Decimal, rate: Decimal | None = None) -> Decimal:
    """The most points an order of ``amount`` may be paid with: its share at the rate (``rate``:
    the member's level's own, else ``terms.rate``), the per-order maximum, in whole steps."""
    most = amount * terms.max_share * (terms.rate if rate is None else rate)
    if terms.max_points is not None and terms.max_points < most:
        most = terms.max_points
    return whole_steps(most, terms.step)


def _order_price(run: Run, terms: RedemptionTerms) -> tuple[Decimal, dict[str, Any], str]:
    fields = run.event.fields
    order, amount = fields.get("order"), fields.get("amount")
    if order is None or amount is None or amount <= 0:
        raise Rejected("paying an order in points needs the order's id and its amount, more than 0")
    paid = paid_order(run.state.redemptions, order)
    if paid is not None:
        raise Rejected(f"order {order} was already paid in part with points (redemption {paid.id})")
    rate = member_rate(run, terms)
    limit = order_limit(terms, amount, rate)
    points = fields.get("points")
    if points is None:  # as much as the member has and the order allows
        points = min(limit, whole_steps(run.state.available(run.now), terms.step))
    elif points % terms.step != 0:
        raise Rejected(f"points pay an order in whole multiples of {figure(terms.step)}; {figure(points)} is not one")
    elif points > limit:
        raise Rejected(f"{figure(points)} points is more than the {figure(limit)} this order may be paid with "
                       f"({_share(terms)} of {figure(amount)})")
    if points <= 0 or (terms.min_points is not None and points < terms.min_points):
        least = terms.min_points if terms.min_points is not None else terms.step
        raise Rejected(f"order {order} cannot be paid in points: at least {figure(least)} are needed, "
                       f"{figure(points)} could be used")
    value = money_of(run, points, terms)
    at = f", at {figure(rate)} points per 1 {run.compiled.model.currency} for the member's tier" \
        if rate != terms.rate else ""
    note = (f" for order {order}: they pay {figure(value)} of {figure(amount)}, {figure(amount - value)} in cash "
            f"(at most {figure(limit)} points, {_share(terms)} of the order{at})")
    return points, {"order": order, "amount": amount}, note


def money_of(run: Run, points: Decimal, terms: RedemptionTerms) -> Decimal:
    """What ``points`` pay, in the currency's minor units: exact, since check makes a step a
    whole number of them and points are whole steps."""
    return (points / member_rate(run, terms)).quantize(Decimal(1).scaleb(-run.compiled.model.money_places))


def member_rate(run: Run, terms: RedemptionTerms) -> Decimal:
    """Points for one unit of money for this member: their level's own rate (``tier_rates:``),
    else the ruleset's. Read at the redemption; a refund gives back points, not money, so a
    later change of level changes nothing already paid."""
    if not terms.tier_rates:
        return terms.rate
    return terms.rate_for(tiers.current_name(run.compiled, run.state))


def _share(terms: RedemptionTerms) -> str:
    return f"{figure(terms.max_share * 100)}%"


def drawn(run: Run, points: Decimal, record: Mapping[str, Any]) -> list[Effect]:
    """What a redemption adds beside its ledger postings: a unit of stock drawn, or the split of
    the order between points and cash (the host charges the cash)."""
    plan = plan_of(run.compiled)
    if plan is None:
        return []
    reward = plan.rewards.get(record["reward"]) if "reward" in record else None
    if reward is not None:
        if reward.stock is None:
            return []
        left = reward.stock - run.budgets_used.get(stock_key(reward.id), ZERO) - ONE
        run.trace.append(Step("ledger", stock_key(reward.id), True, f"one sold, {figure(left)} left in stock",
                              before=ONE, after=ONE))
        return [Effect("budget", ONE, None, {"rule": stock_key(reward.id)})]
    if "order" in record and plan.terms is not None:
        value = money_of(run, points, plan.terms)
        return [Effect("order_paid", None, None, {"order": record["order"], "amount": record["amount"],
                                                  "points": points, "paid": value, "cash": record["amount"] - value})]
    return []


def restock(run: Run, redemption: Redemption) -> list[Effect]:
    """A reversed sale puts its unit back in stock."""
    plan = plan_of(run.compiled)
    reward = plan.rewards.get(redemption.reward) if plan is not None and redemption.reward is not None else None
    if reward is None or reward.stock is None:
        return []
    run.trace.append(Step("ledger", stock_key(reward.id), True, "one back in stock", before=ZERO, after=-ONE))
    return [Effect("budget", -ONE, None, {"rule": stock_key(reward.id)})]


# -- refunds of an order paid in points ---------------------------------------------------------
def paid_order(redemptions: Mapping[str, Redemption], order: str) -> Redemption | None:
    """The redemption that paid part of ``order`` and still has points out, if any."""
    for redemption in redemptions.values():
        if redemption.order == order and not redemption.reversed:
            return redemption
    return None


def refund_points(run: Run, redemption: Redemption, amount: Decimal) -> Decimal:
    """A refund of ``amount`` of the order gives back its share of the points, in whole steps
    (the refund that completes the order gives back all that is still out). Returns the points."""
    order_amount = redemption.amount if redemption.amount is not None else ZERO
    refunded = min(redemption.refunded + amount, order_amount)
    out = sum((a.points for a in redemption.allocations), ZERO)
    if refunded >= order_amount:
        give: Decimal | None = None
    else:
        step = run.compiled.model.redemption.step if run.compiled.model.redemption is not None else ONE
        give = max(whole_steps(redemption.points * refunded / order_amount, step) - (redemption.points - out), ZERO)
    effects = ledger.reverse(run.state, redemption, run.now, give, refunded=refunded)
    run.effects += effects
    returned = sum((e.points for e in effects if e.kind == "reverse" and e.points is not None), ZERO)
    run.points += returned
    run.trace.append(Step("ledger", "refund", True, f"{figure(returned)} of the {figure(redemption.points)} points "
                          f"that paid order {redemption.order} returned to their lots", after=returned))
    return returned
