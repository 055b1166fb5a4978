"""``Engine(compiled, store).process(event) -> Decision``: the front door for hosts.

Each event runs in one unit of work: the idempotency check, the evaluation, the
postings and the stored decision commit together or not at all. The event id is
the idempotency key: the same id with the same body returns the original decision
as ``duplicate``; the same id with a different body is rejected, naming the fields
that differ.
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
from .store import MemoryStore, ProcessedEvent, Store

__all__ = ["Engine", "duplicate_of", "conflict_with"]

log = logging.getLogger("punchcard.engine")


class Engine:
    def __init__(self, compiled, store: Store | str | None = None, plugins=None, clock: Clock = None):
        self.compiled = compiled
        self.plugins = plugins
        self.clock = clock
        self.store = self._open(store)
        self._budget_rules = [b.rule for b in compiled.model.earning.budgets]

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
        with self.store.unit_of_work(event.member) as uow:
            prior = uow.processed(event.id)
            if prior is not None:
                return duplicate_of(prior, event, self.compiled.label)
            state = uow.load_member(event.member) or new_member(event.member)
            budgets = uow.budgets_used(self._budget_rules) if self._budget_rules else {}
            decision, new_state = evaluate(self.compiled, state, event, self.clock, budgets)
            changed = new_state if new_state is not state else None
            uow.save(event, decision, changed, budget_uses(decision))
            uow.commit()
        self._notify(decision)
        return decision

    def process_many(self, events: Iterable[Mapping[str, Any] | Event]) -> list[Decision]:
        """Many events; a store with a batch mode commits them in batches, each still exactly-once."""
        batch = getattr(self.store, "process_batch", None)
        if batch is not None:
            return batch(self, list(events))
        return [self.process(event) for event in events]

    def member(self, member_id: str) -> MemberState | None:
        return self.store.member(member_id)

    def _notify(self, decision: Decision) -> None:
        """Decision listeners run after the commit; a failing one is logged, never undoes it."""
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
