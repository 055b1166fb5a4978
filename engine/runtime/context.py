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

__all__ = ["EvalContext", "MISSING", "NOT_WHEN", "UNLESS"]

MISSING = object()
NOT_WHEN = object()  # what a rule's combined function returns when its when: is false
UNLESS = object()  # ... and when its unless: matched


class EvalContext:
    """What one evaluation can see besides the event and the member."""

    __slots__ = ("current", "history", "lets", "now", "streak_length", "tz")

    def __init__(self, now: dt.datetime, tz: ZoneInfo, history: Sequence[HistoryItem] = (),
                 current: Event | None = None) -> None:
        self.now, self.tz, self.history, self.current = now, tz, history, current
        self.lets: dict[str, Any] = {}
        self.streak_length = 0

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
