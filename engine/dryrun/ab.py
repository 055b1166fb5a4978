"""``punchcard ab report``: what each variant of a ruleset did, per member, and whether the
difference is more than chance.

History is replayed through the ruleset as the engine decides it (or read from a store, where
the engine has already decided it: :func:`figures_of`, or from the decisions a dry-run wrote:
:func:`decision_figures`), each member in their own
variant (:meth:`Compiled.for_member`), events in (time, line) order, a repeated id answered
once. Per member the replay keeps the variant its decisions are stamped with and three
figures:

- ``spend``: the amounts of the member's applied orders (events with a money ``amount``),
  less what refunds took back;
- ``visits``: the member's applied orders;
- ``points``: the points cost, points earned less points clawed back or voided.

The report (schema ``punchcard.ab/1``) gives per variant the members, each figure's mean per
member, and against the control (the first variant, or the one named) the difference and the
uplift with 95% intervals, and the sample-ratio-mismatch test (:mod:`.ab_stats`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from punchcard.engine.evaluate import evaluate
from punchcard.engine.program import Compiled
from punchcard.engine.runtime.decision import Decision, Outcome
from punchcard.engine.runtime.state import MemberState

from .ab_stats import Moments, decimal, srm, uplift, welch
from .formats import RowError, read_rows
from .members import read_seeds
from .partial import BadRows
from .rows import accepted_rows, row_time

__all__ = ["MemberFigures", "FIGURES", "replay_figures", "figures_of", "decision_figures", "ab_report", "SCHEMA"]

SCHEMA = "punchcard.ab/1"
FIGURES = ("spend", "visits", "points")
_COST_KINDS = ("earn", "clawback", "void")  # points given out, less points taken back
_KEPT = (Outcome.APPLIED, Outcome.REVIEW)


@dataclass
class MemberFigures:
    member: str
    variant: str | None = None
    spend: Decimal = Decimal(0)
    visits: int = 0
    points: Decimal = Decimal(0)

    def add(self, compiled: Compiled, decision: Decision, fields: dict[str, Any]) -> None:
        """Count one decision of this member, whose event carried ``fields``."""
        cost = sum((e.points or Decimal(0) for e in decision.effects if e.kind in _COST_KINDS), Decimal(0))
        self.count(compiled, decision.variant, decision.outcome, decision.event_type, fields.get("amount"), cost)

    def count(self, compiled: Compiled, variant: str | None, outcome: str, event_type: str | None,
              amount: object, cost: Decimal) -> None:
        """Count one decision: its variant stamp, outcome and event type, its event's amount, and
        the points it gave out less those it took back (``cost``)."""
        self.variant = variant or self.variant
        if outcome not in _KEPT:
            return
        plan = compiled.plans.get(event_type or "")
        if plan is not None and plan.is_order and isinstance(amount, Decimal):
            self.spend += amount
            self.visits += 1
        elif event_type == "refund" and isinstance(amount, Decimal):
            self.spend -= amount
        self.points += cost


def replay_figures(compiled: Compiled, events: Path, bad: BadRows, members: Path | None = None) -> list[MemberFigures]:
    """Every member of ``events`` replayed through ``compiled``; bad rows counted into ``bad``.
    ``members`` (a ``--members`` file) names the members assigned: those without an event count
    too, with nothing spent, in the variant their id gives them. Without it, only the members
    the history shows are counted, which leans toward whichever variant brings more back."""
    rows: dict[str, list[tuple[Any, int, dict[str, Any]]]] = defaultdict(list)
    for line, row in accepted_rows(events, compiled, bad):
        rows[str(row["member"])].append((row_time(row, compiled), line, row))
    for line, seed in read_seeds(members) if members is not None else ():
        if isinstance(seed, RowError):
            bad.add("members", line, seed.reason, seed.group)
        else:
            rows.setdefault(seed.member, [])
    return [_member(compiled, member, sorted(rows[member], key=lambda r: (r[0], r[1]))) for member in sorted(rows)]


def _member(compiled: Compiled, member: str, rows: list[tuple[Any, int, dict[str, Any]]]) -> MemberFigures:
    split = compiled.split
    figures = MemberFigures(member, split.variant_of(member) if split is not None else None)
    state: MemberState | None = None
    seen: set[str] = set()
    for _time, _line, row in rows:
        event = compiled.schema.parse(row)  # accepted by this schema, which every variant shares
        if event.id in seen:  # a retry: the engine answers it as a duplicate, changing nothing
            continue
        seen.add(event.id)
        decision, state = evaluate(compiled, state, event, owned=True, trace=False)
        figures.add(compiled, decision, event.fields)
    return figures


def figures_of(compiled: Compiled, history: Iterable[tuple[Mapping[str, Any], Decision]]) -> list[MemberFigures]:
    """Per-member figures from decisions already made, as a store keeps them: (event body,
    decision) pairs, each decision stamped with the variant it was made in."""
    split, members = compiled.split, {}
    for body, decision in history:
        member = decision.member_id
        if member not in members:
            members[member] = MemberFigures(member, split.variant_of(member) if split is not None else None)
        amount = body.get("amount")  # a stored body holds its numbers as exact text
        members[member].add(compiled, decision, {} if amount is None else {"amount": Decimal(str(amount))})
    return [members[m] for m in sorted(members)]


def decision_figures(compiled: Compiled, decisions: Path, bad: BadRows,
                     members: Path | None = None) -> list[MemberFigures]:
    """Per-member figures from a dry-run's decisions file (``dry-run --decisions``): each line a
    decision with its variant stamp, effects and its event's ``amount``. A line that is not such
    a decision is a bad row; ``members`` names members without a decision, as in :func:`replay_figures`."""
    split, found = compiled.split, {}
    for line, row in read_rows(decisions):
        counted = row.reason if isinstance(row, RowError) else _decision_row(row)
        if isinstance(counted, str):
            bad.add("decisions", line, counted, row.group if isinstance(row, RowError) else counted)
            continue
        member, variant, outcome, event_type, amount, cost = counted
        if member not in found:
            found[member] = MemberFigures(member, split.variant_of(member) if split is not None else None)
        found[member].count(compiled, variant, outcome, event_type, amount, cost)
    for line, seed in read_seeds(members) if members is not None else ():
        if isinstance(seed, RowError):
            bad.add("members", line, seed.reason, seed.group)
        elif seed.member not in found:
            found[seed.member] = MemberFigures(seed.member, split.variant_of(seed.member) if split else None)
    return [found[m] for m in sorted(found)]


def _decision_row(row: dict[str, Any]) -> tuple[str, str | None, str, str | None, Decimal | None, Decimal] | str:
    """(member, variant, outcome, event type, amount, cost) of one decision line, or why it is not one."""
    member, outcome, effects = row.get("member_id"), row.get("outcome"), row.get("effects", [])
    event = row.get("event", {})
    if not isinstance(member, str) or not isinstance(outcome, str) or not isinstance(effects, list) \
            or not isinstance(event, dict):
        return "not a decision of dry-run --decisions (member_id, outcome, effects, event)"
    try:
        amount = None if event.get("amount") is None else Decimal(str(event["amount"]))
        cost = sum((Decimal(str(e.get("points") or 0)) for e in effects
                    if isinstance(e, dict) and e.get("kind") in _COST_KINDS), Decimal(0))
    except ArithmeticError:
        return "a decision's amount or points is not a number"
    variant, event_type = row.get("variant"), row.get("event_type")
    return (member, variant if isinstance(variant, str) else None, outcome,
            event_type if isinstance(event_type, str) else None, amount, cost)


def ab_report(compiled: Compiled, members: list[MemberFigures], control: str | None = None,
              source: str = "") -> dict[str, Any]:
    """The A/B report of ``members`` (figures per member) under ``compiled``'s variants."""
    split = compiled.split
    if split is None:
        raise ValueError(f"{compiled.label} has no variants: there is nothing to compare")
    names = [name for name, _share in split.shares]
    control = control or names[0]
    if control not in names:
        raise ValueError(f"unknown variant {control!r}; the variants are {', '.join(names)}")
    moments = {name: {f: Moments.of([_figure(m, f) for m in members if m.variant == name]) for f in FIGURES}
               for name in names}
    counts = [moments[name]["visits"].n for name in names]
    return {
        "schema": SCHEMA, "ruleset": compiled.label, "source": source, "salt": split.salt, "control": control,
        "interval": {"level": "0.95", "difference": "Welch (normal approximation)",
                     "uplift": "delta method on the log of the ratio of means"},
        "members": sum(counts), "unassigned": sum(1 for m in members if m.variant not in names),
        "variants": [_variant_row(name, share, moments[name], sum(counts)) for name, share in split.shares],
        "uplift": [_uplift_row(name, f, moments[control][f], moments[name][f])
                   for name in names if name != control for f in FIGURES],
        "srm": srm(counts, [share for _name, share in split.shares]),
    }


def _figure(member: MemberFigures, figure: str) -> Decimal:
    return Decimal(member.visits) if figure == "visits" else getattr(member, figure)


def _variant_row(name: str, share: Decimal, figures: dict[str, Moments], total: int) -> dict[str, Any]:
    n = figures["visits"].n
    row: dict[str, Any] = {"variant": name, "share": share, "members": n,
                           "expected_members": decimal(total * float(share) / 100, 1)}
    for figure, moments in figures.items():
        row[f"{figure}_total"] = moments.total
        row[f"{figure}_per_member"] = decimal(moments.mean, 4)
        row[f"{figure}_sd"] = decimal(None if moments.variance is None else moments.variance ** 0.5, 4)
    return row


def _uplift_row(name: str, figure: str, control: Moments, variant: Moments) -> dict[str, Any]:
    diff, rel = welch(control, variant), uplift(control, variant)
    return {"variant": name, "figure": figure, "control_mean": decimal(control.mean, 4),
            "variant_mean": decimal(variant.mean, 4), "difference": decimal(diff.estimate, 4),
            "difference_low": decimal(diff.low, 4), "difference_high": decimal(diff.high, 4),
            "uplift": decimal(rel.estimate, 4), "uplift_low": decimal(rel.low, 4),
            "uplift_high": decimal(rel.high, 4)}
