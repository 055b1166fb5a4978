"""The ``dryrun`` cell: a case's events through the dry-run's own replay, and what it must equal.

The events become the dry-run's rows (validated by the event schema, as it reads them),
one partition is replayed member by member in time order, and budget passes run until
exact (:func:`~punchcard.engine.dryrun.passes.run_passes`), with no closing tick: the last
state is the member after the last event. What it must equal is the reference run,
with two differences the dry-run makes by design (docs/dry-run.md):

- it replays a member's history in time order, so a case that sends an event before an
  earlier one is compared with the engine fed the same events in (time, line) order;
- a row the schema refuses is a bad row, reported with its reason, with no decision: the
  reference's ``rejected`` decision for it is compared on its outcome and reason only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.dryrun.budgets import Plan
from punchcard.engine.dryrun.passes import observed, run_passes
from punchcard.engine.dryrun.replay import Job
from punchcard.engine.dryrun.rows import event_row
from punchcard.engine.policies.rewards import stock_limits
from punchcard.engine.runtime.decision import Decision, Outcome
from punchcard.engine.runtime.events import EventError
from punchcard.engine.testing import CaseResult, case_events, case_member, case_program, judge_case, state_json

__all__ = ["DryRunSide", "DryRunResult", "replay_case", "dry_run_reference", "in_time_order", "BAD_ROW_KEYS"]

BAD_ROW_KEYS = ("event_id", "member_id", "outcome", "reason")  # what the dry-run tells of a bad row


@dataclass(frozen=True)
class DryRunSide:
    """What the dry-run's replay needs of a ruleset, holding an already compiled one (the
    dry-run's own :class:`~punchcard.engine.dryrun.sides.Side` compiles from a path with the
    generated code on; this lets the plain evaluator take part too)."""

    compiled: object
    plan: Plan = field(default_factory=Plan)

    @property
    def budgets(self) -> dict[str, Decimal]:
        return {b.rule: b.max_points for b in self.compiled.model.earning.budgets} | stock_limits(self.compiled)

    @property
    def month_tz(self) -> ZoneInfo:
        return self.compiled.tz

    def with_plan(self, plan: Plan) -> DryRunSide:
        return dataclasses.replace(self, plan=plan)


@dataclass
class DryRunResult(CaseResult):
    replay_order: tuple[int, ...] = ()  # positions of the kept rows, in the order replayed
    bad_rows: tuple[int, ...] = ()  # positions of the rows the schema refused


def replay_case(compiled, test) -> DryRunResult:
    """One test through the dry-run's replay, judged on the case's ``expect``s."""
    compiled = case_program(compiled, test)
    events = case_events(compiled, test)
    rows, bad = [], {}
    for line, raw in enumerate(events, start=1):
        try:
            rows.append(event_row(compiled.schema.parse(raw), line))
        except EventError as exc:
            bad[line - 1] = Decision(str(raw.get("id")), str(raw.get("member")), compiled.label, Outcome.REJECTED,
                                     reason="; ".join(exc.problems), event_type=raw.get("type"))
    seen: dict = {}
    sides = (DryRunSide(compiled),)
    run_passes([Job(0, None, sides, None, None, rows=tuple(rows))], sides, observed(seen.__setitem__, _Quiet()),
               _Quiet(), None, len(rows), inline=True)
    made = {line - 1: d for run in seen.values() for line, _at, d in run.sides[0].decisions if line}
    decisions = [made.get(i) or bad.get(i) or _missing(compiled, raw) for i, raw in enumerate(events)]
    member = seen.get(case_member(test))
    result = judge_case(compiled, test, decisions, member.sides[0].state if member else None)
    result.decisions = _told(result.decisions, bad)
    order = tuple(row[2] - 1 for row in sorted(rows, key=lambda row: (row[1], row[2])))
    return DryRunResult(**vars(result), replay_order=order, bad_rows=tuple(sorted(bad)))


def in_time_order(dry: DryRunResult) -> bool:
    """Did the case send its events in time order (so the dry-run replayed them as sent)? Only
    then do the case's own ``expect``s, written for the order sent, apply to the dry-run."""
    return list(dry.replay_order) == sorted(dry.replay_order)


def dry_run_reference(compiled, test, reference: CaseResult, dry: DryRunResult) -> CaseResult:
    """What ``dry`` must equal: ``reference`` (``compiled`` is its ruleset), or when the case's
    events are not in time order the engine fed them in (time, line) order; bad rows told only
    as the dry-run tells them."""
    if not in_time_order(dry):
        reference = _in_time_order(compiled, test, dry.replay_order, dry.bad_rows)
    return dataclasses.replace(reference, decisions=_told(reference.decisions, dry.bad_rows), states=None)


def _told(decisions: list[dict], bad) -> list[dict]:
    """The decisions, each of a bad row cut to what the dry-run tells of it."""
    return [{k: d.get(k) for k in BAD_ROW_KEYS} if i in bad else d for i, d in enumerate(decisions)]


def _in_time_order(compiled, test, order: tuple[int, ...], bad: tuple[int, ...]) -> CaseResult:
    """The case through the engine on a new memory store, its events sent in ``order`` (the
    refused ones last: they change nothing), its decisions put back in the case's order."""
    compiled = case_program(compiled, test)
    events = case_events(compiled, test)
    engine = Engine(compiled, MemoryStore(), trace=True)
    made = {position: engine.process(events[position]) for position in (*order, *bad)}
    member = engine.member(case_member(test))
    return CaseResult(compiled.label, test.name, decisions=[made[i].to_dict() for i in range(len(events))],
                      state=state_json(member))


def _missing(compiled, raw: dict) -> Decision:
    """An event the replay made no decision for: it cannot match the reference's decision."""
    return Decision(str(raw.get("id")), str(raw.get("member")), compiled.label, "not replayed",
                    reason="the dry-run made no decision for this event", event_type=raw.get("type"))


class _Quiet:
    """The dry-run's progress display, with nothing to display to."""

    def phase(self, name, total) -> None:
        pass

    def advance(self, amount) -> None:
        pass
