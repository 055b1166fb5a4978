"""Cheap bounds on instants that housekeeping deadlines may err towards."""

from __future__ import annotations

import datetime as dt

from punchcard.dsl.duration import Duration

__all__ = ["early_after"]

_EARLY_DAYS = {"minute": 0, "hour": 0, "day": 1, "week": 7, "month": 28, "year": 365}


def early_after(moment: dt.datetime, duration: Duration) -> dt.datetime:
    """A cheap instant no later than ``moment + duration`` (months count as 28 days)."""
    if duration.unit in ("minute", "hour"):
        return moment
    return moment + dt.timedelta(days=_EARLY_DAYS[duration.unit] * duration.amount - 1)
