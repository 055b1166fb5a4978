"""The shapes of objects plugins hand to the engine and the commands.

Protocols rather than base classes, so a plugin needs nothing from punchcard to
build them; ``isinstance`` checks the attributes are there, not their types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

__all__ = ["Scorer", "Messenger", "Delivery", "AuditReport", "AuditableStore", "MigratableStore"]


@runtime_checkable
class Scorer(Protocol):
    """A loaded model: scores rows of features, e.g. a member's propensity to churn."""

    name: str  # the model's name in the ruleset
    version: str  # stamped on every decision that used it
    features: Sequence[str]  # the feature names each row must hold, in the model's order

    def score_many(self, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
        """One Decimal between 0 and 1 inclusive (never a float) per row, in order."""
        ...


@runtime_checkable
class Messenger(Protocol):
    """Writes member-facing text from the facts of a chosen message (an LLM, a copy service)."""

    name: str

    def compose(self, request: Any) -> Any:
        """A :class:`~punchcard.engine.runtime.message.Draft` for this
        :class:`~punchcard.engine.runtime.message.MessageRequest`; raises
        :class:`~punchcard.engine.runtime.message.MessengerUnavailable` when it cannot.
        The guardrails check the draft before it is used."""
        ...


@runtime_checkable
class Delivery(Protocol):
    """Hands composed messages to the host's channels (SMS gateway, push service, mail)."""

    name: str
    channels: Sequence[str]  # of sms, push, email

    def deliver(self, message: Mapping[str, Any]) -> str | None:
        """Send one message: ``id`` (the same on every attempt: drop repeats), ``member_id``,
        ``channel``, ``locale``, ``text``. Returns the channel's receipt, if any; raises to
        have it tried again later."""
        ...


class AuditReport(Protocol):
    """What an audit found: the counts it checked, and each difference in words."""

    members: int
    entries: int
    lots: int
    differences: Sequence[Any]  # each printable, and with to_json()

    @property
    def ok(self) -> bool: ...

    def to_json(self) -> dict[str, Any]: ...


@runtime_checkable
class AuditableStore(Protocol):
    """A store with a ledger to check balances against (``punchcard audit``)."""

    def audit(self) -> AuditReport:
        """Every balance checked against the ledger; a failing store raises StoreError."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class MigratableStore(Protocol):
    """A store with a versioned schema (``punchcard db``), opened with ``migrating=True``."""

    def schema_revision(self) -> tuple[str | None, str]:
        """(the database's revision, None when empty; the revision this punchcard needs)."""
        ...

    def upgrade_schema(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Migrate to ``revision`` in one transaction: (from, to). Refuses, changing
        nothing, a database it cannot account for."""
        ...

    def close(self) -> None: ...
