"""Program budgets (``earning.budgets``) in a replay partitioned by member.

A budget is shared by all members, so the points a budgeted rule may still pay at
an event depend on every earlier event of every member, in time order. The replay
defines that order as (event time, line number) and is exact with respect to it:
its figures are those of one process feeding every event to the engine in that
order with a shared budget counter (``Engine`` on a ``MemoryStore`` does that).

Partitions still run independently, in passes:

1. every pass is given, for each budget, a *plan*: the points used before any
   instant (a step function). The first pass assumes nothing was used;
2. each partition records, for every event where a budgeted rule asked for points,
   its key, what the plan said was used, what the rule asked for (after its own
   caps: its *demand*) and what it finally paid;
3. the records are merged in global order and checked: with the true running
   total, would the engine have clipped the rule exactly as it did with the plan's
   figure? If so everywhere, the pass is exact and is the result. If not, the
   first disagreement is the end of what is known to be exact, and the next pass
   gets the running totals of this pass as its plan.

Each pass makes the exact prefix longer, so this ends; a budget that never runs out
costs one pass, one that runs out typically two. The check needs no shared state,
so ``--workers N`` and Dask give the same figures as ``--workers 1``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Plan", "Use", "check_pass", "demand_of", "MAX_PASSES"]

ZERO = Decimal(0)
MAX_PASSES = 40


@dataclass(frozen=True, slots=True)
class Use:
    """One event's call on one budget."""

    key: tuple  # (time, line): the global replay order
    rule: str
    supplied: Decimal  # what the plan said was used before it
    demand: Decimal  # the rule's points after its own caps, before the budget
    paid: Decimal  # what the rule paid in the end


@dataclass
class Plan:
    """Per budgeted rule: points used before each key, as sorted keys and running totals."""

    steps: dict[str, tuple[list, list]] = field(default_factory=dict)

    def used(self, key: tuple) -> dict[str, Decimal] | None:
        if not self.steps:
            return None
        out = {}
        for rule, (keys, totals) in self.steps.items():
            index = bisect_left(keys, key)  # records strictly before this key
            if index:
                out[rule] = totals[index - 1]
        return out

    @classmethod
    def from_uses(cls, uses: list[Use]) -> Plan:
        steps: dict[str, tuple[list, list]] = {}
        for use in uses:
            keys, totals = steps.setdefault(use.rule, ([], []))
            keys.append(use.key)
            totals.append((totals[-1] if totals else ZERO) + use.paid)
        return cls(steps)


def _limit(max_points: Decimal, used: Decimal) -> Decimal:
    return max(max_points - used, ZERO)


def _same_clip(demand: Decimal, true_limit: Decimal, supplied_limit: Decimal) -> bool:
    clipped_true, clipped_supplied = demand > true_limit, demand > supplied_limit
    if clipped_true != clipped_supplied:
        return False
    # a clipped rule is paid the limit itself, and the trace quotes it: 0 and 0E-25 are not the same text
    return not clipped_true or str(true_limit) == str(supplied_limit)


def check_pass(budgets: dict[str, Decimal], uses: Iterable[Use]) -> tuple[bool, Plan, tuple | None]:
    """Were these uses exact? Returns (exact, the plan for a next pass, the first wrong key)."""
    ordered = sorted(uses, key=lambda u: (u.key, u.rule))
    running: dict[str, Decimal] = {}
    first_wrong = None
    for use in ordered:
        used = running.get(use.rule, ZERO)
        maximum = budgets[use.rule]
        if not _same_clip(use.demand, _limit(maximum, used), _limit(maximum, use.supplied)):
            first_wrong = use.key
            break
        running[use.rule] = used + use.paid
    return first_wrong is None, Plan.from_uses(ordered), first_wrong


def demand_of(decision, rules: Iterable[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """For each budgeted rule that asked for points: (demand after its own caps, paid)."""
    wanted = set(rules)
    stacked: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    capped: dict[str, Decimal] = {}
    for step in decision.trace:
        if step.phase == "ledger" and step.rule in wanted and step.before is not None:
            stacked[step.rule] = stacked.get(step.rule, ZERO) + step.before
            paid[step.rule] = paid.get(step.rule, ZERO) + (step.after or ZERO)
        elif step.phase == "caps" and step.rule.startswith("cap:"):
            rule = step.rule[4:].rsplit("/", 1)[0]
            if rule in wanted and step.after is not None:
                capped[rule] = step.after  # caps apply in order: the last one that bit is the demand
    return {rule: (capped.get(rule, points), paid[rule]) for rule, points in stacked.items()
            if capped.get(rule, points) > 0 or paid[rule] != 0}
