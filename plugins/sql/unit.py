"""The unit of work for one event: a transaction holding the member's lock.

Entering begins the transaction and locks the member row (creating it first if
needed); leaving rolls back unless :meth:`SqlUnit.commit` ran. The engine calls, in
order: ``processed`` (under the lock), ``load_member``, ``budgets_used`` (budget rows
locked in rule order, after the member row), ``save`` and ``commit``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from punchcard.engine.evaluate import new_member
from punchcard.engine.store import ProcessedEvent
from punchcard.engine.state import MemberState

from .record import record_event
from .repository import load_members
from .rows import Loaded, diff_member
from .writes import Changes, apply, apply_pipelined

__all__ = ["SqlUnit"]


class SqlUnit:
    def __init__(self, store, member_id: str):
        self.store, self.member_id = store, member_id
        self._conn = None
        self._member_row = None
        self._loaded: Loaded | None = None
        self._claimed: set[str] = set()
        self._saved: list[tuple] = []
        self._budgets: dict[str, Decimal] = {}

    def __enter__(self) -> "SqlUnit":
        self._conn = self.store.begin()
        try:
            self._member_row = self.store.dialect.lock_members(self._conn, [self.member_id])[0]
            self.store.faults.at("locked")
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # returns it to the pool; an open transaction is rolled back

    def processed(self, event_id: str) -> ProcessedEvent | None:
        prior = self.store.dialect.claim(self._conn, event_id, self.member_id)
        if prior is None and self.store.dialect.postgres:
            self._claimed.add(event_id)
        return prior

    def load_member(self, member_id: str) -> MemberState | None:
        return self._load().state

    def _load(self) -> Loaded:
        if self._loaded is None:
            self._loaded = load_members(self._conn, [self._member_row], self.store.cache)[self.member_id]
        return self._loaded

    def budgets_used(self, rules: Iterable[str]) -> dict[str, Decimal]:
        self._budgets = self.store.dialect.budgets(self._conn, rules, lock=True)
        return dict(self._budgets)

    def save(self, event, decision, state: MemberState | None, budget_uses: dict[str, Decimal]) -> None:
        if self._saved:  # the state diff is against what was loaded: one event per unit
            raise RuntimeError("a SQL unit of work saves one event; open a unit per event")
        self._saved.append((event, decision, state, dict(budget_uses)))

    def commit(self) -> None:
        changes = Changes(budget_base=self._budgets)
        loaded = after = self._load()
        for event, decision, state, uses in self._saved:
            before = loaded.state or new_member(self.member_id)
            postings = record_event(changes, event, decision, before, state, uses, event.id in self._claimed)
            if state is not None:
                after = diff_member(changes, loaded, state, postings.dropped)
        # A claimed id that was never saved must not stay behind as an empty record.
        unsaved = self._claimed - {event.id for event, *_ in self._saved}
        changes.claims_dropped.extend({"b_event": event_id} for event_id in sorted(unsaved))
        # On PostgreSQL the writes go in one round trip, shortening how long the member
        # and budget rows stay locked.
        (apply_pipelined if self.store.dialect.postgres else apply)(self._conn, changes)
        self.store.faults.at("flushed")
        self.store.faults.commit(self._conn)
        self._saved.clear()
        self.store.cache.put(after)
        self.store.faults.at("committed")
