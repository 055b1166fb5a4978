"""The ``import`` built-in event: one lot of a legacy program's balance, migrated with its
original dates (docs/operations.md).

An admin event, like ``adjust``: the host (``punchcard import-balances``) sends one per
legacy lot, with ``points``, ``earned_at`` and optionally ``expires_at``, ``pending_until``
and ``source`` (the legacy program's reference). It goes through ``Engine.process`` like any
event, so it is applied once by its id however often the file is replayed, and every store
keeps it: the lot's id is the event's id, and the decision's ``earn`` effect is its ledger
entry, so ``punchcard audit`` reconciles imported points as it does earned ones.

The lot keeps the dates it is given exactly. Without ``expires_at`` it expires as the
ruleset's ``points.expiry`` says for a lot earned at ``earned_at``. A lot whose expiry has
already passed at the import is refused (nothing is owed on it; importing it only to expire
it would count breakage the legacy program already counted), as is one earned after the
import, a lot id the member already has, and points that are not a positive multiple of
the rounding step. A pending release already passed is released at once. Imported points
count as issued, pay off a negative balance first, and count toward no tier metric; the
import is not activity for an inactivity deadline. A period end of ``conversion:`` before
the import converts none of them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ..runtime.decision import Effect, Step
from ..runtime.numbers import check_points, figure
from ..runtime.run import Rejected, Run
from ..runtime.state import Lot
from .conversion import next_conversion
from .gates import gate_builtin
from .lifecycle import lots as ledger

__all__ = ["HANDLERS", "import_lot", "imported_dates"]


def _points(run: Run) -> Decimal:
    try:
        points = check_points(run.event.fields["points"], run.compiled.model.rounding.step)
    except ValueError as exc:
        raise Rejected(f"points {exc}") from None
    if points <= 0:
        raise Rejected("an imported lot holds more than 0 points")
    return points


def imported_dates(run: Run) -> tuple[dt.datetime, dt.datetime | None, dt.datetime | None]:
    """(earned_at, expires_at, pending_until) of the lot, or Rejected saying what is wrong."""
    fields, now = run.event.fields, run.now
    earned_at = fields["earned_at"]
    if earned_at > now:
        raise Rejected(f"earned_at {earned_at.isoformat()} is after the import: a legacy lot was earned before it")
    expires = fields.get("expires_at") if "expires_at" in fields else _ruleset_expiry(run, earned_at)
    if expires is not None and expires <= earned_at:
        raise Rejected("expires_at must be after earned_at")
    if expires is not None and expires <= now:
        raise Rejected(f"the lot expired at {expires.isoformat()}, before the import: an expired balance is "
                       "not imported")
    pending = fields.get("pending_until")
    if pending is not None and pending <= now:
        pending = None  # released already: spendable from the import on
    return earned_at, expires, pending


def _ruleset_expiry(run: Run, earned_at: dt.datetime) -> dt.datetime | None:
    if ledger.never_expires(run.compiled, run.state):
        return None
    return ledger.lot_expiry(run.compiled, earned_at)


def import_lot(run: Run) -> None:
    gate_builtin(run)
    state, lot_id = run.state, run.event.id
    points = _points(run)
    if state.lot(lot_id) is not None:
        raise Rejected(f"lot {lot_id} already exists: it was imported or earned before")
    earned_at, expires, pending = imported_dates(run)
    _no_backdated_conversion(run)
    repaid = points if points < state.debt else state.debt
    lot = Lot(lot_id, "import", earned_at, points, points - repaid, pending, expires,
              notice_at=ledger.notice_date(run.compiled, expires), repaid=repaid)
    state.add_lot(lot)
    source = run.event.fields.get("source")
    run.effects.append(Effect("earn", points, lot_id, {"source": "import", "earned_at": earned_at,
                                                        "expires_at": expires, "pending_until": pending,
                                                        "legacy": source}))
    if repaid:
        state.debt -= repaid
        run.effects.append(Effect("debt_repaid", repaid, lot_id))
    state.count("issued", points)
    run.points += points
    until = f"expires {expires.isoformat()}" if expires is not None else "never expires"
    run.trace.append(Step("ledger", "import", True,
                          f"{figure(points)} points imported{f' from {source}' if source else ''}, earned "
                          f"{earned_at.isoformat()}, {until}", after=points))


def _no_backdated_conversion(run: Run) -> None:
    """Conversion starts from a member's oldest lot until it first runs: an imported lot is
    converted from the next period end on, never at those before the import."""
    conversion, state = run.compiled.model.conversion, run.state
    if conversion is None or state.converted_to is not None:
        return  # conversion has run: it goes on from its own last period end
    end = next_conversion(conversion, run.event.fields["earned_at"], run.compiled.tz)
    while end is not None and end <= run.now:
        state.converted_to = end
        end = next_conversion(conversion, end, run.compiled.tz)


HANDLERS = {"import": import_lot}
