"""The service's request and response schemas (pydantic), as the OpenAPI document shows them.

Figures are exact decimal text (``"150"``, ``"12.5"``), never JSON floats, as the engine's
decisions give them; times are ISO 8601. Request bodies that carry events are read by the
service itself, with numbers kept exact (a JSON number ``0.1`` is the decimal 0.1), and checked by
the ruleset's own event schema; :class:`Event` and :class:`EventBatch` document them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ID_MAX", "Event", "EventBatch", "body_schemas", "Problem", "Effect", "Step", "Tier", "Decision",
           "BatchItem",
           "BatchResult", "DryRun", "Lot", "Streak", "ActiveOffer", "Wallet", "DecisionPage", "Candidate", "Offers",
           "Health", "Ready", "ChallengeProgress"]

ID_MAX = 200  # the engine refuses longer ids
Figure = str  # exact decimal text
_OPEN = ConfigDict(extra="allow")


class Event(BaseModel):
    """One event: the four fields every ruleset reads, and the ruleset's own (``amount``,
    ``category``, ...), which its schema decides. Figures may be decimal text or JSON numbers."""

    model_config = ConfigDict(extra="allow", title="Event")
    type: str = Field(min_length=1, max_length=ID_MAX, description="an event type of the ruleset")
    id: str = Field(min_length=1, max_length=ID_MAX, description="the idempotency key: applied once by it")
    member: str = Field(min_length=1, max_length=ID_MAX)
    time: str = Field(description="ISO 8601; without an offset, the ruleset's time zone",
                      examples=["2026-03-02T08:15:00"])
    amount: Decimal | None = None
    points: Decimal | None = None


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", title="EventBatch")
    events: list[Event] = Field(min_length=1, max_length=100, description="at most the service's batch_max")


def body_schemas(batch_max: int) -> dict[str, Any]:
    """The request bodies' schemas for the OpenAPI document's components (``batch_max`` as the
    batch's ``maxItems``); routes refer to them as ``#/components/schemas/<name>``."""
    template = "#/components/schemas/{model}"
    batch = EventBatch.model_json_schema(ref_template=template)
    batch.pop("$defs", None)
    batch["properties"]["events"]["maxItems"] = batch_max
    return {"Event": Event.model_json_schema(ref_template=template), "EventBatch": batch}


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = _OPEN
    type: str
    title: str
    status: int
    detail: str
    instance: str


class Effect(BaseModel):
    """One change the decision made; its detail's fields sit beside ``kind``."""

    model_config = _OPEN
    kind: str
    points: Figure | None = None
    lot: str | None = None


class Step(BaseModel):
    model_config = _OPEN
    phase: str
    rule: str


class TierMetrics(BaseModel):
    """With several metrics: each one's figure, and what each way up and keeping still need."""

    have: dict[str, Figure]
    next: str | None = None
    to_next: list[dict[str, Figure]] | None = Field(None, description="per way of reaching the next tier, what "
                                                                      "each metric still lacks (0: met)")
    to_keep: dict[str, Figure] | None = Field(None, description="per metric, still needed to keep the current tier")


class Tier(BaseModel):
    current: str
    metric: Figure
    next: str | None = None
    to_next: Figure | None = Field(None, description="still needed to reach the next tier in this window (one metric)")
    to_keep: Figure | None = Field(None, description="still needed in this window to keep the current tier (one "
                                                     "metric)")
    by_metric: TierMetrics | None = Field(None, description="with several metrics: the figures of each")


class Decision(BaseModel):
    """What the engine decided; ``ruleset`` is the ``id@version`` that made it."""

    event_id: str
    member_id: str
    ruleset: str
    outcome: Literal["applied", "duplicate", "review", "blocked", "rejected"]
    points: Figure
    effects: list[Effect]
    balance: Figure
    pending: Figure
    tier: Tier | None = None
    reason: str | None = None
    event_type: str | None = None
    time: str | None = None
    trace: list[Step] = Field(default_factory=list, description="only with ?trace=true")
    variant: str | None = None
    models: dict[str, str] | None = None


class BatchItem(BaseModel):
    """One event of a batch: its decision (``status`` 200), or the problem that kept it from one."""

    id: str | None
    status: int
    decision: Decision | None = None
    problem: Problem | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]


class DryRun(BaseModel):
    """What an event would do now, stored nowhere: a checkout preview."""

    decision: Decision
    redeemable_now: Figure = Field(description="points the member can spend before the event, at its time")
    redeemable_after: Figure = Field(description="points the member could spend after it")


class Lot(BaseModel):
    id: str
    source: str
    amount: Figure
    remaining: Figure
    earned_at: str
    pending_until: str | None = None
    expires_at: str | None = None
    hold: str | None = None


class Streak(BaseModel):
    length: int
    best: int
    freezes_left: int


class ActiveOffer(BaseModel):
    id: str
    template: str
    status: str
    valid_until: str


class ChallengeProgress(BaseModel):
    """A member's standing in one challenge, in its current period (docs/challenges.md)."""

    progress: Figure
    target: Figure | None
    joined_at: str | None
    completed_at: str | None
    wins: int


class Wallet(BaseModel):
    """A member as housekeeping would leave it at ``as_of`` (now, or the ``at`` asked for)."""

    member: str
    as_of: str
    balance: Figure
    pending: Figure
    total: Figure
    negative_balance: Figure
    lots: list[Lot]
    tier: Tier | None
    streaks: dict[str, Streak]
    badges: list[str]
    offers: list[ActiveOffer]
    challenges: dict[str, ChallengeProgress] = Field(default_factory=dict)


class DecisionPage(BaseModel):
    """A page of a member's decisions, newest first; ``next_cursor`` fetches the next page."""

    member: str
    decisions: list[Decision]
    limit: int
    offset: int
    next_cursor: str | None


class Candidate(BaseModel):
    model_config = _OPEN
    template: str
    type: str
    kept: bool
    step: str
    reason: str
    rank: Figure | None = None


class Offers(BaseModel):
    """The offers choosing would keep for the member now, ranked, then the others and why."""

    member: str
    at: str
    offers: list[Candidate]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    rulesets: list[str]
