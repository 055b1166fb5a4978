"""Storage as a small interface, with an in-memory store for tests and the dry-run.

A store hands out units of work. A unit of work holds the member's lock for its lifetime and rolls back unless
``commit()`` is called, so a failure mid-event leaves nothing half-applied. The engine names the event's id and budgets
when it opens one, so a store may read them with the member. The SQL store implements the same interface.

A store may read something shared (a campaign budget) without locking it and check at commit that the decision still
holds; when it does not, ``commit()`` raises :class:`Conflict` having stored nothing, and the engine runs the event
again in a unit opened with ``unit_of_work(member_id, contended=True)``. Stores that never raise ``Conflict`` are
never asked for a contended unit.

A store that fails (a dropped connection, a read-only or corrupt file, a schema the code does not know) raises
:class:`StoreError`, the one exception :meth:`Engine.process <punchcard.engine.engine.Engine.process>` lets through:
the event in hand was not stored, so the host stops and sends it again later, in order. A *transient* one (a
serialization failure, a deadlock, a dropped connection, a busy database) is first run again by the engine a bounded
number of times. Its message never carries SQL parameters, stored documents or passwords.

A store that cannot store a decision as made (its ledger cannot account for it) raises :class:`Refused`, storing
nothing; the engine stores the event as rejected, with that reason, so a replay meets the same answer.

Everything the engine asks of a store or a unit is on the protocols below, so the engine calls it directly. What a
store may leave alone has a default in :class:`BaseStore` and :class:`BaseUnit` (which :class:`MemoryStore` and the
SQL store build on): units hand out states the engine must copy before changing (``private_states = False``), and a
batch is its events processed one by one.

A store that keeps an :class:`Outbox` writes each ``message`` effect of a stored decision, and with
``webhooks`` on its notable effects, with that decision (:func:`outbox_rows`), to be drained after the commit.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, cast, runtime_checkable

from .outbox import OUTBOX_STATUSES, Outbox, OutboxRow, done_before, outbox_rows
from .runtime.decision import Decision, to_jsonable
from .runtime.events import Event
from .runtime.state import ZERO, MemberState
from .runtime.undo import Savepoint

__all__ = ["ProcessedEvent", "UnitOfWork", "Store", "Processor", "BaseUnit", "BaseStore", "MemoryStore", "Conflict",
           "StoreError", "Refused", "OutboxRow", "Outbox", "outbox_rows", "OUTBOX_STATUSES"]


class Conflict(RuntimeError):
    """A unit of work's optimistic read lost a race: it rolled back, stored nothing, and may run again."""


class StoreError(RuntimeError):
    """The store failed; the event (or batch) in hand was not stored, or its commit's
    outcome is unknown (then a replay finds it processed). Stop, fix the store, and run
    the same events again: each is applied once, in order.

    ``transient``: running the same transaction again may well succeed (serialization failure,
    deadlock, dropped connection, busy database); the engine does so a few times before raising.
    The message names the operation and the database's own words, never SQL parameters,
    stored documents, event bodies or passwords."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class Refused(RuntimeError):
    """The store will not store this decision as decided (its postings cannot account
    for the state change): nothing was stored, and the engine stores the event as
    rejected with this message as the reason."""


@dataclass(frozen=True)
class ProcessedEvent:
    """An event already decided: its digest and normalised body, and the decision."""

    event_id: str
    digest: str
    body: dict[str, Any]
    decision: Decision


class Processor(Protocol):
    """The engine as a store's batch mode sees it: :class:`punchcard.engine.engine.Engine`,
    whose ``recall``, ``decide`` and ``notify`` a store that batches also calls."""

    def process(self, raw: Mapping[str, Any] | Event) -> Decision: ...


@runtime_checkable
class UnitOfWork(Protocol):
    private_states: bool  # load_member's states are copies nobody else holds: the engine may change them

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def processed(self, event_id: str) -> ProcessedEvent | None: ...

    def load_member(self, member_id: str) -> MemberState | None:
        """The member's state. A unit whose ``private_states`` is true promises a copy
        nobody else holds, which the engine then changes in place (``owned=True``)."""

    def budgets_used(self, rules: Iterable[str]) -> dict[str, Decimal]:
        """Points used per budget rule. The engine passes a mapping of each rule to its
        limit; a store that only needs the names iterates it."""

    def save(self, event: Event, decision: Decision, state: MemberState | None,
             budget_uses: dict[str, Decimal]) -> None: ...

    def commit(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    def unit_of_work(self, member_id: str, *, contended: bool = False, event_id: str | None = None,
                     budgets: Mapping[str, Decimal] | None = None) -> UnitOfWork: ...

    def preview(self, member_id: str, *, event_id: str | None = None,
                budgets: Mapping[str, Decimal] | None = None) -> UnitOfWork:
        """A unit for :meth:`Engine.dry <punchcard.engine.engine.Engine.dry>`: it reads as
        ``unit_of_work``'s would and is never committed, so a store may take no lock and
        claim nothing for it (:class:`BaseStore`: ``unit_of_work``'s, rolled back)."""

    def member(self, member_id: str) -> MemberState | None: ...

    def decisions(self, member_id: str, limit: int = 20, before: str | None = None) -> list[Decision]:
        """Newest first: the latest ``limit``, or those stored before event ``before`` (none if not the member's)."""

    def process_batch(self, engine: Processor, events: list[Mapping[str, Any] | Event]) -> list[Decision]:
        """Decide and store ``events`` in order, each exactly once, as
        :meth:`Engine.process_many <punchcard.engine.engine.Engine.process_many>` returns them;
        a store may commit many per transaction, calling the engine's ``recall``,
        ``decide`` and ``notify``."""

    def close(self) -> None: ...


class BaseUnit:
    """The defaults of a unit of work: states as the store holds them, which the engine
    copies before changing."""

    private_states: bool = False


class BaseStore:
    """The defaults of a store: a batch is its events processed one by one; no webhook rows unless turned on."""

    webhooks: bool = False  # outbox_rows(decision, webhooks): queue notable effects for the webhook dispatcher

    def preview(self, member_id: str, *, event_id: str | None = None,
                budgets: Mapping[str, Decimal] | None = None) -> UnitOfWork:
        """The store's own unit of work, never committed."""
        return cast(Store, self).unit_of_work(member_id, event_id=event_id, budgets=budgets)

    def process_batch(self, engine: Processor, events: list[Mapping[str, Any] | Event]) -> list[Decision]:
        return [engine.process(event) for event in events]


_Write = tuple[Event, Decision, MemberState | None, dict[str, Decimal]]  # what a unit saves, until it commits


class _MemoryUnit(BaseUnit):
    # The engine changes the stored state itself, in place: nothing is copied per event. The
    # unit holds the member's lock and a savepoint on each state it hands out, so a unit that
    # ends without committing, or a state it is told not to keep, is put back exactly.
    private_states = True

    def __init__(self, store: MemoryStore, member_id: str) -> None:
        self.store, self.member_id = store, member_id
        self._writes: list[_Write] = []
        self._lock = store._member_lock(member_id)
        self._holds_budgets = False
        self._savepoints: dict[str, Savepoint] = {}

    def __enter__(self) -> _MemoryUnit:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writes.clear()  # anything not committed is dropped, and its states put back
        for savepoint in reversed(self._savepoints.values()):
            savepoint.restore()
        self._savepoints.clear()
        if self._holds_budgets:
            self.store._budget_lock.release()
        self._lock.release()

    def processed(self, event_id: str) -> ProcessedEvent | None:
        found = self.store._processed.get(event_id)
        if found is None:
            return None
        event, decision = found
        return ProcessedEvent(event.id, event.digest, event.body, decision)

    def load_member(self, member_id: str) -> MemberState | None:
        state = self.store._members.get(member_id)
        if state is not None and member_id not in self._savepoints:
            self._savepoints[member_id] = state.savepoint()
        return state

    def budgets_used(self, rules: Iterable[str]) -> dict[str, Decimal]:
        """Read the budgets and hold them until the unit ends, so racing members cannot overspend."""
        if not self._holds_budgets:
            self.store._budget_lock.acquire()
            self._holds_budgets = True
        return {rule: self.store._budgets.get(rule, ZERO) for rule in rules}

    def save(self, event: Event, decision: Decision, state: MemberState | None,
             budget_uses: Mapping[str, Decimal]) -> None:
        if state is None and event.member in self._savepoints:  # not to be kept: put it back now
            self._savepoints.pop(event.member).restore()
        self._writes.append((event, decision, state, dict(budget_uses)))

    def commit(self) -> None:
        with self.store._budget_lock:
            for event, decision, state, uses in self._writes:
                self.store._apply(event, decision, state, uses)
        self._writes.clear()
        for savepoint in self._savepoints.values():
            savepoint.release()
        self._savepoints.clear()


class MemoryStore(BaseStore):
    """Everything in dicts; one lock per member, so members never wait on each other."""

    def __init__(self) -> None:
        self._members: dict[str, MemberState] = {}
        self._processed: dict[str, tuple[Event, Decision]] = {}
        self._decisions: dict[str, list[Decision]] = {}
        self._places: dict[str, int] = {}  # event id -> where its decision is in its member's list
        self._budgets: dict[str, Decimal] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()
        self._budget_lock = threading.RLock()
        self._outbox: dict[str, OutboxRow] = {}  # by message id
        self._outbox_lock = threading.Lock()

    def _member_lock(self, member_id: str) -> threading.RLock:
        lock = self._locks.get(member_id)  # a lock once made is never replaced: no guard needed to find it
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(member_id, threading.RLock())
        return lock

    def unit_of_work(self, member_id: str, *, contended: bool = False, **expected: Any) -> _MemoryUnit:
        return _MemoryUnit(self, member_id)  # budgets are always read under their lock

    def _apply(self, event: Event, decision: Decision, state: MemberState | None, uses: Mapping[str, Decimal]) -> None:
        # The event is kept as it came: hashed only if its id comes again, which few ids do.
        self._processed[event.id] = (event, decision)
        made = self._decisions.setdefault(decision.member_id, [])
        self._places[event.id] = len(made)
        made.append(decision)
        if state is not None:
            self._members[state.member_id] = state
        for rule, points in uses.items():
            self._budgets[rule] = self._budgets.get(rule, ZERO) + points
        messages = outbox_rows(decision, self.webhooks)
        if messages:  # with the decision, under the commit's lock: both are kept or neither
            with self._outbox_lock:
                for row in messages:
                    self._outbox.setdefault(row.id, row)

    # -- the outbox (see Outbox) --------------------------------------------------------
    def outbox_claim(self, now: dt.datetime, limit: int, until: dt.datetime, owner: str,
                     channels: Collection[str]) -> list[OutboxRow]:
        with self._outbox_lock:
            due = sorted((row for row in self._outbox.values()
                          if row.status == "pending" and row.send_at <= now and row.channel in channels
                          and (row.lease_until is None or row.lease_until <= now)),
                         key=lambda row: (row.send_at, row.id))[:limit]
            claimed = [dataclasses.replace(row, lease_until=until, lease_owner=owner, attempts=row.attempts + 1)
                       for row in due]
            self._outbox.update((row.id, row) for row in claimed)
            return claimed

    def _outbox_change(self, message_id: str, owner: str | None, change: Callable[[OutboxRow], OutboxRow]) -> bool:
        """Change a pending row (held by ``owner``, unless None): whether it was changed."""
        with self._outbox_lock:
            row = self._outbox.get(message_id)
            if row is None or row.status != "pending" or (owner is not None and row.lease_owner != owner):
                return False
            self._outbox[message_id] = change(row)
            return True

    def outbox_compose(self, message_id: str, owner: str, composed: Mapping[str, Any]) -> bool:
        stored = to_jsonable(dict(composed))
        return self._outbox_change(message_id, owner, lambda row: dataclasses.replace(row, composed=stored))

    def outbox_sent(self, message_id: str, at: dt.datetime, receipt: str | None) -> bool:
        return self._outbox_change(message_id, None, lambda row: dataclasses.replace(
            row, status="sent", sent_at=at, receipt=receipt, lease_until=None, lease_owner=None))

    def outbox_retry(self, message_id: str, owner: str, error: str, retry_at: dt.datetime | None,
                     at: dt.datetime | None = None) -> bool:
        return self._outbox_change(message_id, owner, lambda row: dataclasses.replace(
            row, status="pending" if retry_at else "failed", last_error=error, failed_at=at, lease_until=retry_at,
            lease_owner=None))

    def outbox_release(self, message_id: str, owner: str, until: dt.datetime | None) -> bool:
        return self._outbox_change(message_id, owner, lambda row: dataclasses.replace(
            row, status="pending" if until else "expired", attempts=row.attempts - 1, lease_until=until,
            lease_owner=None))

    def outbox_list(self, status: str | None = None, limit: int | None = None) -> list[OutboxRow]:
        with self._outbox_lock:
            rows = sorted((row for row in self._outbox.values() if status is None or row.status == status),
                          key=lambda row: (row.send_at, row.id))
        return rows[:limit] if limit is not None else rows

    def outbox_due(self, now: dt.datetime) -> dict[str, int]:
        return dict(Counter(row.channel for row in self.outbox_list("pending") if row.send_at <= now))

    def outbox_prune(self, before: dt.datetime, statuses: Collection[str] = ("sent",)) -> dict[str, int]:
        with self._outbox_lock:
            done = [row for row in self._outbox.values() if done_before(row, before, statuses)]
            for row in done:
                del self._outbox[row.id]
        return dict(Counter(row.status for row in done))

    def member(self, member_id: str) -> MemberState | None:
        with self._member_lock(member_id):  # the stored state changes in place while a unit holds it
            state = self._members.get(member_id)
            if state is None:
                return None
            copied = state.clone()
            state.shared = MemberState.SHARED  # both now copy a container before writing it
            return copy.copy(copied)

    def put_member(self, state: MemberState) -> None:  # seed a member (tests, migrations)
        self._members[state.member_id] = state.clone()

    def decisions(self, member_id: str, limit: int = 20, before: str | None = None) -> list[Decision]:
        made = self._decisions.get(member_id, [])
        end = len(made) if before is None else self._places.get(before, 0)
        if before is not None and (end >= len(made) or made[end].event_id != before):
            end = 0  # another member's event: none
        return made[max(0, end - limit):end][::-1]

    def budgets(self) -> dict[str, Decimal]:
        return dict(self._budgets)

    def close(self) -> None:
        pass
