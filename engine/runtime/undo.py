"""Undoing an evaluation on a state the caller handed over (``evaluate(..., owned=True)``).

The pure core clones a member's state before changing it, which costs a copy of every
container per event. A caller that owns its states (a store that loaded a private
copy, the dry-run) can skip that: the engine changes the state in place and, when
the event is refused or evaluation fails, puts it back exactly as it was.

Cheap by design: nothing is copied. Scalars and the containers' identities are saved
up front; every write to a container goes through :class:`MemberState` (``put``,
``put_tier``, ``put_lot``, ``set_tier_level``), which journals the old value here;
appends to lots and history are undone by truncating to the saved length. A container
still shared with another state is copied by its first write, so restoring the saved
identity is enough for it.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from typing import Any, Protocol

__all__ = ["Savepoint", "Undoable", "MISSING"]

# Fields a savepoint handles itself; every other field of the state (a scalar, an immutable
# value or a small container copied on its first write) is saved and put back by identity.
_OWN_WAYS = frozenset({"member_id", "journal", "lots", "history", "orders", "redemptions"})
_SAVED: dict[type, tuple[tuple[str, ...], attrgetter[Any]]] = {}  # state class -> its fields, and their reader


def _saved(cls: type) -> tuple[tuple[str, ...], attrgetter[Any]]:
    found = _SAVED.get(cls)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _OWN_WAYS)
        found = _SAVED[cls] = (names, attrgetter(*names))
    return found


MISSING = object()  # a journaled key that was not there before


class Undoable(Protocol):
    """What a savepoint saves and puts back: :class:`~.state.MemberState`, described here
    so that the state may open savepoints without this module depending on it. Its other
    dataclass fields are read and set by name as well."""

    lots: list[Any]
    history: list[Any]
    orders: dict[str, Any]
    redemptions: dict[str, Any]
    journal: Savepoint | None


class Savepoint:
    """Everything needed to put ``state`` back; ``restore()`` does it, ``release()`` forgets it."""

    __slots__ = (
        "history",
        "history_len",
        "lots",
        "lots_len",
        "orders",
        "parent",
        "redemptions",
        "saved",
        "state",
        "writes",
    )

    def __init__(self, state: Undoable) -> None:
        self.state = state
        self.saved: tuple[object, ...] = _saved(type(state))[1](state)
        self.lots, self.lots_len = state.lots, len(state.lots)
        self.history, self.history_len = state.history, len(state.history)
        self.orders, self.redemptions = state.orders, state.redemptions
        # (container, key, old value), oldest first. The container is a dict or a list written
        # by key, or (with an _Attribute key) an object written by attribute: duck-typed.
        self.writes: list[tuple[Any, object, object]] = []
        # Savepoints nest: a store's unit of work holds one while the engine opens its own.
        self.parent, state.journal = state.journal, self

    def replaced(self, container: dict[Any, Any] | list[Any], key: object, old: object = MISSING) -> None:
        """``container[key]`` is about to change; ``old`` is what it held (missing: nothing)."""
        self.writes.append((container, key, old))

    def replaced_attribute(self, owner: object, name: str, old: object) -> None:
        self.writes.append((owner, _Attribute(name), old))

    def restore(self) -> None:
        state = self.state
        for container, key, old in reversed(self.writes):
            if isinstance(key, _Attribute):
                setattr(container, key.name, old)
            elif old is MISSING:
                container.pop(key, None)
            else:
                container[key] = old
        del self.lots[self.lots_len:]
        del self.history[self.history_len:]
        state.lots, state.history, state.orders, state.redemptions = (self.lots, self.history, self.orders,
                                                                      self.redemptions)
        for name, value in zip(_saved(type(state))[0], self.saved, strict=True):
            setattr(state, name, value)
        self.state.journal = self.parent
        self.writes = []

    def release(self) -> None:
        """Keep the changes (an enclosing savepoint can still undo them)."""
        if self.parent is not None:
            self.parent.writes.extend(self.writes)
        self.state.journal = self.parent
        self.writes = []


class _Attribute:
    """A journal key naming an attribute rather than a dict key."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
