"""What one decided event adds to a transaction's writes: its processed row, its
ledger entries, its budget uses and the messages it chose (the outbox). Shared by
single events and batches, so a message is committed with its decision on both."""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine.runtime.decision import Decision
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import ZERO, MemberState
from punchcard.engine.store import OutboxRow, outbox_rows

from .jsontext import decision_text
from .postings import EventPostings, post
from .writes import Changes

__all__ = ["record_event", "processed_row", "outbox_row", "clipped_by"]


def processed_row(event: Event, decision: Decision) -> dict:
    return {"event_id": event.id, "member_id": event.member, "digest": event.digest, "body": event.body,
            "event_type": event.type, "time": event.time, "ruleset": decision.ruleset,
            "outcome": decision.outcome, "decision": decision_text(decision)}


def record_event(changes: Changes, event: Event, decision: Decision, before: MemberState,
                 after: MemberState | None, uses: dict[str, Decimal], claimed: bool,
                 webhooks: bool = False) -> EventPostings:
    """Check the decision's postings against the state change, then gather its rows.
    ``claimed``: the processed row already exists as a claim and is filled in; ``webhooks``:
    the store queues notable effects for the webhook dispatcher (:func:`outbox_rows`)."""
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
    changes.outbox.extend(outbox_row(row) for row in outbox_rows(decision, webhooks))
    return postings


def outbox_row(row: OutboxRow) -> dict:
    """An outbox row as the insert takes it: every column given, so the statement is the same for all."""
    return {"id": row.id, "member_id": row.member_id, "event_id": row.event_id, "ruleset": row.ruleset,
            "channel": row.channel, "send_at": row.send_at, "request": row.request, "status": row.status,
            "attempts": row.attempts, "lease_until": None, "lease_owner": None, "composed": None, "sent_at": None,
            "receipt": None, "last_error": None, "failed_at": None}


def clipped_by(decision: Decision, rule: str) -> bool:
    """Whether budget ``rule`` cut this decision's points (its budget effect says so, even
    with nothing used): then they depend on exactly how much of the budget was used when
    it was decided."""
    return any(effect.kind == "budget" and effect.detail.get("rule") == rule and effect.detail.get("clipped") is True
               for effect in decision.effects)
