"""Members as last committed by this process, so a member's next event need not read
and decode all its rows again.

An entry is used only when the member row, read under its lock, still has the
version the entry was saved at: every write bumps the version in the same
transaction, so an equal version means the rows hold exactly that state. Anything
else (another process wrote, a commit whose outcome is unknown) is a miss, and the
member is read from the database. States are never changed in place (the engine
clones before it changes anything), so sharing them is safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .rows import Loaded

__all__ = ["MemberCache"]


class MemberCache:
    """A bounded LRU of :class:`Loaded` members; ``size=0`` turns it off."""

    def __init__(self, size: int = 5000):
        self.size = size
        self._entries: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, member_id: str, version: int) -> Loaded | None:
        with self._lock:
            entry = self._entries.get(member_id)
            if entry is None or entry.version != version:
                return None
            self._entries.move_to_end(member_id)
            return entry

    def version(self, member_id: str) -> int | None:
        """The version the member is held at (None: not held), to ask the database whether
        its rows are still at it."""
        with self._lock:
            entry = self._entries.get(member_id)
            return None if entry is None else entry.version

    def put(self, loaded: Loaded) -> None:
        if self.size <= 0 or loaded.version == 0:
            return
        with self._lock:
            self._entries[loaded.member_id] = loaded
            self._entries.move_to_end(loaded.member_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, member_id: str) -> None:
        with self._lock:
            self._entries.pop(member_id, None)
