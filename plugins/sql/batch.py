"""``process_batch``: many events per transaction, each still exactly-once.

Events are taken in chunks (``batch_size``, default 1000). A chunk is one
transaction: lock every member it touches (sorted, so two chunks never deadlock),
read their state and the chunk's already-processed ids, decide the events in their
original order against that state held in memory (``Engine.recall`` and
``Engine.decide``, with the chunk as their unit of work), then write each member's
final state once and everything else with one statement per table. Budgets are read
without a lock and checked when the chunk writes (see :meth:`Chunk.check_budgets`); a
chunk that lost a race runs again with its budget rows locked from the start. A
transient store failure (deadlock, dropped connection) runs the chunk again after a
short pause, a bounded number of times; any other store failure raises
:class:`~punchcard.engine.store.StoreError`: the chunks before it are committed, this
one and those after it are not, so running the same events again continues in order.
A chunk the store refused (its postings could not account for a decision) is replayed
one event per transaction, where that event is stored as rejected.
"""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from decimal import Decimal

from punchcard.engine.engine import STORE_ATTEMPTS, store_backoff
from punchcard.engine.evaluate import new_member
from punchcard.engine.runtime.decision import Decision
from punchcard.engine.runtime.events import Event, EventError, valid_member
from punchcard.engine.runtime.state import ZERO, MemberState
from punchcard.engine.store import BaseUnit, ProcessedEvent, Refused, StoreError

from .errors import driver_errors, integrity_errors, release, store_error
from .record import clipped_by, record_event
from .repository import load_members, processed_events
from .rows import diff_member
from .writes import Changes, apply

__all__ = ["process_batch", "BatchConflict", "CHUNK_ATTEMPTS"]

log = logging.getLogger("punchcard.store.sql")

CHUNK_ATTEMPTS = 3  # optimistic, then twice with budget rows locked up front


class BatchConflict(RuntimeError):
    """A concurrent transaction changed something this chunk decided on; run it again."""


def process_batch(store, engine, events: list, size: int) -> list[Decision]:
    results: list[Decision] = []
    size = max(size, 1)
    for start in range(0, len(events), size):
        results.extend(_run_chunk(store, engine, events[start:start + size]))
    return results


class _Invalid:
    """An event that did not parse. It is refused in its place in the chunk, with the
    balance its member has after the chunk's events before it, as one by one."""

    __slots__ = ("member", "raw")

    def __init__(self, raw) -> None:
        self.raw, self.member = raw, valid_member(raw)


def _parse(engine, raw) -> Event | _Invalid:
    if isinstance(raw, Event):
        return raw
    try:
        return engine.compiled.schema.parse(raw)
    except EventError:
        return _Invalid(raw)


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while a chunk runs. A chunk keeps thousands
    of objects alive until it commits, and with the collector on they were promoted
    and swept through every generation: full collections over the member cache took
    more time than writing the chunk. Reference counting still frees what a chunk
    drops; the collector resumes after the chunk (unless the host had turned it off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _run_chunk(store, engine, events: list) -> list[Decision]:
    """One chunk of raw events: parsed, decided and committed; listeners hear after."""
    stored: list[Decision] = []
    with _collector_paused():
        items = [_parse(engine, raw) for raw in events]
        invalid = [item for item in items if isinstance(item, _Invalid)]
        if len(invalid) < len(items):
            results, stored = _attempts(store, engine, items)
        else:  # nothing to decide: each refused with its member's balance as committed
            results = [engine.refused(item.raw) for item in invalid]
    for decision in stored:
        engine.notify(decision)
    return results


def _attempts(store, engine, events: list[Event | _Invalid]) -> tuple[list[Decision], list[Decision]]:
    conflicts = failures = 0
    failing: tuple[type[BaseException], ...] = (StoreError, *driver_errors())  # psycopg is loaded: the store is open
    raced: tuple[type[BaseException], ...] = (BatchConflict, *integrity_errors())
    while conflicts < CHUNK_ATTEMPTS:
        try:
            return _transaction(store, engine, events, locked_budgets=conflicts > 0)
        except raced:  # a race lost: the next attempt sees its outcome
            conflicts += 1
            log.info("batch of %d events lost a race; running it again", len(events))
            engine.retrying("race", conflicts + failures + 1)
        except Refused as exc:
            log.warning("batch of %d events refused (%s); processing them one by one", len(events), exc)
            break
        except failing as exc:
            failure = exc if isinstance(exc, StoreError) else store_error(exc, "storing a batch", store.shown_url)
            failures += 1
            if not failure.transient or failures == STORE_ATTEMPTS:
                raise failure from None
            log.warning("batch of %d events: %s; trying again (%d of %d)", len(events), failure, failures + 1,
                        STORE_ATTEMPTS)
            engine.retrying("transient", conflicts + failures + 1)
            store_backoff(failures)
    # Each in its own transaction; Engine.process notifies listeners and raises StoreError.
    return [engine.process(event.raw if isinstance(event, _Invalid) else event) for event in events], []


def _transaction(store, engine, events: list[Event | _Invalid],
                 locked_budgets: bool) -> tuple[list[Decision], list[Decision]]:
    conn = store.begin()
    try:
        chunk = Chunk(store, engine, conn, locked_budgets)
        decisions = chunk.run(events)
        chunk.flush()
        store.faults.at("flushed")
        store.faults.commit(conn)
        for loaded in chunk.after.values():
            store.cache.put(loaded)
        store.faults.at("committed")
        return decisions, chunk.stored
    finally:
        release(conn)


class Chunk(BaseUnit):
    """One transaction's worth of events, evaluated against state held in memory.

    To :meth:`Engine.recall <punchcard.engine.engine.Engine.recall>` and
    :meth:`Engine.decide <punchcard.engine.engine.Engine.decide>` a chunk is the unit of
    work of every event in it: ``processed`` sees the events decided earlier in the
    chunk, ``load_member`` the member's state after them, ``save`` gathers the rows."""

    def __init__(self, store, engine, conn, locked_budgets: bool):
        self.store, self.engine, self.conn = store, engine, conn
        self.compiled = engine.compiled
        self.locked_budgets = locked_budgets
        self.changes = Changes()
        self.seen: dict[str, tuple[Event, Decision]] = {}
        self.stored: list[Decision] = []
        self.tight: set[str] = set()  # budgets a decision was clipped by: only an exact read will do
        self.limits = {b.rule: b.max_points for b in self.compiled.model.earning.budgets}
        self._before: MemberState | None = None  # what load_member last handed out

    def run(self, items: list[Event | _Invalid]) -> list[Decision]:
        dialect = self.store.dialect
        rows = dialect.lock_members(self.conn, [item.member for item in items if item.member is not None])
        self.store.faults.at("locked")
        self.loaded = load_members(self.conn, rows, self.store.cache)
        self.current = {member: loaded.state for member, loaded in self.loaded.items()}
        self.dropped: dict[str, dict] = {member: {} for member in self.loaded}
        self.prior = processed_events(self.conn, [item.id for item in items if isinstance(item, Event)])
        self.read = dialect.budgets(self.conn, self.limits, lock=self.locked_budgets)
        self.used = dict(self.read)
        # In arrival order, so a batch decides exactly what one-by-one processing would
        # (budgets included); the writes are grouped per member when the chunk flushes.
        recall, decide, refusal = self.engine.recall, self.engine.decide, self.engine.refusal
        return [refusal(item.raw, self.current.get(item.member) if item.member else None)
                if isinstance(item, _Invalid) else recall(self, item) or decide(self, item) for item in items]

    # -- the unit-of-work interface, for Engine.recall and Engine.decide ----------------
    def processed(self, event_id: str) -> ProcessedEvent | None:
        if event_id in self.seen:  # decided earlier in this chunk
            event, decision = self.seen[event_id]
            return ProcessedEvent(event.id, event.digest, event.body, decision)
        return self.prior.get(event_id)

    def load_member(self, member_id: str) -> MemberState:
        self._before = self.current[member_id] or new_member(member_id)
        return self._before

    def budgets_used(self, rules) -> dict[str, Decimal]:
        return self.used  # read when the chunk began, plus what its events drew since

    def save(self, event: Event, decision: Decision, changed: MemberState | None, uses: dict[str, Decimal]) -> None:
        if self._before is None:
            raise RuntimeError("a batch saves the member it handed out: load_member comes first")
        postings = record_event(self.changes, event, decision, self._before, changed, uses, claimed=False,
                                webhooks=self.store.webhooks)
        self.seen[event.id] = (event, decision)
        self.stored.append(decision)
        if changed is not None:
            self.current[event.member] = changed
            self.dropped[event.member].update(postings.dropped)
        self._use_budgets(decision, uses)

    def _use_budgets(self, decision: Decision, uses: dict[str, Decimal]) -> None:
        for rule, points in uses.items():
            self.used[rule] = self.used.get(rule, ZERO) + points
            if clipped_by(decision, rule):
                self.tight.add(rule)

    def flush(self) -> None:
        self.after = dict(self.loaded)  # how each member is stored once this commits
        for member, loaded in self.loaded.items():
            final = self.current[member]
            if final is not None and final is not loaded.state:
                self.after[member] = diff_member(self.changes, loaded, final, self.dropped[member])
        self.check_budgets(self.changes.budget_totals)
        # An id committed meanwhile for another member fails the unique key: the chunk
        # is run again, and then finds it processed.
        apply(self.conn, self.changes)

    def check_budgets(self, totals: dict[str, Decimal]) -> None:
        """Lock the budget rows this chunk draws on and make sure its decisions still
        hold: either nobody else drew on the budget since it was read, or nobody did
        enough to matter (no decision was clipped by it and it stays within its limit)."""
        if not totals:
            return
        locked = self.store.dialect.budgets(self.conn, totals, lock=True)
        self.changes.budget_base = locked
        for rule, points in sorted(totals.items()):
            if locked[rule] == self.read.get(rule, ZERO):
                continue
            limit = self.limits.get(rule)
            if rule in self.tight or limit is None or locked[rule] + points > limit:
                raise BatchConflict(f"budget {rule} moved from {self.read.get(rule)} to {locked[rule]} meanwhile")

