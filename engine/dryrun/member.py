"""One member's replay through each ruleset, and the counting of its decisions.

A :class:`SideRun` is one ruleset replaying one member: the member's in-memory
state (handed over to ``evaluate`` to change in place, since nothing else holds
it), the event ids it answered (a repeated id is answered the way ``Engine``
answers a retry: ``duplicate``, or a conflict when the body differs), and the
member's own figures. A member's decisions are counted together when the member is
done (:meth:`SideRun.settle`): into the partial it belongs to, which with budgets is
only known then (see :mod:`.replay`), and while the counting code and its tables are
still at hand, rather than once between every two evaluations. Then they are
dropped; only the first ``TRACE_LIMIT`` are kept, for the report's traces should the
member rank among the top.

After the last event each member gets a ``tick`` at the end instant, so expiry,
pending releases, tier windows and streak breaks up to it are in the figures.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from punchcard.engine import MemberState
from punchcard.engine.engine import duplicate_of
from punchcard.engine.evaluate import evaluate
from punchcard.engine.housekeeping import housekeep
from punchcard.engine.policies.rewards import STOCK_PREFIX, stock_limits
from punchcard.engine.policies.tiers import current_level
from punchcard.engine.program import Compiled
from punchcard.engine.runtime.decision import Decision, Outcome
from punchcard.engine.runtime.events import Event, EventError
from punchcard.engine.store import ProcessedEvent

from .budgets import Use, demand_of
from .members import seed_state
from .referrals import SIDE
from .rows import row_event
from .tally import JUST_BEFORE

__all__ = ["SideRun", "replay_member", "closing_tick", "tick_id", "TRACE_LIMIT"]

TRACE_LIMIT = 200  # decisions kept per member shown in a report
ZERO = Decimal(0)


def tick_id(member: str) -> str:
    return f"until:{member}"[:200]


class SideRun:
    """One ruleset's replay of one member. ``record``: keep every decision, for ``observe``."""

    __slots__ = (
        "budgets",
        "compiled",
        "decisions",
        "events",
        "head",
        "issued",
        "kept",
        "last",
        "last_at",
        "opening",
        "processed",
        "seed_error",
        "side",
        "state",
        "tick",
        "uses",
    )

    def __init__(self, side, record: bool = False):
        self.side, self.compiled, self.budgets = side, side.compiled, side.budgets
        self.state: MemberState | None = None
        self.opening = ZERO
        self.seed_error: str | None = None
        self.processed: dict[str, tuple] = {}  # id -> (event, decision); the digest only matters on a retry
        self.uses: list[Use] = []
        self.kept: list = []  # (decision, line, time counted at, tick?) until the member is counted
        self.issued = ZERO
        self.events = 0
        # the first TRACE_LIMIT (line, decision), ticks included; None: a closing tick not made yet (see shown)
        self.head: list[tuple[int, Decision | None]] = []
        self.last: Decision | None = None
        self.last_at = None
        self.decisions: list | None = [] if record else None  # (line, time, decision); ticks have line 0
        self.tick: tuple | None = None  # (member, state, end) of a closing tick whose decision is not made

    def seed(self, seed, start) -> None:
        if seed is None or start is None:
            return
        try:
            self.state = seed_state(self.compiled, seed, start)
        except ValueError as exc:
            self.seed_error = str(exc)
            return
        self.opening = self.state.total()

    def decide(self, event: Event, at, line: int) -> Decision:
        prior = self.processed.get(event.id)
        if prior is not None:
            first, answer = prior
            # the member's state as the engine's unit would load it: a conflict reports its balance
            decision = duplicate_of(ProcessedEvent(first.id, first.digest, first.body, answer), event,
                                    self.compiled.label, self.state)
        elif self.budgets:
            decision = self._budgeted(event, (at, line))
        else:
            decision, self.state = evaluate(self.compiled, self.state, event, owned=True)
            self.processed[event.id] = (event, decision)
        self.take(decision, line, at)
        return decision

    def refuse(self, raw: dict, at, line: int) -> Decision:
        """An event this ruleset's schema refuses (another ruleset of the run took it)."""
        decision, _ = evaluate(self.compiled, self.state, raw)
        self.take(decision, line, at)
        return decision

    def _budgeted(self, event: Event, key: tuple) -> Decision:
        used = self.side.plan.used(key)
        decision, self.state = evaluate(self.compiled, self.state, event, None, used, owned=True)
        self.processed[event.id] = (event, decision)
        if decision.outcome in (Outcome.APPLIED, Outcome.REVIEW):
            supplied = used or {}
            for rule, (demand, paid) in demand_of(decision, self.budgets).items():
                self.uses.append(Use(key, rule, supplied.get(rule, 0), demand, paid))
        elif decision.outcome == Outcome.REJECTED:  # a reward refused as out of stock depends on the stock too
            for rule, (demand, _paid) in demand_of(decision, self.budgets).items():
                if rule.startswith(STOCK_PREFIX):
                    self.uses.append(Use(key, rule, (used or {}).get(rule, 0), demand, Decimal(0)))
        return decision

    def take(self, decision: Decision, line: int, at) -> None:
        """Count an event's decision; keep it while it is among the member's first."""
        self.kept.append((decision, line, at, False))
        if self.decisions is not None:
            self.decisions.append((line, at, decision))
        if self.events < TRACE_LIMIT:  # ticks come last: until then the head holds every decision
            self.head.append((line, decision))
        self.events += 1
        self.last, self.last_at = decision, at

    def take_tick(self, decision: Decision | None, end, counted: Decision | None = None) -> None:
        """Count the closing tick; its effects belong just before the end instant. ``decision``
        None: the tick is counted as ``counted``, and its decision made if shown."""
        self.kept.append((counted or decision, 0, end - JUST_BEFORE, True))
        if self.decisions is not None:
            self.decisions.append((0, end, decision))
        if len(self.head) < TRACE_LIMIT:
            self.head.append((0, decision))
        self.last, self.last_at = counted or decision, end

    def settle(self, tally) -> None:
        """Count the member's decisions into ``tally``."""
        add, issued = tally.add, self.issued
        for decision, line, at, tick in self.kept:
            issued += add(decision, line, at, tick)
        self.issued, self.kept = issued, []

    def close(self, member: str, end) -> None:
        """The closing tick: housekeeping up to the end instant."""
        state = self.state
        if state is None or end is None:
            return
        local = end.astimezone(self.compiled.tz)
        # housekeeping alone is the tick's decision, except where the tick may choose messages
        if self.decisions is None and state.joined is not None and _in_effect(self.compiled, local) \
                and self.compiled.model.messages is None:
            self._housekeep(member, state, end, local)
            return
        decision, self.state = closing_tick(self.compiled, member, state, end)
        self.take_tick(decision, end)

    def _housekeep(self, member: str, state, end, local) -> None:
        """What the tick does, without making its decision: its effects are housekeeping's (the
        tick itself adds none), and its decision is made only if the member is shown
        (:meth:`shown`), from the state the tick starts from, which nothing changes."""
        self.state = state.clone()
        effects = tuple(housekeep(self.compiled, self.state, local))
        counted = Decision(tick_id(member), member, self.compiled.label, Outcome.APPLIED, effects=effects,
                           event_type="tick", time=local)
        self.tick = (member, state, end)
        self.take_tick(None, end, counted)

    def shown(self) -> list[tuple[int, Decision]]:
        """The first decisions as the report shows them: a closing tick among them is made now."""
        if self.tick is not None and self.head and self.head[-1][1] is None:
            member, state, end = self.tick
            self.head[-1] = (0, closing_tick(self.compiled, member, state, end)[0])
        return [(line, decision) for line, decision in self.head if decision is not None]

    def end_tier(self) -> str | None:
        """The tier the member's last decision reports: after a closing tick, the tier then."""
        if self.tick is not None and self.state is not None:
            level = current_level(self.compiled, self.state)  # what the tick's decision would say
            return level.name if level else None
        last = self.last
        return last.tier.current if last is not None and last.tier else None


def closing_tick(compiled: Compiled, member: str, state: MemberState, end: dt.datetime) -> tuple[Decision, MemberState]:
    """The decision and state of a ``tick`` at ``end``, as ``Engine`` would make them."""
    decision, new_state = evaluate(compiled, state, {"type": "tick", "id": tick_id(member), "member": member,
                                                     "time": end})
    if decision.outcome != Outcome.APPLIED:
        # outside the ruleset's effective dates a tick is refused; housekeeping still runs to the end
        new_state = state.clone()
        local = end.astimezone(compiled.tz)
        effects = tuple(housekeep(compiled, new_state, local))
        decision = Decision(tick_id(member), member, compiled.label, Outcome.APPLIED, effects=effects,
                            event_type="tick", time=local)
    return decision, new_state


def _in_effect(compiled: Compiled, local) -> bool:
    """Would the ruleset take a tick at ``local`` (inside its effective dates)?"""
    effective = compiled.model.effective
    day = local.date()
    return (effective.from_ is None or day >= effective.from_) and (effective.until is None or day <= effective.until)


def replay_member(runs: list[SideRun], member: str, rows, seed, start, end, changes=None) -> None:
    """Every row of ``member`` (sorted by time and line) through every side, then the closing ticks.
    ``changes`` sees each event's decisions of the first two sides."""
    for run in runs:
        if run.compiled.split is not None:  # with variants: the program of the member's variant, and its budgets
            run.compiled = run.compiled.for_member(member)
            run.budgets = {b.rule: b.max_points for b in run.compiled.model.earning.budgets}
            run.budgets |= stock_limits(run.compiled)  # a reward's stock is replayed as a budget
        run.seed(seed, start)
    first, others = runs[0], runs[1:]
    for row in rows:
        event = row_event(row)
        at, line, raw = row[1], row[2], row[6]
        if len(row) > SIDE:  # a referrer's derived event: only the side that derived it decides it
            runs[row[SIDE]].decide(event, at, line)
            continue
        decision = first.decide(event, at, line)
        for run in others:
            answer = run.decide(event, at, line) if raw is None else _own(run, raw, at, line)
            if changes is not None:
                changes.see(line, decision, answer)
    for run in runs:
        run.close(member, end)


def _own(run: SideRun, raw: dict, at, line: int) -> Decision:
    """A side whose schema differs from the first one's reads the raw row itself."""
    try:
        event = run.compiled.schema.parse(raw)
    except EventError:
        return run.refuse(raw, at, line)
    return run.decide(event, at, line)
