"""One evaluation in progress: the cloned state, the trace, the effects so far."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from . import tiers
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

    @property
    def local(self) -> dt.datetime:
        return self.now

    def context(self) -> EvalContext:
        if self.ctx is None:
            self.ctx = EvalContext(self.now, self.compiled.tz, self.state.history, self.event)
        return self.ctx

    def member_view(self) -> dict[str, Any]:
        """What ``member.<field>`` reads: the profile plus id, tier and balance."""
        tier = tiers.current_level(self.compiled, self.state)
        return {**self.state.profile, "id": self.state.member_id, "tier": tier.name if tier else None,
                "balance": self.state.available(self.now)}

    def remember(self) -> None:
        """Window aggregates read the member's own history, this event included."""
        if self.event.type in self.compiled.history_types:
            values = tuple((k, v) for k, v in self.event.fields.items() if isinstance(v, Decimal))
            self.state.history.append(HistoryItem(self.event.time, self.event.type, values))

    def decision(self) -> Decision:
        return Decision(
            event_id=self.event.id, member_id=self.state.member_id, ruleset=self.compiled.label,
            outcome=self.outcome, points=self.points, effects=tuple(self.effects),
            balance=self.state.available(self.now), pending=self.state.pending(self.now),
            tier=tiers.view(self.compiled, self.state, self.now), trace=tuple(self.trace), reason=self.reason,
            event_type=self.event.type, time=self.event.time,
        )
