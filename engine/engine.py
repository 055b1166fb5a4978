"""``Engine(compiled, store).process(event) -> Decision``: the front door for hosts.

Each event runs in one unit of work: the idempotency check, the evaluation, the
postings and the stored decision commit together or not at all. The event id is
the idempotency key: the same id with the same body returns the original decision
as ``duplicate``; the same id with a different body is rejected, naming the fields
that differ.

:meth:`Engine.recall` (the idempotency answer) and :meth:`Engine.decide` (evaluate and
save) are one event's work inside a unit a caller opened, shared by
:meth:`Engine.process` and stores that batch many events per transaction; after their
commit, :meth:`Engine.notify` tells the decision listeners. A store may refuse a
commit with :class:`~punchcard.engine.store.Conflict` when an optimistic read lost a
race: the unit rolled back, and the event runs again in a unit opened with
``contended=True``, which locks what it raced for before reading it.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .decision import Decision, Outcome, Step
from .evaluate import Clock, evaluate, new_member
from .events import Event, EventError
from .state import MemberState
from .store import Conflict, MemoryStore, ProcessedEvent, Store, UnitOfWork

__all__ = ["Engine", "CONFLICT_ATTEMPTS", "budget_uses", "duplicate_of", "conflict_with"]

log = logging.getLogger("punchcard.engine")

CONFLICT_ATTEMPTS = 3  # a unit of work that lost an optimistic race runs again, contended


class Engine:
    def __init__(self, compiled, store: Store | str | None = None, plugins=None, clock: Clock = None):
        self.compiled = compiled
        self.plugins = plugins
        self.clock = clock
        self.store = self._open(store)
        # budget rule -> limit: a store may read budgets without a lock and check the limit at commit
        self._budget_limits = {b.rule: b.max_points for b in compiled.model.earning.budgets}

    def _open(self, store: Store | str | None) -> Store:
        if store is None:
            return MemoryStore()
        if isinstance(store, str):
            plugins = self.plugins or _default_plugins()
            return plugins.open_store(store)
        return store

    def process(self, raw: Mapping[str, Any] | Event) -> Decision:
        try:
            event = raw if isinstance(raw, Event) else self.compiled.schema.parse(raw)
        except EventError:
            decision, _ = evaluate(self.compiled, None, raw)
            return decision
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                decision, new = self._in_unit(event, contended=attempt > 0)
            except Conflict:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                log.info("event %s lost a race in the store; running it again", event.id)
                continue
            if new:
                self.notify(decision)
            return decision
        raise AssertionError("unreachable")

    def _in_unit(self, event: Event, contended: bool) -> tuple[Decision, bool]:
        """One attempt in one unit of work: the decision, and whether it is new (committed
        now). After a lost race the store is asked for a unit that locks what it raced for."""
        with self.store.unit_of_work(event.member, **({"contended": True} if contended else {})) as uow:
            answered = self.recall(uow, event)
            if answered is not None:
                return answered, False
            decision = self.decide(uow, event)
            uow.commit()
        return decision, True

    def recall(self, uow: UnitOfWork, event: Event) -> Decision | None:
        """The answer already given to ``event``'s id, inside an open unit of work: the
        stored decision as a duplicate, or a rejection naming the fields that differ when
        the id came with another body. None when the id is new (the unit may now hold
        a claim on it); then :meth:`decide` it in the same unit."""
        prior = uow.processed(event.id)
        return None if prior is None else duplicate_of(prior, event, self.compiled.label)

    def decide(self, uow: UnitOfWork, event: Event) -> Decision:
        """Evaluate a new event against the member's state and the budgets as the unit
        reads them, and save the decision to the unit, uncommitted. The caller commits,
        then calls :meth:`notify`. Used by :meth:`process`, and by stores that decide a
        batch of events in one transaction."""
        state = uow.load_member(event.member) or new_member(event.member)
        budgets = uow.budgets_used(self._budget_limits) if self._budget_limits else {}
        owned = getattr(uow, "private_states", False)
        decision, new_state = evaluate(self.compiled, state, event, self.clock, budgets, owned=owned)
        changed = None if decision.outcome in (Outcome.REJECTED, Outcome.BLOCKED) else new_state
        uow.save(event, decision, changed, budget_uses(decision))
        return decision

    def process_many(self, events: Iterable[Mapping[str, Any] | Event]) -> list[Decision]:
        """Many events; a store with a batch mode commits them in batches, each still exactly-once."""
        batch = getattr(self.store, "process_batch", None)
        if batch is not None:
            return batch(self, list(events))
        return [self.process(event) for event in events]

    def member(self, member_id: str) -> MemberState | None:
        return self.store.member(member_id)

    def notify(self, decision: Decision) -> None:
        """Tell the decision listeners about a committed decision. Call it only after the
        commit; a failing listener is logged and never undoes the decision."""
        if self.plugins is None:
            self.plugins = _default_plugins()
        self.plugins.decision_committed(decision)


def _default_plugins():
    from punchcard.plugins.manager import get_plugin_manager

    return get_plugin_manager()


def budget_uses(decision: Decision) -> dict[str, Decimal]:
    return {e.detail["rule"]: e.points for e in decision.effects if e.kind == "budget"}


def duplicate_of(prior: ProcessedEvent, event: Event, label: str) -> Decision:
    if prior.digest != event.digest:
        return conflict_with(prior, event, label)
    return dataclasses.replace(prior.decision, outcome=Outcome.DUPLICATE,
                               reason=f"event {event.id} was already processed; this is its original decision")


def conflict_with(prior: ProcessedEvent, event: Event, label: str) -> Decision:
    keys = sorted(set(prior.body) | set(event.body))
    differing = [k for k in keys if prior.body.get(k) != event.body.get(k)]
    detail = ", ".join(f"{k} ({prior.body.get(k)!r} then {event.body.get(k)!r})" for k in differing)
    reason = f"conflict: event id {event.id} was already used with different fields: {detail}"
    log.warning(reason)
    return Decision(event.id, event.member, label, Outcome.REJECTED, reason=reason, event_type=event.type,
                    time=event.time, trace=(Step("input", "idempotency", False, reason),))
