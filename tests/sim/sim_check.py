"""After a history: the store must hold exactly the oracle's ledger.

Per member: balance, negative balance and every live lot (amount, remaining, and where
its points went) equal the oracle's; every lot the oracle still holds points in is in
the store. On a SQL store, also: every ledger entry (event, kind, lot, change to the lot
and to the negative balance) equals the oracle's postings, as a multiset per member;
every lot row equals the oracle's lot; each event's stored outcome is the one the
oracle expects; and ``punchcard audit`` finds no difference.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sim_history import History

__all__ = ["Mismatch", "check_store", "in_steps"]


class Mismatch(AssertionError):
    pass


def in_steps(value, places: int) -> int:
    """Stored points as an integer count of the step 10**-places; anything finer is a mismatch."""
    sign, digits, exponent = Decimal(value).as_tuple()  # exactly, in integers: no context rounds it
    number, shift = int("".join(map(str, digits)) or "0"), exponent + places
    if shift < 0:
        number, rest = divmod(number, 10 ** -shift)
        if rest:
            raise Mismatch(f"{value} is not a whole number of steps of 1E-{places}")
    else:
        number *= 10 ** shift
    return -number if sign else number


def _lot_view(lot, places: int) -> tuple:
    return (*(in_steps(getattr(lot, name), places) for name in
              ("amount", "remaining", "spent", "expired", "clawed", "repaid", "voided")), lot.expires_at)


def _oracle_lot(lot) -> tuple:
    return (lot.amount, lot.remaining, lot.spent, lot.expired, lot.clawed, lot.repaid, 0, lot.expires_at)


def check_store(store, history: History, decisions: dict) -> None:
    """Raise :class:`Mismatch` naming the first difference. ``decisions``: the first decision
    (memory) or outcome (SQL, from the workers' logs) each event of the history got, by index."""
    problems: list[str] = []
    for member in history.members:
        _check_member(store, history, member, problems)
    if hasattr(store, "audit"):
        _check_sql(store, history, problems)
        _check_retries(history, decisions, problems)
    else:
        _check_decisions(history, decisions, problems)
    if problems:
        raise Mismatch(f"{len(problems)} difference(s): " + "; ".join(problems[:12]))


def _check_member(store, history: History, member: str, problems: list[str]) -> None:
    places = history.units.point_places
    want = history.oracle.members.get(member)
    state = store.member(member)
    if want is None or state is None:
        if (want is None) != (state is None) and not (state is not None and not state.lots):
            problems.append(f"{member}: exists in one of store and oracle only")
        return
    total = in_steps(state.total(), places)
    if total != want.total() or in_steps(state.debt, places) != want.debt:
        problems.append(f"{member}: balance {total} debt {state.debt}, oracle {want.total()} debt {want.debt}")
    held = {lot.id: lot for lot in state.lots}
    for lot_id, lot in want.lots.items():
        if lot.remaining and lot_id not in held:
            problems.append(f"{member}: lot {lot_id} with {lot.remaining} is missing")
    for lot_id, lot in held.items():
        expected = want.lots.get(lot_id)
        if expected is None or _lot_view(lot, places) != _oracle_lot(expected):
            problems.append(f"{member}: lot {lot_id} {_lot_view(lot, places)} != oracle "
                            f"{_oracle_lot(expected) if expected else None}")


def _expected_postings(history: History) -> Counter:
    postings = Counter()
    for event in history.events:
        for p in event.expected.postings:
            postings[(event.raw["member"], event.raw["id"], p.kind, p.lot, p.lot_points, p.debt_points)] += 1
    return postings


def _check_sql(store, history: History, problems: list[str]) -> None:
    places = history.units.point_places
    from sqlalchemy import select

    from punchcard.plugins.sql.models import LedgerEntry, LotRow, ProcessedEventRow

    with store.read() as conn, conn.begin():
        entries = conn.execute(select(LedgerEntry.member_id, LedgerEntry.event_id, LedgerEntry.kind,
                                      LedgerEntry.lot_id, LedgerEntry.lot_points, LedgerEntry.debt_points)).all()
        lots = conn.execute(select(LotRow.__table__)).all()
        outcomes = dict(conn.execute(select(ProcessedEventRow.event_id, ProcessedEventRow.outcome)).all())
    got = Counter((m, e, k, lot, in_steps(lp or 0, places), in_steps(dp, places)) for m, e, k, lot, lp, dp in entries)
    want = _expected_postings(history)
    for key in sorted((got - want) + (want - got), key=str)[:6]:
        problems.append(f"ledger entry {key}: store has {got[key]}, oracle {want[key]}")
    for row in lots:
        expected = history.oracle.members[row.member_id].lots.get(row.lot_id)
        if expected is None or _lot_view(row, places) != _oracle_lot(expected):
            problems.append(f"lot row {row.member_id}/{row.lot_id} {_lot_view(row, places)} != oracle "
                            f"{_oracle_lot(expected) if expected else None}")
    _check_outcomes(history, outcomes, problems)
    report = store.audit()
    if not report.ok:
        problems.append(f"audit: {report}")


def _check_outcomes(history: History, outcomes: dict, problems: list[str]) -> None:
    for event in history.events:
        if event.expected.outcome == "duplicate":
            continue
        if event.expected.why == "conflict":
            continue  # the first body's outcome is what the store keeps under this id
        got = outcomes.get(event.raw["id"])
        if got != event.expected.outcome and not (got is None and event.expected.outcome == "rejected"):
            problems.append(f"event {event.raw['id']}: stored {got}, oracle {event.expected.outcome}")


def _check_decisions(history: History, decisions: dict, problems: list[str]) -> None:
    places = history.units.point_places
    for index, event in enumerate(history.events):
        decision, expected = decisions.get(index), event.expected
        if decision is None:
            problems.append(f"event {event.raw['id']}: no decision")
            continue
        if decision.outcome != expected.outcome or (
                decision.outcome == "applied" and in_steps(decision.points, places) != expected.points):
            problems.append(f"event {event.raw['id']}: {decision.outcome} {decision.points} ({decision.reason}), "
                            f"oracle {expected.outcome} {expected.points} {expected.why}")
        if decision.outcome == "applied" and expected.outcome == "applied":
            _check_effects(event, decision, problems, places)


def _check_retries(history: History, outcomes: dict, problems: list[str]) -> None:
    """A retry is a duplicate and another body under a used id a rejection, whoever sent it.
    (Other events may come back as duplicates: a worker that was killed sends them again.)"""
    for index, event in enumerate(history.events):
        got, expected = outcomes.get(index), event.expected.outcome
        if got is None:
            problems.append(f"event {event.raw['id']}: no worker logged a decision")
        elif got != expected and (expected == "duplicate" or event.expected.why == "conflict"):
            problems.append(f"event {event.raw['id']}: {got}, oracle {expected} {event.expected.why}")


_LEDGER = {"earn", "redeem", "clawback", "negative_balance", "debt_repaid", "expire", "reverse", "adjust"}


def _check_effects(event, decision, problems: list[str], places: int) -> None:
    """A decision's ledger effects against the oracle's postings (as the store books them)."""
    got = Counter()
    for e in decision.effects:
        if e.kind not in _LEDGER:
            continue
        points = in_steps(e.points, places)
        if e.kind == "negative_balance":  # the debt grows; no lot
            lot_points, debt = 0, -points
        elif e.kind == "debt_repaid":  # the new lot's points pay the debt: both go down
            lot_points, debt = -points, -points
        else:
            lot_points, debt = points, 0
        got[(e.kind, e.lot, lot_points, debt)] += 1
    want = Counter((p.kind, p.lot, p.lot_points, p.debt_points) for p in event.expected.postings)
    if got != want:
        problems.append(f"event {event.raw['id']}: effects {sorted(got.items())} != oracle {sorted(want.items())}")
