"""Counting a replayed member into a partial: figures, leaders, budget calls, changes.

With two rulesets, a member *changed* when any of its decisions differs in outcome
or points, or its end balance or tier differ; the members with the largest
differences are kept with their differing decisions as a sample.
"""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.decision import Decision
from punchcard.engine.tiers import current_level

from .partial import Leaders, MemberSummary, Partial
from .tally import JUST_BEFORE, Tally

__all__ = ["account", "new_partial", "compact", "TRACE_LIMIT"]

TRACE_LIMIT = 200  # decisions kept per member shown in a report
_SAMPLE_EVENTS = 5
ZERO = Decimal(0)


def new_partial(index: int, sides) -> Partial:
    return Partial(index, [Tally(sides[0].month_tz) for _ in sides], uses=[[] for _ in sides],
                   leaders=[Leaders() for _ in sides])


def account(partial: Partial, sides, run) -> None:
    for file, line, reason in run.bad:
        partial.bad.add(file, line, reason)
    partial.events += run.events
    issued = []
    for number, (side, side_run) in enumerate(zip(sides, run.sides)):
        issued.append(_side(partial, number, side, run.member, side_run))
    if len(sides) > 1:
        _compare(partial, run.member, run.sides[0], run.sides[1], issued[0], issued[1])


def _side(partial: Partial, number: int, side, member: str, side_run) -> Decimal:
    tally = partial.tallies[number]
    tally.opening += side_run.opening
    issued = ZERO
    for line, at, decision in side_run.decisions:
        # the closing tick's effects belong to the period that ends at the end instant
        issued += tally.add(decision, line, at=at - JUST_BEFORE if not line else at, tick=not line)
    partial.uses[number].extend(side_run.uses)
    state = side_run.state
    if state is not None:
        level = current_level(side.compiled, state)
        end = side_run.decisions[-1][1] if side_run.decisions else state.clock
        tally.close_member(state, end, level.name if level else None)
        _lead(partial.leaders[number], member, side_run, issued, level)
    return issued


def _lead(leaders: Leaders, member: str, side_run, issued: Decimal, level) -> None:
    score = (issued,)
    if not leaders.admits(score, member):
        return
    events = [d.event_id for line, _at, d in side_run.decisions if line]  # ticks have no line
    figures = {"points_issued": issued, "liability_points": side_run.state.total(),
               "tier": level.name if level else None, "events": len(events), "event_ids": events[:TRACE_LIMIT]}
    # decisions stay objects until the report: most members admitted here are pushed out later
    decisions = [(line, d) for line, _at, d in side_run.decisions[:TRACE_LIMIT]]
    leaders.add(MemberSummary(member, score, figures, decisions))


def compact(line: int, decision: Decision, effects: bool = True) -> dict:
    """A decision as the report shows it: the event, the outcome, the points, and its trace."""
    out = {"line": line, "event_id": decision.event_id, "type": decision.event_type,
           "time": decision.time.isoformat() if decision.time else None, "outcome": decision.outcome,
           "points": decision.points, "balance": decision.balance, "reason": decision.reason,
           "tier": decision.tier.current if decision.tier else None, "fired": decision.fired()}
    if effects:
        out["effects"] = [e.to_json() for e in decision.effects]
    out["trace"] = [s.to_json() for s in decision.trace]
    return out


def _end(side_run) -> tuple:
    if side_run.state is None:
        return (ZERO, None)
    last = side_run.decisions[-1][2] if side_run.decisions else None
    return (side_run.state.total(), last.tier.current if last is not None and last.tier else None)


def _compare(partial: Partial, member: str, new, old, new_issued: Decimal, old_issued: Decimal) -> None:
    pairs = zip(new.decisions, old.decisions)
    differing = [(n, o) for n, o in pairs if n[2].outcome != o[2].outcome or n[2].points != o[2].points]
    end_new, end_old = _end(new), _end(old)
    if not differing and end_new == end_old:
        return
    counts = partial.changed_count
    counts["members"] += 1
    counts["points"] += any(n[2].points != o[2].points for n, o in differing) or end_new[0] != end_old[0]
    counts["outcome"] += any(n[2].outcome != o[2].outcome for n, o in differing)
    counts["tier"] += end_new[1] != end_old[1]
    score = (abs(new_issued - old_issued), abs(end_new[0] - end_old[0]))
    if partial.changed.admits(score, member):
        figures = {"points_issued": {"new": new_issued, "old": old_issued, "diff": new_issued - old_issued},
                   "liability_points": {"new": end_new[0], "old": end_old[0], "diff": end_new[0] - end_old[0]},
                   "tier": {"new": end_new[1], "old": end_old[1]}, "events_changed": len(differing)}
        sample = [((n[0], n[2]), (o[0], o[2])) for n, o in differing[:_SAMPLE_EVENTS]]
        partial.changed.add(MemberSummary(member, score, figures, sample))
