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

import datetime as dt
import logging
import random
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from .answers import Preview, available_before, conflict_with, duplicate_of, housekept
from .evaluate import Clock, evaluate, new_member
from .hooks import EngineHooks
from .policies.offers import Candidate, offers_for
from .program import Compiled
from .runtime.decision import Decision, Outcome, Step
from .runtime.events import Event, EventError, valid_id, valid_member
from .runtime.numbers import exactly, ruleset_context
from .runtime.readers import OUT_OF_RANGE, YEARS
from .runtime.state import MemberState
from .store import Conflict, MemoryStore, Refused, Store, StoreError, UnitOfWork

__all__ = ["Engine", "Preview", "CONFLICT_ATTEMPTS", "STORE_ATTEMPTS", "budget_uses", "duplicate_of",
           "conflict_with", "store_backoff", "store_bug"]

log = logging.getLogger("punchcard.engine")

CONFLICT_ATTEMPTS = 3  # a unit of work that lost an optimistic race runs again, contended
STORE_ATTEMPTS = 3  # a transient store failure (deadlock, dropped connection) is tried this many times in all


def store_backoff(failures: int) -> None:
    """A short pause before trying a transient store failure again: 50 ms, 100 ms, ...
    with jitter, so racing workers do not retry in step."""
    time.sleep(0.05 * 2 ** (failures - 1) * random.uniform(0.5, 1.5))


def store_bug(what: str, exc: Exception) -> StoreError:
    """A store that failed with something other than a StoreError: ``what`` then the failure's
    type alone (its text may quote parameters), as a StoreError, so a run stops rather than
    go on out of order."""
    return StoreError(f"{what} {type(exc).__name__}")


class Engine:
    """Turns events into decisions for one compiled ruleset, keeping members in a store.

    ``compiled`` is what :func:`punchcard.compile` returns. ``store`` is a
    :class:`~punchcard.engine.store.Store`, or None for a new in-memory store.
    ``plugins`` (an :class:`~punchcard.engine.hooks.EngineHooks`) hears of each committed
    decision; the engine looks no plugins up itself, so without them nobody is told.
    :class:`punchcard.Engine` is this engine with the installed plugins handed in, which also
    opens a storage URL (``sqlite:///points.db``, ``postgresql://...``) through them.
    ``clock`` (a datetime, or a callable returning one), when given, is "now" for every
    event instead of the event's own time (tests, replays at a fixed moment).

    Every event runs in its own unit of work and is applied exactly once by its id, also
    when several processes share one store (docs/semantics.md, docs/storage.md)::

        engine = punchcard.Engine(punchcard.compile("rulesets/coffee-club.yaml"), "sqlite:///points.db")
        decision = engine.process({"type": "purchase", "id": "o-1", "member": "masha",
                                   "time": "2026-03-02T08:15:00", "amount": "150", "category": "coffee"})
    """

    def __init__(self, compiled: Compiled, store: Store | None = None, *, plugins: EngineHooks | None = None,
                 clock: Clock = None, trace: bool = False) -> None:
        self.compiled = compiled
        self.trace = trace  # decisions explain themselves (Decision.trace) only when the host asks
        self.plugins = plugins
        self.clock = clock
        self.store = self._open(store)
        # budget rule -> limit: a store may read budgets without a lock and check the limit at commit
        # (the limit plan's: an offer's budget is a budget on its granted rule, engine/policies/offers.py)
        # with variants, each variant's budgets: a budget is shared by every member who runs its rule
        programs = [compiled, *(compiled.split.programs.values() if compiled.split is not None else ())]
        self._budget_limits = {rule: limit for program in programs
                               for rule, limit, _label in program.limit_plan.budgets}

    def _open(self, store: Store | None) -> Store:
        if store is None:
            return MemoryStore()
        if isinstance(store, str):  # URLs mean plugins, and plugins are the front door's to find
            raise TypeError(f"a storage URL is opened by punchcard.Engine through the storage plugins; "
                            f"punchcard.engine.Engine takes a store, not {type(store).__name__}")
        return store

    @exactly
    def process(self, raw: Mapping[str, Any] | Event) -> Decision:
        """Decide one event, store the decision with its effects, and return it.

        ``raw`` is the event as a mapping (JSON-like: numbers as Decimal, int or exact
        text) or a parsed :class:`~punchcard.engine.runtime.events.Event`. Every input gets a
        :class:`~punchcard.engine.runtime.decision.Decision`: ``applied``, ``review``, ``blocked``,
        ``rejected`` (with a ``reason``: a malformed event, a rule that cannot be computed,
        not enough points) or ``duplicate`` (the id was seen with the same body; the
        original decision is returned). Nothing about the input raises.

        Only a failing store raises, as :class:`~punchcard.engine.store.StoreError` after a
        bounded number of retries of a transient failure: the event was not stored (or its
        commit's outcome is unknown), and running the same events again applies each once.
        Decision listeners (plugins) hear of the decision after its commit. The decision
        carries its effects always, and its explanation (``trace``) when the engine was
        made with ``trace=True``; a duplicate returns the decision as it was stored.
        """
        try:
            event = raw if isinstance(raw, Event) else self.compiled.schema.parse(raw)
        except EventError:
            return self.refused(raw)
        decision, new = self._stored(event)
        if new:
            self.notify(decision)
        return decision

    @exactly
    def refused(self, raw: Any) -> Decision:
        """The rejection of an event that is not valid, naming each problem, with the balance
        of its member as last committed when its member id is valid (0 when it is not, or the
        member is new). Nothing is stored; a store failure reading the member raises
        :class:`StoreError`."""
        return self.refusal(raw, self._committed(valid_member(raw)))

    @exactly
    def refusal(self, raw: Any, state: MemberState | None) -> Decision:
        """The rejection of an event that is not valid, with the balance of ``state`` (the
        member as a store's batch holds it, after the batch's events before this one)."""
        return evaluate(self.compiled, state, raw, trace=self.trace)[0]

    def _committed(self, member_id: str | None) -> MemberState | None:
        """The member as last committed (None: no valid member id, or a member the store has
        not seen). An id no event could carry (a NUL, another control character) has no
        member, and the store is not asked: PostgreSQL would refuse even to look it up, and
        bad input must not read as a failing store. A store failure raises."""
        if member_id is None or not valid_id(member_id):
            return None
        try:
            return self.store.member(member_id)
        except StoreError:
            raise
        except Exception as exc:
            raise store_bug("the store failed reading a member with", exc) from exc

    def _stored(self, event: Event) -> tuple[Decision, bool]:
        """The event decided and committed in a unit of work. A lost race runs again in a
        contended unit; a transient store failure runs again after a short pause, up to
        STORE_ATTEMPTS; any other store failure raises :class:`StoreError`."""
        conflicts = failures = 0
        refused: str | None = None
        while True:
            try:
                return self._in_unit(event, conflicts > 0, refused)
            except Conflict:
                conflicts += 1
                if conflicts == CONFLICT_ATTEMPTS:
                    raise StoreError(f"event {event.id} lost {conflicts} races in the store in a row; "
                                     "nothing of it was stored", transient=True) from None
                log.info("event %s lost a race in the store; running it again", event.id)
                self.retrying("race", conflicts + failures + 1)
            except StoreError as exc:
                failures += 1
                if not exc.transient or failures == STORE_ATTEMPTS:
                    raise
                log.warning("event %s: %s; trying again (%d of %d)", event.id, exc, failures + 1, STORE_ATTEMPTS)
                self.retrying("transient", conflicts + failures + 1)
                store_backoff(failures)
            except Refused as exc:
                if refused is not None:
                    raise StoreError(f"event {event.id}: the store refused even its rejection: {exc}") from None
                log.error("event %s is stored as rejected: %s", event.id, exc)
                refused = str(exc)
            except Exception as exc:
                raise store_bug(f"event {event.id} was not stored: the store failed with", exc) from exc

    def _in_unit(self, event: Event, contended: bool, refused: str | None = None) -> tuple[Decision, bool]:
        """One attempt in one unit of work: the decision, and whether it is new (committed
        now). After a lost race the store is asked for a unit that locks what it raced for.
        ``refused``: the store would not store the decision; store a rejection instead."""
        with self.store.unit_of_work(event.member, contended=contended, event_id=event.id,
                                     budgets=self._budget_limits) as uow:
            answered = self.recall(uow, event)
            if answered is not None:
                return answered, False
            decision = self.decide(uow, event) if refused is None else self._reject(uow, event, refused)
            uow.commit()
        return decision, True

    def _reject(self, uow: UnitOfWork, event: Event, why: str) -> Decision:
        """Save a rejection of ``event``, changing nothing, because the store refused its decision."""
        state = uow.load_member(event.member) or new_member(event.member)
        balance, pending = state.balances(event.time)
        reason = f"not processed: {why}"
        decision = Decision(event.id, event.member, self.compiled.label, Outcome.REJECTED, balance=balance,
                            pending=pending, reason=reason, event_type=event.type, time=event.time,
                            trace=(Step("input", "store", False, reason),))
        uow.save(event, decision, None, {})
        return decision

    def recall(self, uow: UnitOfWork, event: Event) -> Decision | None:
        """The answer already given to ``event``'s id, inside an open unit of work: the
        stored decision as a duplicate, or a rejection naming the fields that differ when
        the id came with another body. None when the id is new (the unit may now hold
        a claim on it); then :meth:`decide` it in the same unit."""
        prior = uow.processed(event.id)
        if prior is None:
            return None
        # only a conflict needs the member: it reports the balance as the unit reads it
        state = uow.load_member(event.member) if prior.digest != event.digest else None
        return duplicate_of(prior, event, self.compiled.label, state)

    def decide(self, uow: UnitOfWork, event: Event) -> Decision:
        """Evaluate a new event against the member's state and the budgets as the unit
        reads them, and save the decision to the unit, uncommitted. The caller commits,
        then calls :meth:`notify`. Used by :meth:`process`, and by stores that decide a
        batch of events in one transaction."""
        decision, new_state = self._evaluated(uow, event)
        changed = None if decision.outcome in (Outcome.REJECTED, Outcome.BLOCKED) else new_state
        uow.save(event, decision, changed, budget_uses(decision))
        return decision

    def _evaluated(self, uow: UnitOfWork, event: Event) -> tuple[Decision, MemberState]:
        """The event evaluated against the member and the budgets as the unit reads them."""
        return self._evaluated_as(uow, event, uow.load_member(event.member))

    def _evaluated_as(self, uow: UnitOfWork, event: Event, state: MemberState | None) -> tuple[Decision, MemberState]:
        """The event evaluated against ``state``, as the unit read it (None: a new member)."""
        budgets = uow.budgets_used(self._budget_limits) if self._budget_limits else {}
        return evaluate(self.compiled, state or new_member(event.member), event, self.clock, budgets,
                        owned=uow.private_states, trace=self.trace)

    @exactly
    def dry(self, raw: Mapping[str, Any] | Event) -> Decision:
        """What :meth:`process` would answer now, storing nothing: decided in the store's
        :meth:`~punchcard.engine.store.Store.preview` unit, never committed, so the member,
        the budgets and the event's id are read as for a real event. An id seen before
        answers as its duplicate, or as the rejection of another body under it. No listener
        hears of it. A transient store failure is tried again as for :meth:`process`; a
        failing store raises :class:`StoreError`. The SQL store's preview takes no lock, so
        it neither waits for the events being written nor holds them up."""
        return self._previewed(raw, counted=False).decision

    @exactly
    def preview(self, raw: Mapping[str, Any] | Event) -> Preview:
        """:meth:`dry`'s decision, and what the member could redeem at the event's time before
        it, as housekeeping would leave the member then (points expired by then are not
        counted), both read in the same unit: a checkout's "you have 380 points, and will have
        780". For an event that is not valid, ``available`` is the refusal's balance (the
        member as last committed)."""
        return self._previewed(raw, counted=True)

    def _previewed(self, raw: Mapping[str, Any] | Event, counted: bool) -> Preview:
        try:
            event = raw if isinstance(raw, Event) else self.compiled.schema.parse(raw)
        except EventError:
            refusal = self.refused(raw)
            return Preview(refusal, refusal.balance)
        failures = 0
        while True:
            try:
                return self._tried(event, counted)
            except StoreError as exc:
                failures += 1
                if not exc.transient or failures == STORE_ATTEMPTS:
                    raise
                self.retrying("transient", failures + 1)
                store_backoff(failures)

    def _tried(self, event: Event, counted: bool) -> Preview:
        """One attempt, in a unit that is never committed. What the member could redeem
        (``counted``) is worked out on a copy first: the unit's evaluation may change its state."""
        try:
            with self.store.preview(event.member, event_id=event.id, budgets=self._budget_limits) as uow:
                if not counted:  # the dry run reads only what deciding needs, as process does
                    return Preview(self.recall(uow, event) or self._evaluated(uow, event)[0], Decimal(0))
                state = uow.load_member(event.member)
                program, moment = self._program_at(event.member, event.time)
                available = available_before(program, state, moment, event.id)
                return Preview(self.recall(uow, event) or self._evaluated_as(uow, event, state)[0], available)
        except StoreError:
            raise
        except Exception as exc:
            raise store_bug(f"event {event.id} could not be tried: the store failed with", exc) from exc

    @exactly
    def process_many(self, events: Iterable[Mapping[str, Any] | Event]) -> list[Decision]:
        """Many events; a store with a batch mode commits them in batches, each still exactly-once
        (by default, :class:`~punchcard.engine.store.BaseStore`, one by one). Raises
        :class:`StoreError` as :meth:`process` does: the batches before it are stored."""
        try:
            return self.store.process_batch(self, list(events))
        except StoreError:
            raise
        except Exception as exc:
            raise store_bug("a batch was not stored: the store failed with", exc) from exc

    @exactly
    def member(self, member_id: str) -> MemberState | None:
        """The member's state as last committed (balance, lots, tier, streaks, badges), or
        None when the store has never seen ``member_id``. A read: it changes nothing and
        runs no housekeeping, so lots due to expire are shown until the next event or tick.
        An id no event could carry is None too: no such member can exist."""
        return self._committed(member_id)

    @exactly
    def member_at(self, member_id: str, at: dt.datetime | None = None) -> tuple[MemberState | None, dt.datetime]:
        """The member as housekeeping would leave it by ``at`` (default: the engine's clock,
        else now), and that moment in the zone of the member's program. A read: the state is
        a copy and nothing is stored, so lots expired by then are gone from it, matured points
        are available and expired offers dropped. None for a member the store has never seen.
        An ``at`` outside the years an event may have is a ValueError saying so."""
        program, moment = self._program_at(member_id, at)
        return self._housekept(program, member_id, moment), moment

    @exactly
    def offers(self, member_id: str, at: dt.datetime | None = None) -> list[Candidate]:
        """The offers choosing would keep for the member at ``at`` (default: the engine's clock,
        else now), ranked, then every other candidate, each with the step it reached and why it
        was kept, dropped or outranked (docs/offers.md). A read: nothing is selected or stored;
        the member is seen as housekeeping would leave it by ``at`` (expired offers gone)."""
        program, moment = self._program_at(member_id, at)  # its variant's offers, when there are variants
        state = self._housekept(program, member_id, moment) or new_member(member_id)
        with localcontext(ruleset_context(program)):
            return offers_for(program, state, moment)

    def _program_at(self, member_id: str, at: dt.datetime | None) -> tuple[Compiled, dt.datetime]:
        """The member's program (its variant's, when there are variants) and ``at`` in its zone:
        within the years an event may have, where date arithmetic stays inside the calendar."""
        moment = at if at is not None else _now_of(self.clock, self.compiled)
        if not YEARS[0] <= moment.year <= YEARS[1]:  # converting a moment near the calendar's edges overflows
            raise ValueError(f"at {OUT_OF_RANGE}")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.compiled.tz)
        program = self.compiled.for_member(member_id)
        return program, moment.astimezone(program.tz)

    def _housekept(self, program: Compiled, member_id: str, moment: dt.datetime) -> MemberState | None:
        """A copy of the committed member, housekept to ``moment`` (None: never seen)."""
        committed = self._committed(member_id)
        return None if committed is None else housekept(program, committed, moment)

    def notify(self, decision: Decision) -> None:
        """Tell the decision listeners about a committed decision. Call it only after the
        commit; a failing listener is logged and never undoes the decision. Without plugins
        handed in, there is nobody to tell."""
        if self.plugins is not None:
            self.plugins.decision_committed(decision)

    def retrying(self, reason: str, attempt: int) -> None:
        """Tell the plugins that store work runs again (``reason``: ``"race"`` or
        ``"transient"``; ``attempt``: the one about to run, counting every earlier one),
        whatever the log level. Called by :meth:`process`, :meth:`dry` and stores that retry a
        batch. A failing listener (or hooks without ``store_retried``) is logged: it never
        stops the retry, nor escapes :meth:`process`."""
        if self.plugins is None:
            return
        try:
            self.plugins.store_retried(reason, attempt)
        except Exception:  # counting a retry must not fail the work being retried
            log.exception("telling the plugins of a store retry failed; the work goes on")


def _now_of(clock: Clock, compiled: Compiled) -> dt.datetime:
    """The engine's clock, or the wall clock when it has none (a host asking about now)."""
    if clock is None:
        return dt.datetime.now(compiled.tz)
    return clock() if callable(clock) else clock


def budget_uses(decision: Decision) -> dict[str, Decimal]:
    return {e.detail["rule"]: e.points for e in decision.effects if e.kind == "budget" and e.points is not None}
