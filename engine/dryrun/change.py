"""With ``--against``: how the change falls on each member, counted so partials merge by addition.

A member's *change* is the difference, new version minus old, of the points it gives
that member and does not take back (issued - expired - clawed back - adjusted down -
voided, from the member's own lifetime counters): the member's share of the cost of
the change, so the shares of all members add up to it. Each member is counted once,
into a histogram bin of its change and into the rows of its tier (the highest tier it
held under the old version: where it stands without the change) and of its ``segment``
profile field, when the member has one. Nothing per member is kept: memory follows
the number of bins, tiers and segments.

Bins grow by 1-2-5 steps (…, 0.5, 1, 2, 5, 10, 20, …) on each side of zero, so a few
dozen cover any program, and their edges are the same in every partition.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["ChangeTally", "member_net", "bin_of", "bin_bounds", "GROUP_TIER", "GROUP_SEGMENT", "NO_GROUP"]

ZERO = Decimal(0)
_OUT = ("expired", "clawed_back", "adjusted_down", "voided")  # points taken back, not spent
_MANTISSAS = (1, 2, 5)
_SMALLEST = -6  # the first edge is 1e-6, below the finest rounding step a ruleset may have
GROUP_TIER, GROUP_SEGMENT = "tier", "segment"
NO_GROUP = ""  # a member without a tier, or without a segment


def member_net(state) -> Decimal:
    """The points a member was given and kept (spent or still held), from its lifetime counters."""
    if state is None:
        return ZERO
    totals = state.totals
    return totals.get("issued", ZERO) - sum((totals.get(name, ZERO) for name in _OUT), ZERO)


def _edge(index: int) -> Decimal:
    """The upper edge of the index-th bin above zero: 1e-6, 2e-6, 5e-6, 1e-5, …"""
    exponent, mantissa = divmod(index, len(_MANTISSAS))
    return Decimal(_MANTISSAS[mantissa]).scaleb(exponent + _SMALLEST)


def bin_of(delta: Decimal) -> int:
    """0 for no change; n > 0 for a change in (edge(n-2), edge(n-1)]; -n for the same loss."""
    if delta == 0:
        return 0
    size = abs(delta)
    # start near the right edge from the decimal exponent, then step: a handful of comparisons
    index = max(0, (size.adjusted() - _SMALLEST) * len(_MANTISSAS) - 1)
    while index > 0 and _edge(index - 1) >= size:
        index -= 1
    while _edge(index) < size:
        index += 1
    return (index + 1) if delta > 0 else -(index + 1)


def bin_bounds(number: int) -> tuple[Decimal, Decimal]:
    """(low, high) of a bin: (low, high] above zero, [low, high) below it, [0, 0] for bin 0."""
    if number == 0:
        return ZERO, ZERO
    index = abs(number) - 1
    low = _edge(index - 1) if index > 0 else ZERO
    high = _edge(index)
    return (low, high) if number > 0 else (-high, -low)


@dataclass
class ChangeTally:
    """Members by bin of their change, and per tier and segment: [members, more, fewer, points]."""

    bins: Counter = field(default_factory=Counter)
    groups: dict = field(default_factory=dict)  # (GROUP_TIER or GROUP_SEGMENT, name) -> row
    points: Decimal = ZERO  # the members' changes added up: the cost of the change in points

    def add(self, delta: Decimal, tier: str | None, segment: str | None) -> None:
        self.bins[bin_of(delta)] += 1
        self.points += delta
        self._row((GROUP_TIER, tier or NO_GROUP), delta)
        if segment is not None:
            self._row((GROUP_SEGMENT, segment), delta)

    def _row(self, key: tuple[str, str], delta: Decimal) -> None:
        row = self.groups.get(key)
        if row is None:
            row = self.groups[key] = [0, 0, 0, ZERO]
        row[0] += 1
        row[1] += delta > 0
        row[2] += delta < 0
        row[3] += delta

    @property
    def members(self) -> int:
        return sum(self.bins.values())

    def merge(self, other: ChangeTally) -> None:
        self.bins.update(other.bins)
        self.points += other.points
        for key, row in other.groups.items():
            mine = self.groups.get(key)
            if mine is None:
                self.groups[key] = list(row)
            else:
                for index, value in enumerate(row):
                    mine[index] += value
