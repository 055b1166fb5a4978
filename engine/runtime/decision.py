"""What the engine returns for every event: outcome, points, effects, balance, trace."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .numbers import exact_text

__all__ = ["Outcome", "Effect", "Step", "TierView", "Decision", "to_jsonable"]


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REVIEW = "review"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    ALL = (APPLIED, DUPLICATE, REVIEW, BLOCKED, REJECTED)


# Plain (not frozen) slotted dataclasses: frozen ones are several times slower to build,
# and a decision builds dozens. Treat them as read-only all the same.
@dataclass(slots=True)
class Effect:
    """One change: a ledger posting (earn, redeem, clawback, expire, ...), a tier change,
    a streak update, a badge, a notice or a budget use."""

    kind: str
    points: Decimal | None = None
    lot: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """Kind, points, lot and detail in one flat dict, values as they are."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.points is not None:
            out["points"] = self.points
        if self.lot is not None:
            out["lot"] = self.lot
        out.update(self.detail)
        return out

    def to_json(self) -> dict[str, Any]:
        return _jsonable_dict(self.fields())


@dataclass(slots=True)
class Step:
    """One line of the trace: a rule considered in a phase, and what it did."""

    phase: str
    rule: str
    fired: bool | None = None
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    before: Decimal | None = None  # points before this step (for stacking, caps, rounding)
    after: Decimal | None = None

    def fields(self) -> dict[str, Any]:
        """The step as ``to_json`` lays it out, values as they are."""
        out: dict[str, Any] = {"phase": self.phase, "rule": self.rule}
        if self.fired is not None:
            out["fired"] = self.fired
        if self.note:
            out["note"] = self.note
        if self.values:
            out["values"] = self.values
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        return out

    def to_json(self) -> dict[str, Any]:
        return _jsonable_dict(self.fields())


@dataclass(slots=True)  # built for every decision: plain, like Effect and Step
class TierView:
    current: str
    metric: Decimal
    next: str | None = None
    to_next: Decimal | None = None  # still needed to reach the next tier in this window
    to_keep: Decimal | None = None  # still needed in this window to keep the current tier after it

    def fields(self) -> dict[str, Any]:
        return {"current": self.current, "metric": self.metric, "next": self.next, "to_next": self.to_next,
                "to_keep": self.to_keep}

    def to_json(self) -> dict[str, Any]:
        return _jsonable_dict(self.fields())


@dataclass(slots=True)
class Decision:
    event_id: str
    member_id: str
    ruleset: str  # id@version
    outcome: str
    points: Decimal = Decimal(0)  # net change of the member's total balance
    effects: tuple[Effect, ...] = ()
    balance: Decimal = Decimal(0)  # spendable after the event
    pending: Decimal = Decimal(0)  # held back: pending release or review
    tier: TierView | None = None
    trace: tuple[Step, ...] = ()
    reason: str | None = None
    event_type: str | None = None
    time: dt.datetime | None = None
    variant: str | None = None  # the A/B variant the member is in, when the ruleset has variants
    models: tuple[tuple[str, str], ...] = ()  # (model, version) of each model the decision scored with

    def fired(self) -> list[str]:
        """Ids of the rules that fired, in trace order."""
        return list(dict.fromkeys(s.rule for s in self.trace if s.fired))

    def paid(self) -> list[str]:
        """Ids of the rules whose points survived stacking, caps and rounding."""
        return list(dict.fromkeys(s.rule for s in self.trace if s.phase == "ledger" and s.after))

    def to_dict(self) -> dict[str, Any]:
        """The decision as a JSON-ready dict: figures as exact decimal strings, times as ISO 8601.
        This is what hosts store and send on; ``json.dumps`` of it is :meth:`to_json`."""
        return _jsonable_dict(self.fields())

    def fields(self) -> dict[str, Any]:
        """The decision as :meth:`to_dict` lays it out, values as they are (Decimals,
        datetimes): ``to_jsonable`` of it is ``to_dict()``, so a JSON writer that converts
        values the same way as it writes needs no converted copy first."""
        out: dict[str, Any] = {
            "event_id": self.event_id, "member_id": self.member_id, "ruleset": self.ruleset,
            "outcome": self.outcome, "points": self.points, "effects": [e.fields() for e in self.effects],
            "balance": self.balance, "pending": self.pending, "tier": self.tier.fields() if self.tier else None,
            "reason": self.reason, "event_type": self.event_type, "time": self.time,
            "trace": [s.fields() for s in self.trace],
        }
        if self.variant is not None:  # only then: decisions of rulesets without variants read as before
            out["variant"] = self.variant
        if self.models:  # likewise: decisions that scored with no model read as before
            out["models"] = dict(self.models)
        return out

    def to_json(self) -> str:
        """The decision as JSON text: ``json.dumps(self.to_dict())``."""
        return json.dumps(self.to_dict())


def to_jsonable(value: object) -> Any:
    """Decimals as exact strings (never rounded to a context), times as ISO 8601: JSON never sees a float."""
    if isinstance(value, Decimal):
        return exact_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return _jsonable_dict(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return value


def _jsonable_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    return {k: to_jsonable(v) for k, v in value.items()}
