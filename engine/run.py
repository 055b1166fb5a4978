"""One evaluation in progress: the cloned state, the trace, the effects so far."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from . import calendar, tiers
from .codegen import EvalContext
from .decision import Decision, Effect, Outcome, Step
from .events import Event
from .state import ZERO, HistoryItem, MemberState

__all__ = ["Run", "Rejected"]


class Rejected(Exception):
    """The event changes nothing; ``reason`` says why in the analyst's words."""

    def __init__(self, reason: str, outcome: str = Outcome.REJECTED):
        super().__init__(reason)
        self.reason, self.outcome = reason, outcome


@dataclass
class Run:
    compiled: Any
    state: MemberState  # a clone: the caller's state is never touched
    event: Event
    now: dt.datetime
    budgets_used: Mapping[str, Decimal]
    trace: list[Step] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    points: Decimal = ZERO
    outcome: str = Outcome.APPLIED
    reason: str | None = None
    ctx: EvalContext | None = None
    member: dict[str, Any] | None = None  # cached view; tier changes happen after the rules that read it
    _values: dict[str, Any] | None = None

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
            tier = tiers.current_level(self.compiled, self.state)
            self.member = {**self.state.profile, "id": self.state.member_id, "tier": tier.name if tier else None}
            if self.compiled.reads_balance:  # summing lots costs; only when a rule reads member.balance
                self.member["balance"] = self.state.available(self.now)
        return self.member

    def remember(self) -> None:
        """Window aggregates read the member's own history, this event included."""
        if self.event.type in self.compiled.history_types:
            values = tuple((k, v) for k, v in self.event.fields.items() if isinstance(v, Decimal))
            history = self.state.own("history")
            span = self.compiled.history_span
            since = calendar.add(self.now, -span.amount, span.unit, self.compiled.tz)
            if history and history[0].time <= since:  # keep only what the longest window can read
                history = self.state.history = [h for h in history if h.time > since]
            history.append(HistoryItem(self.event.time, self.event.type, values))
            if self.ctx is not None:
                self.ctx.history = history

    def decision(self) -> Decision:
        balance, pending = self.state.balances(self.now)
        return Decision(
            event_id=self.event.id, member_id=self.state.member_id, ruleset=self.compiled.label,
            outcome=self.outcome, points=self.points, effects=tuple(self.effects),
            balance=balance, pending=pending,
            tier=tiers.view(self.compiled, self.state, self.now), trace=tuple(self.trace), reason=self.reason,
            event_type=self.event.type, time=self.event.time,
        )
