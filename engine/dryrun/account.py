"""Counting a replayed member into a partial: its end position, leaders, budget calls, changes.

A member's decisions are counted into the partial's tally (:mod:`.member`), and
with them its end position (liability, pending points, tier, lifetime counters),
its place among the leaders, and with two rulesets whether it *changed*: any of
its decisions differs in outcome or points, or its end balance or tier differ. The
members with the largest differences are kept with their differing decisions as a
sample. With variants, the member is counted in its variant's row too, on each side
(the program it ran is its variant's, see :mod:`.member`). The member's segment is read
in one place, :func:`member_segment`.
"""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.policies.tiers import current_level
from punchcard.engine.runtime.decision import Decision

from .change import member_net
from .member import TRACE_LIMIT
from .partial import Leaders, MemberSummary, Partial
from .tally import Tally

__all__ = ["account_member", "new_partial", "compact", "Changes", "TRACE_LIMIT", "member_segment", "highest_tier"]

_SAMPLE_EVENTS = 5
ZERO = Decimal(0)


def new_partial(index: int, sides) -> Partial:
    return Partial(index, [Tally(sides[0].month_tz) for _ in sides], uses=[[] for _ in sides],
                   leaders=[Leaders() for _ in sides])


class Changes:
    """The events whose decisions differ between the new ruleset and the old, for one member."""

    __slots__ = ("count", "outcome", "points", "sample")

    def __init__(self) -> None:
        self.count, self.points, self.outcome = 0, False, False
        # ((line, new decision), (line, old decision)) of the first differing events
        self.sample: list[tuple[tuple[int, Decision], tuple[int, Decision]]] = []

    def see(self, line: int, new: Decision, old: Decision) -> None:
        points, outcome = new.points != old.points, new.outcome != old.outcome
        if points or outcome:
            self.count += 1
            self.points |= points
            self.outcome |= outcome
            if len(self.sample) < _SAMPLE_EVENTS:
                self.sample.append(((line, new), (line, old)))


def account_member(partial: Partial, member: str, runs, bad: list, changes: Changes | None) -> None:
    for file, line, reason, group in bad:
        partial.bad.add(file, line, reason, group)
    partial.events += runs[0].events if runs else 0
    tier = highest_tier(runs[1]) if changes is not None else None  # before its decisions are counted and dropped
    for number, run in enumerate(runs):
        _side(partial, number, member, run)
    if changes is not None:
        _share(partial, runs, tier)
        _compare(partial, member, runs[0], runs[1], changes)


def _share(partial: Partial, runs, tier: str | None) -> None:
    """The member's share of the cost of the change, by its tier (:func:`highest_tier`), its segment
    (:func:`member_segment`) and, on each side with variants, that side's variant of the member."""
    new, old = runs[0], runs[1]
    delta = member_net(new.state) - member_net(old.state)
    partial.tallies[0].change.add(delta, tier, member_segment(new.state if new.state is not None else old.state))
    for tally, run in zip(partial.tallies, runs[:2], strict=True):
        if run.compiled.variant is not None:
            tally.variant_change(run.compiled.variant, delta)


def member_segment(state) -> str | None:
    """The segment the report groups a member by: its ``segment`` profile field (from ``--members``
    or ``profile`` events), None when it has none. The one place a segment is read, so a segment
    computed from the member's behaviour (RFM) can take the field's place here."""
    segment = state.profile.get("segment") if state is not None else None
    return None if segment is None else str(segment)


def highest_tier(run) -> str | None:
    """The highest tier the member held in the replay, read from its decisions before they are counted:
    where the member stood, even when a later window (or a long ``--until``) took it back down."""
    tiers = run.compiled.model.tiers
    if tiers is None or run.state is None:
        return None
    rank = {level.name: index for index, level in enumerate(tiers.levels)}
    best = 0
    for decision, *_ in run.kept:
        held = decision.tier
        if held is not None and rank.get(held.current, 0) > best:
            best = rank[held.current]
    return tiers.levels[best].name


def _side(partial: Partial, number: int, member: str, run) -> None:
    tally = partial.tallies[number]
    tally.opening += run.opening
    run.settle(tally)
    partial.uses[number].extend(run.uses)
    state = run.state
    if state is not None:
        level = current_level(run.compiled, state)
        tally.close_member(state, run.last_at if run.last is not None else state.clock, level.name if level else None)
        if run.compiled.variant is not None:  # the program of the member's variant ran it (.member)
            tally.variant_member(run.compiled.variant, run.issued, member_net(state))
        _lead(partial.leaders[number], member, run, level)


def _lead(leaders: Leaders, member: str, run, level) -> None:
    score = (run.issued,)
    if not leaders.admits(score, member):
        return
    figures = {"points_issued": run.issued, "liability_points": run.state.total(),
               "tier": level.name if level else None, "events": run.events,
               "event_ids": [decision.event_id for line, decision in run.head if line]}  # ticks have no line
    # decisions stay objects until the report: most members admitted here are pushed out later
    leaders.add(MemberSummary(member, score, figures, list(run.shown())))


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


def _end(run) -> tuple:
    return (ZERO, None) if run.state is None else (run.state.total(), run.end_tier())


def _compare(partial: Partial, member: str, new, old, changes: Changes) -> None:
    end_new, end_old = _end(new), _end(old)
    if not changes.count and end_new == end_old:
        return
    counts = partial.changed_count
    counts["members"] += 1
    counts["points"] += changes.points or end_new[0] != end_old[0]
    counts["outcome"] += changes.outcome
    counts["tier"] += end_new[1] != end_old[1]
    score = (abs(new.issued - old.issued), abs(end_new[0] - end_old[0]))
    if partial.changed.admits(score, member):
        figures = {"points_issued": {"new": new.issued, "old": old.issued, "diff": new.issued - old.issued},
                   "liability_points": {"new": end_new[0], "old": end_old[0], "diff": end_new[0] - end_old[0]},
                   "tier": {"new": end_new[1], "old": end_old[1]}, "events_changed": changes.count}
        partial.changed.add(MemberSummary(member, score, figures, changes.sample))
