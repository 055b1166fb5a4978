"""The shapes of objects plugins hand to the engine.

Protocols rather than base classes, so a plugin needs nothing from punchcard to
build them; ``isinstance`` checks the attributes are there, not their types.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Protocol, runtime_checkable

__all__ = ["Scorer", "Messenger"]


@runtime_checkable
class Scorer(Protocol):
    """A model that scores a member and an event, e.g. a propensity to churn."""

    name: str

    def score(self, member: Mapping[str, Any], event: Mapping[str, Any]) -> Decimal:
        """A Decimal between 0 and 1 inclusive (never a float)."""
        ...


@runtime_checkable
class Messenger(Protocol):
    """Writes member-facing text, e.g. a tier-upgrade message."""

    name: str

    def compose(self, member: Mapping[str, Any], context: Mapping[str, Any]) -> str:
        """The message text for this member in this context."""
        ...
