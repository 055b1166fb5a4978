"""One evaluation in progress: the state it changes, the trace, the effects so far, and
what the phases hand on to each other (the review hold, the points earned)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Self

from ..program import Compiled
from . import calendar
from .context import EvalContext
from .decision import Effect, Outcome, Step
from .events import Event
from .state import ZERO, HistoryItem, MemberState

__all__ = ["Run", "Rejected", "NO_TRACE", "TierName"]

TierName = Callable[[Compiled, MemberState], "str | None"]  # the member's current level, from the tiers policy


class _Untraced(list[Step]):
    """Where the trace goes when nobody asked for it: every line is dropped."""

    __slots__ = ()

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass

    # list.__iadd__ takes any iterable, list.__add__ only a list: mypy reports the pair as
    # incompatible for every list subclass (typeshed silences it on list itself the same way)
    def __iadd__(self, items: Iterable[Step]) -> Self:  # type: ignore[override,misc]
        return self


NO_TRACE: list[Step] = _Untraced()


class Rejected(Exception):
    """The event changes nothing; ``reason`` says why in the analyst's words."""

    def __init__(self, reason: str, outcome: str = Outcome.REJECTED):
        super().__init__(reason)
        self.reason, self.outcome = reason, outcome


class Run:
    """Mutable on purpose: each phase adds to the trace, the effects and the points."""

    __slots__ = (
        "_values",
        "budgets_used",
        "compiled",
        "ctx",
        "earned",
        "effects",
        "event",
        "hold",
        "lines",
        "member",
        "no_points",
        "now",
        "outcome",
        "points",
        "reason",
        "state",
        "tier_name",
        "trace",
        "tracing",
    )

    def __init__(self, compiled: Compiled, state: MemberState, event: Event, now: dt.datetime,
                 budgets_used: Mapping[str, Decimal], tier_name: TierName, tracing: bool = True):
        self.compiled, self.state, self.event, self.now = compiled, state, event, now  # state: owned or a clone
        self.budgets_used = budgets_used
        self.tier_name = tier_name
        self.tracing = tracing
        self.trace: list[Step] = [] if tracing else NO_TRACE
        self.hold: str | None = None  # "review" when a gate holds the event's points
        self.no_points = False  # a compliance gate forbids points for this event
        self.earned = ZERO  # what the earning phase gives, before streak and achievement bonuses
        self.lines: tuple[tuple[str, int, Decimal], ...] = ()  # (sku, quantity, points) the basket's lines earned
        self.effects: list[Effect] = []
        self.points = ZERO
        self.outcome = Outcome.APPLIED
        self.reason: str | None = None
        self.ctx: EvalContext | None = None
        self.member: dict[str, Any] | None = None  # cached view; tier changes happen after the rules that read it
        self._values: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        """``event.<field>`` for expressions, built once per evaluation."""
        if self._values is None:
            self._values = self.event.values()
        return self._values

    def context(self) -> EvalContext:
        if self.ctx is None:
            self.ctx = EvalContext(self.now, self.compiled.tz, self.state.history, self.event)
        return self.ctx

    def member_view(self) -> dict[str, Any]:
        """What ``member.<field>`` reads: the profile plus id, tier and balance."""
        if self.member is None:
            tier = self.tier_name(self.compiled, self.state)
            self.member = {**self.state.profile, "id": self.state.member_id, "tier": tier}
            if self.compiled.reads_balance:  # summing lots costs; only when a rule reads member.balance
                self.member["balance"] = self.state.available(self.now)
        return self.member

    def remember(self) -> None:
        """Window aggregates read the member's own history, this event included."""
        span = self.compiled.history_span  # set whenever some type's history is kept
        if span is not None and self.event.type in self.compiled.history_types:
            values = tuple((k, v) for k, v in self.event.fields.items() if isinstance(v, Decimal))
            history = self.state.own("history")
            since = calendar.add(self.now, -span.amount, span.unit, self.compiled.tz)
            if history and history[0].time <= since:  # keep only what the longest window can read
                history = self.state.history = [h for h in history if h.time > since]
            history.append(HistoryItem(self.event.time, self.event.type, values))
            if self.ctx is not None:
                self.ctx.history = history
