"""Undoing an evaluation on a state the caller handed over (``evaluate(..., owned=True)``).

The pure core clones a member's state before changing it, which costs a copy of every
container per event. A caller that owns its states (a store that loaded a private
copy, the dry-run) can skip that: the engine changes the state in place and, when
the event is refused or evaluation fails, puts it back exactly as it was.

Cheap by design: scalars are saved up front; the small containers (caps, streaks,
totals, tier windows, profile) are marked shared, so the first write copies one and
restoring puts the original back; the long containers (lots, orders, redemptions,
history) are never copied. Their writes are journaled by :class:`MemberState`
(``put_lot``, ``put_record``) and appends are undone by truncating to the saved length.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import MemberState

__all__ = ["Savepoint"]

_SCALARS = ("joined", "clock", "debt", "badges", "last_activity", "notices", "due", "shared", "live", "held",
            "forget_at")
_SMALL = ("profile", "caps", "streaks", "totals", "tier")
_SMALL_SET = frozenset(_SMALL)
_read_scalars, _read_small = attrgetter(*_SCALARS), attrgetter(*_SMALL)
_SHARED_AT = _SCALARS.index("shared")
_MISSING = object()


class Savepoint:
    """Everything needed to put ``state`` back; ``restore()`` does it, ``release()`` forgets it."""

    __slots__ = ("state", "scalars", "small", "lots", "lots_len", "history", "history_len", "orders",
                 "redemptions", "writes")

    def __init__(self, state: "MemberState"):
        self.state = state
        self.scalars = _read_scalars(state)
        self.small = _read_small(state)
        state.shared = state.shared | _SMALL_SET
        self.lots, self.lots_len = state.lots, len(state.lots)
        self.history, self.history_len = state.history, len(state.history)
        self.orders, self.redemptions = state.orders, state.redemptions
        self.writes: list[tuple[object, object, object]] = []  # (container, key, old value), oldest first
        state.journal = self

    def replaced(self, container, key, old=_MISSING) -> None:
        """``container[key]`` is about to change; ``old`` is what it held (missing: nothing)."""
        self.writes.append((container, key, old))

    def restore(self) -> None:
        state = self.state
        for container, key, old in reversed(self.writes):
            if old is _MISSING:
                container.pop(key, None)
            else:
                container[key] = old
        del self.lots[self.lots_len:]
        del self.history[self.history_len:]
        state.lots, state.history, state.orders, state.redemptions = (self.lots, self.history, self.orders,
                                                                      self.redemptions)
        for name, value in zip(_SCALARS, self.scalars):
            setattr(state, name, value)
        for name, value in zip(_SMALL, self.small):
            setattr(state, name, value)
        self.state.journal = None
        self.writes = []

    def release(self) -> None:
        """Keep the changes. Containers that were private before stay private (no copy on write)."""
        state = self.state
        state.shared = state.shared & self.scalars[_SHARED_AT]
        state.journal = None
        self.writes = []
