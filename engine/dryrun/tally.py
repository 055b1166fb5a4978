"""Counting what decisions did: the figures of one ruleset over part of a replay.

A :class:`Tally` only adds: every figure is a count or an exact Decimal sum keyed by
strings, so tallies of any partitions merge into the same totals in any order, and
``--workers N`` gives what ``--workers 1`` gives. The ledger flows come from the
decisions' effects; the trace gives the per-rule figures (fired, paid, caps and
budgets that bit, gates, streak and achievement bonuses).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from punchcard.engine.runtime.decision import Decision, Effect, Outcome

from .change import ChangeTally
from .formats import group_reason

__all__ = ["Tally", "FLOWS", "REDEMPTION_PARTS", "month_of", "Example", "JUST_BEFORE"]

ZERO = Decimal(0)
JUST_BEFORE = dt.timedelta(microseconds=1)
# ledger flows per month; liability = opening + issued - redeemed - expired - clawed_back - adjusted_down - voided
FLOWS = ("issued", "redeemed", "expired", "clawed_back", "adjusted_down", "voided")
_EARNING_PHASES = frozenset(("earning", "stacking", "tier_multiplier"))
_OTHER_PHASES = frozenset(("caps", "gates", "streaks"))  # counted when the step fired
_OUTFLOWS = {"redeem": "redeemed", "reverse": "redeemed", "clawback": "clawed_back", "adjust": "adjusted_down",
             "void": "voided"}  # effect kind -> the flow its (negative) points leave by
# a conversion's effects (policies/conversion.py): the points that left for vouchers, and the vouchers' life
_VOUCHER_EFFECTS = {"voucher_issued": "issued", "voucher_redeemed": "redeemed", "voucher_expired": "expired"}
# effects no figure of the report counts
# redeem / reverse effect -> the month's gross redemptions, and the redemptions reversed
REDEMPTION_PARTS = {"redeem": "redeemed_gross", "reverse": "redeemed_reversed"}
_PASSIVE = frozenset(("release", "streak", "streak_broken", "streak_freeze", "expiry_notice", "debt_repaid",
                      "not_returned"))


def month_of(moment, tz) -> str:
    local = moment if moment.tzinfo is tz else moment.astimezone(tz)
    key = (local.year, local.month)
    name = _MONTHS.get(key)
    if name is None:
        name = _MONTHS[key] = f"{local.year:04d}-{local.month:02d}"
    return name


# A month's Counter: counts (int) and exact point sums (Decimal). Typed as a dict because Counter's
# stubs allow int values only; at run time it is the Counter, which adds Decimals as well.
Flows = dict[str, Any]

_MONTHS: dict[tuple[int, int], str] = {}  # (year, month) -> "YYYY-MM": a few hundred at most


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    event_id: str


def _add(table: dict, key, index: int, amount) -> None:
    row = table.get(key)
    if row is None:
        row = table[key] = [0, ZERO, 0]  # every table row: a count, points, and a third figure
    row[index] += amount


@dataclass
class Tally:
    tz: object
    outcomes: Counter = field(default_factory=Counter)
    reasons: dict = field(default_factory=dict)  # (outcome, normalized reason) -> [count, Example]
    months: dict = field(default_factory=dict)  # month -> Counter of flows and counts
    rules: dict = field(default_factory=dict)  # rule -> [fired, points, paid]
    caps: dict = field(default_factory=dict)  # label -> [bit, points cut]
    budgets: dict = field(default_factory=dict)  # rule -> [bit, points cut, used]
    gates: dict = field(default_factory=dict)  # rule -> Counter(action -> times)
    bonuses: dict = field(default_factory=dict)  # streak/achievement label -> [paid, points]
    badges: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)  # (message kind, channel, "sent" or the reason) -> messages
    sources: dict = field(default_factory=dict)  # lot source -> [lots, points]
    tier_end: Counter = field(default_factory=Counter)
    tier_paths: Counter = field(default_factory=Counter)  # (from, to) -> moves
    members: int = 0
    liability: Decimal = ZERO
    pending: Decimal = ZERO
    opening: Decimal = ZERO
    lifetime: Counter = field(default_factory=Counter)  # members' own lifetime counters, for the cross-check
    # with --against, in the new version's tally: how the change falls on each member (see .change)
    change: ChangeTally = field(default_factory=ChangeTally)
    # a ruleset with variants: variant -> [members, points issued, points kept (see .change.member_net),
    # members in the change, the change in points, members who get more, members who get fewer]
    variants: dict = field(default_factory=dict)
    # conversion: points converted, and vouchers issued, redeemed, expired and held at the end (count, money)
    vouchers: Flows = field(default_factory=Counter)

    # -- one decision ------------------------------------------------------------------
    def add(self, decision: Decision, line: int, at=None, tick: bool = False) -> Decimal:
        """Count a decision; returns the points it issued (for the member's own figures).

        ``at`` is the event's time when the decision has none (an event this ruleset refused),
        and for the closing tick the moment its effects are counted at (just before the end)."""
        when = at if tick else (decision.time or at)
        month = month_of(when, self.tz) if when is not None else None
        counter = self.months.get(month)
        if counter is None:
            counter = self.months[month] = Counter()
        outcome = decision.outcome
        if not tick:
            self.outcomes[outcome] += 1
            counter["events"] += 1
        if outcome in (Outcome.APPLIED, Outcome.REVIEW):  # the common case first
            self._trace(decision)
            return self._effects(decision, counter) if decision.effects else ZERO
        if outcome in (Outcome.REJECTED, Outcome.BLOCKED):
            self._reject(decision, line, counter)
            return ZERO
        if outcome == Outcome.DUPLICATE:
            return ZERO  # the original was counted; a retry changes nothing
        self._trace(decision)
        return self._effects(decision, counter)

    def _month(self, month: str | None) -> Counter:
        counter = self.months.get(month)
        if counter is None:
            counter = self.months[month] = Counter()
        return counter

    def _reject(self, decision: Decision, line: int, counter: Counter) -> None:
        counter[decision.outcome] += 1
        reason = decision.reason if decision.outcome == Outcome.BLOCKED else \
            group_reason(decision.reason, (decision.event_id, decision.member_id))
        key = (decision.outcome, reason)
        entry = self.reasons.get(key)
        example = Example(line, decision.event_id)
        if entry is None:
            self.reasons[key] = [1, example]
        else:
            entry[0] += 1
            if (example.line, example.event_id) < (entry[1].line, entry[1].event_id):
                entry[1] = example
        if decision.outcome == Outcome.BLOCKED:
            self._trace(decision)

    def _trace(self, decision: Decision) -> None:
        earning: set[str] | None = None  # the earning rules this decision considered (made on the first)
        fired: set[str] | None = None  # ... and those that fired, each counted once
        for step in decision.trace:
            phase = step.phase
            if phase in _EARNING_PHASES:
                rule = step.rule
                if earning is None:
                    earning = set()
                earning.add(rule)
                # a multiplier has two fired steps (its condition, then stacking): one event, one firing
                if step.fired and (fired is None or rule not in fired):
                    if fired is None:
                        fired = set()
                    fired.add(rule)
                    self._rule_row(rule)[0] += 1
            elif phase == "ledger":
                if step.after is not None and earning is not None and step.rule in earning:
                    self._paid(step.rule, step.after)
            elif step.fired and phase in _OTHER_PHASES:
                self._other(phase, step)

    def _rule_row(self, rule: str) -> list:
        """The rule's [fired, points, paid] row, made on first use."""
        row = self.rules.get(rule)
        if row is None:
            row = self.rules[rule] = [0, ZERO, 0]
        return row

    def _paid(self, rule: str, points: Decimal) -> None:
        """A ledger step of an earning rule: the points it gave after stacking, caps and rounding."""
        row = self._rule_row(rule)
        row[1] += points
        if points > 0:
            row[2] += 1

    def _other(self, phase: str, step) -> None:
        if phase == "caps":
            self._limit(step)
        elif phase == "gates":
            self.gates.setdefault(step.rule, Counter())[step.note.split(":", 1)[0]] += 1
        elif step.after is not None:  # streaks
            _add(self.bonuses, step.rule, 0, 1 if step.after > 0 else 0)
            _add(self.bonuses, step.rule, 1, step.after)

    def _limit(self, step) -> None:
        cut = (step.before or ZERO) - (step.after or ZERO)
        if step.rule.startswith("budget:"):
            _add(self.budgets, step.rule.removeprefix("budget:"), 0, 1)
            _add(self.budgets, step.rule.removeprefix("budget:"), 1, cut)
        else:
            _add(self.caps, step.rule, 0, 1)
            _add(self.caps, step.rule, 1, cut)

    def _effects(self, decision: Decision, counter: Flows) -> Decimal:
        issued = ZERO
        for effect in decision.effects:
            kind = effect.kind
            if kind == "earn":
                points = effect.points or ZERO  # a posting always carries its points
                counter["issued"] += points
                issued += points
                source = effect.detail.get("source", "earn")
                row = self.sources.get(source)
                if row is None:
                    row = self.sources[source] = [0, ZERO, 0]
                row[0] += 1
                row[1] += points
            elif kind in _PASSIVE:
                continue
            elif kind in _OUTFLOWS:
                counter[_OUTFLOWS[kind]] -= effect.points or ZERO
                if kind in REDEMPTION_PARTS:  # redemptions made and reversed, apart (the flow is their net)
                    counter[REDEMPTION_PARTS[kind]] += abs(effect.points or ZERO)
            elif kind == "expire":
                at = effect.detail.get("at")
                # points expiring at the first instant of a month are gone by the end of the month before
                target: Flows = self._month(month_of(at - JUST_BEFORE, self.tz)) if at is not None else counter
                target["expired"] -= effect.points or ZERO
            else:
                self._flow(kind, effect, counter)
        return issued

    def _flow(self, kind: str, effect: Effect, counter: Flows) -> None:
        if kind == "negative_balance":
            counter["clawed_back" if "order" in effect.detail else "adjusted_down"] -= effect.points or ZERO
        elif kind == "tier_change":
            self.tier_paths[(effect.detail["from"], effect.detail["to"])] += 1
            counter["tier_up" if effect.detail.get("direction") == "up" else "tier_down"] += 1
        elif kind == "budget":
            _add(self.budgets, effect.detail["rule"], 2, effect.points)
        elif kind == "badge":
            self.badges[effect.detail.get("achievement") or effect.detail.get("badge") or "?"] += 1
        elif kind == "message":
            self.messages[(effect.detail.get("message"), effect.detail.get("channel"), "sent")] += 1
        elif kind == "converted":  # at a period end: gone by the end of the month before it, as expiry
            at = effect.detail.get("at")
            target: Flows = self._month(month_of(at - JUST_BEFORE, self.tz)) if at is not None else counter
            target["converted"] -= effect.points or ZERO  # liability leaves the points by it (report._months)
            self.vouchers["points_converted"] -= effect.points or ZERO
        elif kind in _VOUCHER_EFFECTS:
            self.vouchers[_VOUCHER_EFFECTS[kind]] += 1
            self.vouchers[f"{_VOUCHER_EFFECTS[kind]}_money"] += effect.detail.get("value") or ZERO
        elif kind == "message_suppressed":
            detail = effect.detail
            self.messages[(detail.get("message"), detail.get("channel"), detail.get("reason") or "?")] += 1

    # -- one member at the end -----------------------------------------------------------
    def close_member(self, state, end, tier_name: str | None) -> None:
        self.members += 1
        self.liability += state.total()
        self.pending += state.pending(end)
        if tier_name is not None:
            self.tier_end[tier_name] += 1
        for key, value in state.totals.items():
            self.lifetime[key] += value
        for voucher in state.vouchers:  # none without conversion
            if voucher.status == "issued":
                self.vouchers["held"] += 1
                self.vouchers["held_money"] += voucher.value

    def variant_member(self, variant: str, issued: Decimal, kept: Decimal) -> None:
        """A member of ``variant`` counted at its end: the points it was issued and kept."""
        row = self._variant_row(variant)
        row[0] += 1
        row[1] += issued
        row[2] += kept

    def variant_change(self, variant: str, delta: Decimal) -> None:
        """With ``--against``: a member's share of the cost of the change, by this side's variant."""
        row = self._variant_row(variant)
        row[3] += 1
        row[4] += delta
        row[5] += delta > 0
        row[6] += delta < 0

    def _variant_row(self, variant: str) -> list:
        row = self.variants.get(variant)
        if row is None:
            row = self.variants[variant] = [0, ZERO, ZERO, 0, ZERO, 0, 0]
        return row

    # -- merging -------------------------------------------------------------------------
    def merge(self, other: Tally) -> None:
        self.outcomes.update(other.outcomes)
        for key, (count, example) in other.reasons.items():
            mine = self.reasons.get(key)
            if mine is None:
                self.reasons[key] = [count, example]
            else:
                mine[0] += count
                if (example.line, example.event_id) < (mine[1].line, mine[1].event_id):
                    mine[1] = example
        for month, counter in other.months.items():
            self._month(month).update(counter)
        for table in ("rules", "caps", "budgets", "bonuses", "sources", "variants"):
            _merge_rows(getattr(self, table), getattr(other, table))
        for rule, counter in other.gates.items():
            self.gates.setdefault(rule, Counter()).update(counter)
        for name in ("badges", "messages", "tier_end", "tier_paths", "lifetime", "vouchers"):
            getattr(self, name).update(getattr(other, name))
        self.members += other.members
        self.liability += other.liability
        self.pending += other.pending
        self.opening += other.opening
        self.change.merge(other.change)


def _merge_rows(mine: dict, theirs: dict) -> None:
    for key, row in theirs.items():
        if key not in mine:
            mine[key] = list(row)
        else:
            for index, value in enumerate(row):
                mine[key][index] += value
