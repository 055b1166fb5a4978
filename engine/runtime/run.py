"""One evaluation in progress: the cloned state, the trace, the effects so far."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from ..compiler.codegen import EvalContext
from ..policies import tiers
from . import calendar
from .decision import Decision, Effect, Outcome, Step
from .events import Event
from .state import ZERO, HistoryItem, MemberState

__all__ = ["Run", "Rejected"]


class Rejected(Exception):
    """The event changes nothing; ``reason`` says why in the analyst's words."""

    def __init__(self, reason: str, outcome: str = Outcome.REJECTED):
        super().__init__(reason)
        self.reason, self.outcome = reason, outcome


class Run:
    """Mutable on purpose: each phase adds to the trace, the effects and the points."""

    __slots__ = ("compiled", "state", "event", "now", "budgets_used", "trace", "effects", "points", "outcome",
                 "reason", "ctx", "member", "_values")

    def __init__(self, compiled: Any, state: MemberState, event: Event, now: dt.datetime,
                 budgets_used: Mapping[str, Decimal]):
        self.compiled, self.state, self.event, self.now = compiled, state, event, now  # state: owned or a clone
        self.budgets_used = budgets_used
        self.trace: list[Step] = []
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
        event = self.event
        return Decision(event.id, self.state.member_id, self.compiled.label, self.outcome, self.points,
                        tuple(self.effects), balance, pending, tiers.view(self.compiled, self.state, self.now),
                        tuple(self.trace), self.reason, event.type, event.time)
