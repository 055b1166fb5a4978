"""What one decided event adds to a transaction's writes: its processed row, its
ledger entries and its budget uses. Shared by single events and batches."""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.runtime.decision import Decision
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import ZERO, MemberState

from .jsontext import decision_text
from .postings import EventPostings, post
from .writes import Changes

__all__ = ["record_event", "processed_row", "clipped_by"]


def processed_row(event: Event, decision: Decision) -> dict:
    return {"event_id": event.id, "member_id": event.member, "digest": event.digest, "body": event.body,
            "event_type": event.type, "time": event.time, "ruleset": decision.ruleset,
            "outcome": decision.outcome, "decision": decision_text(decision)}


def record_event(changes: Changes, event: Event, decision: Decision, before: MemberState,
                 after: MemberState | None, uses: dict[str, Decimal], claimed: bool) -> EventPostings:
    """Check the decision's postings against the state change, then gather its rows.
    ``claimed``: the processed row already exists as a claim and is filled in."""
    postings = post(event, decision, before, after)
    row = processed_row(event, decision)
    if claimed:
        changes.claimed.append({**row, "b_event": event.id})
    else:
        changes.processed.append(row)
    changes.entries.extend(postings.entries)
    for rule, points in uses.items():
        changes.budget_uses.append({"rule": rule, "event_id": event.id, "member_id": event.member, "points": points})
        changes.budget_totals[rule] = changes.budget_totals.get(rule, ZERO) + points
    return postings


def clipped_by(decision: Decision, rule: str) -> bool:
    """Whether budget ``rule`` cut this decision's points (its budget effect says so, even
    with nothing used): then they depend on exactly how much of the budget was used when
    it was decided."""
    return any(effect.kind == "budget" and effect.detail.get("rule") == rule and effect.detail.get("clipped") is True
               for effect in decision.effects)
