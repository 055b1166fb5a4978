"""The compiled program: plain data, built once per ruleset by :mod:`engine.compiler`.

Everything the runtime and the policies read about a ruleset lives here: one
:class:`Plan` per event type (its gates, rules, streaks and the phases it walks), and
the member-independent parts of the tiers, caps, budgets and lots worked out once.
This module imports nothing of the runtime, so every module can name :class:`Compiled`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import networkx as nx

from punchcard.dsl.check import CheckedRuleset
from punchcard.dsl.duration import Duration
from punchcard.dsl.model import Achievement, Earning, Points, Ruleset, Streak, Tiers
from punchcard.dsl.sourcemap import Path
from punchcard.dsl.variants import assign

__all__ = ["Compiled", "Plan", "Rule", "Gate", "Reads", "ExprFn", "StreakEntry", "AchievementEntry", "CapSpec",
           "LimitPlan", "TierPlan", "LotPlan", "Split", "cap_key"]

Reads = tuple[tuple[str, str, str], ...]  # ("event"|"member"|"let", name, label) for the trace
ExprFn = Callable[..., Any]  # generated from the checked tree: (ev, m, ctx) -> value
# (the streak, its when: or None, {id(reward): the reward's bonus}) and (the achievement, its
# when:, its bonus: or None), each expression compiled
StreakEntry = tuple[Streak, ExprFn | None, dict[int, ExprFn]]
AchievementEntry = tuple[Achievement, ExprFn, ExprFn | None]


@dataclass
class Rule:
    """An earning rule (or the base) ready to run."""

    id: str
    kind: str  # base | multiply | bonus
    decide: ExprFn  # when, unless and value in one generated call (codegen.NOT_WHEN / UNLESS)
    group: str | None = None
    when_text: str | None = None
    reads: Reads = ()
    when_note: str = field(init=False)  # the trace's note, written once
    per_item: bool = False  # asked of each line of event.items (docs/baskets.md)
    priority: int = 0  # rules run highest priority first, then in the order written
    exclusive: bool = False  # when it pays, the later rules of its group do not

    def __post_init__(self) -> None:
        self.when_note = f"when: {self.when_text}" if self.when_text else ""


@dataclass
class Gate:
    """A fraud or compliance rule that runs before earning."""

    id: str
    kind: str  # fraud | forbid
    action: str
    when: ExprFn
    when_text: str
    reason: str | None = None
    reads: Reads = ()


@dataclass
class Plan:
    """Everything that runs for one event type, in the phase order the rule graph fixes."""

    event_type: str
    gates: list[Gate] = field(default_factory=list)
    bases: list[Rule] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    metric: ExprFn | None = None
    streaks: list[StreakEntry] = field(default_factory=list)
    achievements: list[AchievementEntry] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # topological order of rule-graph nodes
    phases: tuple[str, ...] = ()  # the policies an event of this type walks through, in order
    is_order: bool = False  # carries a money amount, so it can be refunded
    walk: Callable[..., None] | None = None  # the phases as one generated function; None: walked one by one
    walk_source: str = ""  # the generated function's source, for ``punchcard explain --source``


def cap_key(index: int) -> str:
    return f"cap:{index}"


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: each spec exists once per ruleset
class CapSpec:
    """A cap with what every event would otherwise work out again."""

    index: int
    key: str  # where the member's usage is kept in ``state.caps``
    label: str  # how the trace names it
    rule: str | None
    period: str | None  # None: per event
    max_points: Decimal | None
    max_times: int | None


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """A ruleset's caps and budgets in the order they apply."""

    rule_caps: tuple[CapSpec, ...]
    budgets: tuple[tuple[str, Decimal, str], ...]  # (rule, max_points, trace label)
    total_caps: tuple[CapSpec, ...]

    @classmethod
    def of(cls, earning: Earning) -> LimitPlan:
        specs = [CapSpec(i, cap_key(i), f"cap:{cap.rule or 'total'}/{cap.period}", cap.rule,
                         None if cap.per == "event" or cap.period == "event" else cap.period, cap.max_points,
                         cap.max_times) for i, cap in enumerate(earning.caps)]
        return cls(tuple(s for s in specs if s.rule is not None),
                   tuple((b.rule, b.max_points, f"budget:{b.rule}") for b in earning.budgets),
                   tuple(s for s in specs if s.rule is None))


class TierPlan:
    """The member-independent part of a ruleset's tiers, worked out once.

    ``keep_until`` / ``end_until`` hold, per window key, when a window's level stops
    counting with and without ``keep_through``; ``ends`` when the window itself ends.
    The tiers policy fills them on first use, and only for calendar and rolling windows:
    an anniversary window depends on when the member joined."""

    __slots__ = (
        "ahead",
        "ascending",
        "calendar",
        "end_until",
        "ends",
        "grace",
        "keep_until",
        "levels",
        "mins",
        "model",
        "names",
        "never",
        "rank",
        "rolling",
        "shared",
    )

    def __init__(self, tiers: Tiers) -> None:
        self.model = tiers
        self.levels = tuple(tiers.levels)
        self.names = tuple(level.name for level in self.levels)
        # named metrics (tiers.metrics) have no single threshold: policies/tier_metrics.py decides those levels
        self.mins = tuple(level.min if level.min is not None else Decimal(0) for level in self.levels)
        self.rank: dict[str, int] = {}
        for i, name in enumerate(self.names):
            self.rank.setdefault(name, i)  # names.index() finds the first
        self.ascending = all(a <= b for a, b in zip(self.mins, self.mins[1:], strict=False))
        self.calendar = tiers.window == "calendar_year"
        self.rolling = tiers.window == "rolling_12_months"
        downgrade = tiers.downgrade
        self.never = isinstance(downgrade, str)
        self.grace = not isinstance(downgrade, str) and downgrade.grace is not None
        self.shared = tiers.window != "anniversary_year"  # deadlines the same for every member
        self.ends: dict[int, dt.datetime] = {}
        self.keep_until: dict[int, dt.datetime] = {}
        self.end_until: dict[int, dt.datetime] = {}
        # per level index: (next level's name, its threshold), or None at the top
        self.ahead = tuple((self.names[i + 1], self.mins[i + 1]) if i + 1 < len(self.levels) else None
                           for i in range(len(self.levels)))


class LotPlan:
    """What every new lot of a ruleset shares, worked out once."""

    __slots__ = ("months", "pending", "rounded")

    def __init__(self, points: Points) -> None:
        self.pending = None if points.pending is None or points.pending.amount == 0 else points.pending
        expiry = points.expiry
        # a rounded expiry (and so its notice) depends only on the earning's local month
        self.rounded = not isinstance(expiry, str) and expiry.after is not None and expiry.round_to != "none"
        self.months: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {}  # year*12+month -> dates


@dataclass
class Compiled:
    """A checked ruleset compiled for the runtime: plans per event type and what they share."""

    model: Ruleset
    checked: CheckedRuleset
    tz: ZoneInfo
    graph: nx.DiGraph
    schema: Any  # runtime.events.EventSchema: parses raw events for this ruleset
    plans: dict[str, Plan] = field(default_factory=dict)
    functions: dict[Path, ExprFn] = field(default_factory=dict)  # expression site -> its generated function
    history_span: Duration | None = None
    history_types: frozenset[str] = frozenset()
    source: str = ""  # the generated Python, for ``punchcard explain --source``
    reads_balance: bool = False
    specialised: bool = True  # each event type's phases generated as one function (compile's switch)
    memo: dict[Any, Any] = field(default_factory=dict)  # per-ruleset results the runtime keeps (expiry dates ...)
    scorers: dict[str, Any] = field(default_factory=dict)  # model name -> loaded scorer (policies/scoring.py)
    variant: str | None = None  # the variant this program runs, stamped on its decisions
    split: Split | None = None  # a ruleset with variants: which program each member runs
    streak_warning: dt.timedelta | None = None  # warn this long before a streak breaks (a streak_at_risk message)
    label: str = field(init=False)  # id@version, on every decision
    tier_plan: TierPlan | None = field(init=False)
    limit_plan: LimitPlan = field(init=False)
    lot_plan: LotPlan = field(init=False)
    tier_multipliers: dict[str | None, Decimal] = field(init=False)  # level name -> earn multiplier

    def __post_init__(self) -> None:
        self.label = self.model.label
        self.tier_plan = TierPlan(self.model.tiers) if self.model.tiers is not None else None
        self.limit_plan = LimitPlan.of(self.model.earning)
        self.lot_plan = LotPlan(self.model.points)
        levels = self.model.tiers.levels if self.model.tiers is not None else ()
        self.tier_multipliers = {level.name: level.earn_multiplier for level in levels}

    def for_member(self, member_id: str) -> Compiled:
        """The program ``member_id`` runs: its variant's, or this one when there are no variants."""
        return self if self.split is None else self.split.program(member_id)


@dataclass(frozen=True)
class Split:
    """A ruleset's variants: the salt, each variant's share and its program, compiled once."""

    salt: str
    shares: tuple[tuple[str, Decimal], ...]  # (variant, percent), in the order written
    programs: dict[str, Compiled]

    def variant_of(self, member_id: str) -> str:
        return assign(self.salt, member_id, self.shares)

    def program(self, member_id: str) -> Compiled:
        return self.programs[self.variant_of(member_id)]
