"""From a decision's effects to append-only ledger entries, checked against the state.

Each posting effect becomes one entry that says how it moved the member's balance
(``points``), the lot's remaining points (``lot_points``) and the negative balance
(``debt_points``). Before anything is written the entries must explain the state
change exactly; if they do not, the event is refused rather than stored with a
ledger that cannot account for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from punchcard.engine.runtime.decision import Decision, Effect
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import ZERO, Lot, MemberState
from punchcard.engine.store import Refused

from .jsontext import jsonable_text

__all__ = ["LedgerMismatch", "EventPostings", "post", "LOT_FIELD"]

# Which lot field the points of a posting go to (or come back from, for "reverse").
LOT_FIELD = {"redeem": "spent", "reverse": "spent", "clawback": "clawed", "adjust": "clawed",
             "expire": "expired", "void": "voided", "debt_repaid": "repaid", "converted": "spent"}
_BALANCE = {"earn", "redeem", "reverse", "clawback", "adjust", "expire", "void", "converted"}
_DEBT = {"debt_repaid", "negative_balance"}


class LedgerMismatch(Refused):
    """The effects of a decision do not explain its state change; nothing of it is
    stored, and the engine stores the event as rejected instead."""


@dataclass
class EventPostings:
    entries: list[dict] = field(default_factory=list)
    dropped: dict[str, Lot] = field(default_factory=dict)  # lots housekeeping forgot, as they ended


def _amounts(effect: Effect) -> tuple[Decimal, Decimal | None, Decimal] | None:
    """(points, lot_points, debt_points) of a posting effect, or None for other effects."""
    if effect.kind not in _BALANCE and effect.kind not in _DEBT:
        return None
    points = effect.points
    if points is None:  # an effect that moves points always says how many
        raise LedgerMismatch(f"a {effect.kind} effect without points")
    if effect.kind == "debt_repaid":  # the new lot pays off debt: balance unchanged
        return ZERO, -points, -points
    if effect.kind == "negative_balance":
        return points, None, -points
    return points, points, ZERO


def post(event: Event, decision: Decision, before: MemberState, after: MemberState | None) -> EventPostings:
    """The entries for one decided event, with ``before`` the state it was evaluated on."""
    result = EventPostings()
    balance = before.total()
    for effect in decision.effects:
        amounts = _amounts(effect)
        if amounts is None:
            continue
        points, lot_points, debt_points = amounts
        detail = jsonable_text(effect.detail)  # as the decision shows it: for people, never read back
        result.entries.append({
            "member_id": decision.member_id, "event_id": event.id, "ruleset": decision.ruleset,
            "kind": effect.kind, "points": points, "lot_id": effect.lot, "lot_points": lot_points,
            "debt_points": debt_points, "balance_before": balance, "balance_after": balance + points,
            "time": event.time, "detail": detail})
        balance += points
    _check(result, before, after if after is not None else before, balance)
    return result


def _check(result: EventPostings, before: MemberState, after: MemberState, balance: Decimal) -> None:
    where = f"event {result.entries[0]['event_id']}" if result.entries else "event"
    if balance != after.total():
        raise LedgerMismatch(f"{where}: entries move the balance to {balance}, the state says {after.total()}")
    debt = before.debt + sum((e["debt_points"] for e in result.entries), ZERO)
    if debt != after.debt:
        raise LedgerMismatch(f"{where}: entries move the negative balance to {debt}, the state says {after.debt}")
    _check_lots(result, before, after, where)


def _check_lots(result: EventPostings, before: MemberState, after: MemberState, where: str) -> None:
    old = {lot.id: lot for lot in before.lots}
    new = {lot.id: lot for lot in after.lots}
    if len(new) != len(after.lots):  # the ledger keys a lot by its id: a second one would vanish
        raise LedgerMismatch(f"{where}: the member would hold two lots with one id")
    moves: dict[str, Decimal] = {}
    for entry in result.entries:
        if entry["lot_id"] is not None:
            moves[entry["lot_id"]] = moves.get(entry["lot_id"], ZERO) + entry["lot_points"]
    for lot_id in old.keys() - new.keys():
        result.dropped[lot_id] = _replay(old[lot_id], result.entries)
    # a lot the event did not touch is the same object before and after: nothing to explain
    touched = [i for i in (*old, *new) if old.get(i) is not new.get(i)]
    for lot_id in dict.fromkeys([*moves, *touched]):  # in a fixed order: the first mismatch is named
        if lot_id not in new and lot_id not in old:
            raise LedgerMismatch(f"{where}: an entry touches lot {lot_id}, which the member does not have")
        start = old[lot_id].remaining if lot_id in old else ZERO
        end = new[lot_id].remaining if lot_id in new else result.dropped[lot_id].remaining
        if start + moves.get(lot_id, ZERO) != end:
            raise LedgerMismatch(f"{where}: lot {lot_id} has {end} points left; entries explain "
                                 f"{start + moves.get(lot_id, ZERO)}")


def _replay(lot: Lot, entries: list[dict]) -> Lot:
    """A lot housekeeping dropped in this event, with this event's postings applied:
    how it ended, for the row that keeps accounting for it."""
    for entry in entries:
        if entry["lot_id"] != lot.id or entry["kind"] not in LOT_FIELD:
            continue
        name, moved = LOT_FIELD[entry["kind"]], entry["lot_points"]
        lot = lot.with_(remaining=lot.remaining + moved, **{name: getattr(lot, name) - moved})
    return lot
