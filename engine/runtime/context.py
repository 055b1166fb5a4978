"""What one evaluation of a rule can see besides the event and the member, and the
markers a rule's generated function returns when it does not fire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from . import calendar
from .events import Event
from .state import HistoryItem

__all__ = ["EvalContext", "MISSING", "NOT_WHEN", "UNLESS", "NO_OFFER"]

MISSING = object()
NOT_WHEN = object()  # what a rule's combined function returns when its when: is false
UNLESS = object()  # ... and when its unless: matched


class _NoOffer(dict[str, Any]):
    """``offer.<field>`` where there is no offer (a no_offer rule asked in the gates phase): not known."""

    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"offer.{key}")


NO_OFFER: dict[str, Any] = _NoOffer()


class EvalContext:
    """What one evaluation can see besides the event and the member."""

    __slots__ = ("active_offers", "current", "history", "lets", "now", "offer", "scorer", "streak_length", "tz")

    def __init__(self, now: dt.datetime, tz: ZoneInfo, history: Sequence[HistoryItem] = (),
                 current: Event | None = None) -> None:
        self.now, self.tz, self.history, self.current = now, tz, history, current
        self.lets: dict[str, Any] = {}
        self.streak_length = 0
        self.offer: dict[str, Any] = NO_OFFER  # offer.<field>: the offer being chosen, or whose rule is asked
        self.active_offers: Any = None  # the member's active offers at this event (engine/policies/offers.py)
        self.scorer: Any = None  # score("NAME") -> Decimal, set by the profile phase (engine/policies/scoring.py)

    def score(self, name: str) -> Decimal:
        """A model's score for the member, from 0 to 1: ``score("NAME")``."""
        if self.scorer is None:  # compiling refuses a ruleset whose models did not load: never reached
            raise LookupError(f"model {name!r} is not loaded")
        value: Decimal = self.scorer(name)
        return value

    def _window(self, kind: str, amount: int, unit: str) -> list[HistoryItem]:
        since = calendar.add(self.now, -amount, unit, self.tz)
        return [h for h in self.history if h.type == kind and since < h.time <= self.now]

    def count(self, kind: str, amount: int, unit: str) -> Decimal:
        return Decimal(len(self._window(kind, amount, unit)))

    def sum(self, kind: str, name: str, amount: int, unit: str) -> Decimal:
        total = Decimal(0)
        for item in self._window(kind, amount, unit):
            for key, value in item.values:
                if key == name:
                    total += value
        return total
