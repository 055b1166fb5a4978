"""The unit of work for one event: a transaction holding the member's lock.

Entering begins the transaction and locks the member row (creating it first if
needed); leaving rolls back unless :meth:`SqlUnit.commit` ran. The engine calls, in
order: ``processed`` (under the lock), ``load_member``, ``budgets_used``, ``save`` and
``commit``.

On PostgreSQL, a unit told its event id and budgets up front takes the lock with its
first read instead, and reads everything the engine will ask for in that one round
trip (pipelined.py); its writes are one more, and its commit a third.

Budgets on PostgreSQL are optimistic: ``budgets_used`` reads them without a lock, so
members of a ruleset with a budget do not queue for its row while they are decided.
The draw is a conditional ``UPDATE`` sent with the other writes: it adds the points
only if the budget still has room for them, or (when the budget cut the decision's
points) only if nobody drew on it since it was read. If it did not hold, ``commit``
raises :class:`~punchcard.engine.store.Conflict` having stored nothing, and the engine
runs the event again in a ``contended`` unit, which locks the budget rows (in rule
order, after the member row) before reading them. On SQLite the write lock already
makes every read exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from punchcard.engine.evaluate import new_member
from punchcard.engine.runtime.state import MemberState
from punchcard.engine.store import BaseUnit, ProcessedEvent

from .errors import driver_errors, release, translated
from .pipelined import FirstRead, end_transaction, first_read
from .record import clipped_by, record_event
from .repository import load_members
from .rows import Loaded, diff_member, state_from_rows
from .writes import BudgetMoved, Changes, apply, apply_pipelined

__all__ = ["SqlUnit"]


class SqlUnit(BaseUnit):
    def __init__(self, store, member_id: str, contended: bool = False, event_id: str | None = None,
                 budgets: Mapping[str, Decimal] | None = None):
        self.store, self.member_id, self.contended = store, member_id, contended
        # what the first read fetches with the lock, on PostgreSQL (no event id: lock on entering)
        self._event_id = event_id if store.dialect.postgres and not contended else None
        self._expected_budgets = dict(budgets or {})
        self._first: FirstRead | None = None
        self._conn: Connection | None = None
        self._member_row: Any = None
        self._loaded: Loaded | None = None
        self._claimed: set[str] = set()
        self._saved: list[tuple] = []
        self._budgets: dict[str, Decimal] = {}
        self._limits: dict[str, Decimal] | None = None  # set when the budgets were read without a lock

    @translated("locking a member")
    def __enter__(self) -> SqlUnit:
        self._conn = self.store.begin()
        if self._event_id is not None:
            return self  # the lock comes with the first read
        try:
            self._member_row = self.store.dialect.lock_members(self._conn, [self.member_id])[0]
            self.store.faults.at("locked")
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    @property
    def shown_url(self) -> str:
        return self.store.shown_url

    @property
    def _open(self) -> Connection:
        """The unit's connection, there between ``__enter__`` and ``__exit__``."""
        if self._conn is None:
            raise RuntimeError("a SQL unit is used inside its with block")
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._event_id is not None:
            try:
                end_transaction(conn)
            except driver_errors():
                conn.invalidate()  # a connection that cannot be put back is not put back
        release(conn)  # back to the pool, an open transaction rolled back; a broken one discarded

    def _read_first(self) -> FirstRead | None:
        """The pipelined first read, once (None: this unit locked on entering)."""
        if self._event_id is not None and self._first is None:
            self._first = first_read(self._open, self.member_id, self._event_id, self._expected_budgets,
                                     self.store.cache.version(self.member_id))
            self._member_row = self._first.member
            if self._first.claimed:
                self._claimed.add(self._event_id)
            self.store.faults.at("locked")
        return self._first

    @translated("reading an event's idempotency record")
    def processed(self, event_id: str) -> ProcessedEvent | None:
        first = self._read_first()
        if first is not None and event_id == self._event_id:
            return first.prior
        prior = self.store.dialect.claim(self._conn, event_id, self.member_id)
        if prior is None and self.store.dialect.postgres:
            self._claimed.add(event_id)
        return prior

    @translated("reading a member")
    def load_member(self, member_id: str) -> MemberState | None:
        return self._load().state

    def _load(self) -> Loaded:
        if self._loaded is None:
            first = self._read_first()
            if first is not None and first.children is not None:
                self._loaded = state_from_rows(first.member, first.children)
            else:  # held decoded at the row's version (read again if it has just been dropped)
                self._loaded = load_members(self._open, [self._member_row], self.store.cache)[self.member_id]
        return self._loaded

    @translated("reading budgets")
    def budgets_used(self, rules: Iterable[str] | Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Used points per budget rule. ``rules`` with their limits (a mapping, as the
        engine passes them) lets PostgreSQL read without the lock; see the module notes."""
        self._limits = None
        if self.store.dialect.postgres and not self.contended and isinstance(rules, Mapping):
            self._limits = dict(rules)
        first = self._read_first()
        if first is not None and self._limits is not None and set(self._limits) <= set(self._expected_budgets):
            self._budgets = {rule: first.budgets[rule] for rule in sorted(self._limits) if rule in first.budgets}
        else:
            self._budgets = self.store.dialect.budgets(self._conn, rules, lock=self._limits is None)
        return dict(self._budgets)

    def save(self, event, decision, state: MemberState | None, budget_uses: dict[str, Decimal]) -> None:
        if self._saved:  # the state diff is against what was loaded: one event per unit
            raise RuntimeError("a SQL unit of work saves one event; open a unit per event")
        self._saved.append((event, decision, state, dict(budget_uses)))

    def _draws(self, totals: dict[str, Decimal], limits: dict[str, Decimal]) -> list[tuple]:
        new = sorted(set(totals) - set(self._budgets))
        if new:  # the first draw ever creates the row, and that takes its lock
            raise BudgetMoved(f"budget {', '.join(new)} has no row yet")
        decisions = [decision for _, decision, *_ in self._saved]
        return [(rule, points, self._budgets[rule], limits[rule],
                 points < 0 or any(clipped_by(decision, rule) for decision in decisions))
                for rule, points in sorted(totals.items())]

    @translated("storing an event")
    def commit(self) -> None:
        changes = Changes(budget_base=self._budgets)
        loaded = after = self._load()
        for event, decision, state, uses in self._saved:
            before = loaded.state or new_member(self.member_id)
            postings = record_event(changes, event, decision, before, state, uses, event.id in self._claimed,
                                    self.store.webhooks)
            if state is not None:
                after = diff_member(changes, loaded, state, postings.dropped)
        # A claimed id that was never saved must not stay behind as an empty record.
        unsaved = self._claimed - {event.id for event, *_ in self._saved}
        changes.claims_dropped.extend({"b_event": event_id} for event_id in sorted(unsaved))
        if self._limits is not None:
            changes.budget_draws = self._draws(changes.budget_totals, self._limits)
        # On PostgreSQL the writes go in one round trip, shortening how long the member
        # and budget rows stay locked.
        (apply_pipelined if self.store.dialect.postgres else apply)(self._open, changes)
        self.store.faults.at("flushed")
        self.store.faults.commit(self._conn)
        self._saved.clear()
        self.store.cache.put(after)
        self.store.faults.at("committed")
