"""Housekeeping's pass over a member's lots: release, expire, notify.

A full pass looks at every lot. Most housekeeping only has pending points to release,
so the state remembers two things from the last full pass (kept up to date as lots
are added or revived): the first instant any live lot expires or is due an expiry
notice (``quiet_until``), and the first lot that may still be pending
(``pending_from``). Before ``quiet_until`` only the lots from ``pending_from`` on
are looked at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ...program import Compiled
from ...runtime import calendar
from ...runtime.decision import Effect
from ...runtime.state import FAR_FUTURE, ZERO, Lot, MemberState
from .lots import expire, inactivity_deadline

__all__ = ["settle"]

_LAST_YEAR = FAR_FUTURE.year  # only a time in this year can equal FAR_FUTURE


def settle(compiled: Compiled, state: MemberState, now: dt.datetime) -> tuple[list[Effect], dt.datetime | None]:
    """Release what is due, expire what has expired, send expiry notices. Effects come releases
    first, then expiries, then notices. Also returns the earliest lot deadline still ahead."""
    inactive_at = inactivity_deadline(compiled, state)
    if inactive_at is None and _before(now, state.quiet_until):
        # the usual case: nothing can expire and no notice is due, and only a full pass or an
        # inactivity deadline sends notices, so there are only releases to look for
        return _releases_only(state, now)
    inactive = inactive_at is not None and inactive_at <= now
    notify = compiled.model.points.expiry_notice is not None and not inactive
    notices: dict[dt.datetime, Decimal] = {}  # expiry date -> points: one notice per date
    if not inactive and _before(now, state.quiet_until):
        effects, ahead = _releases_only(state, now)
    else:
        effects, ahead = _full_pass(state, now, notify, inactive_at if inactive else None, notices)
    if notify:
        _inactivity_notice(compiled, state, now, inactive_at, notices)
    return effects + _notice_effects(notices), ahead


def _releases_only(state: MemberState, now: dt.datetime) -> tuple[list[Effect], dt.datetime | None]:
    """The pass from the first lot that may be pending, releasing only: nothing can expire
    or be due a notice before ``quiet_until``, which stays as it is."""
    return _pass(state, now, None, state.pending_from)


def _full_pass(state: MemberState, now: dt.datetime, notify: bool, inactive_at: dt.datetime | None,
               notices: dict[dt.datetime, Decimal]) -> tuple[list[Effect], dt.datetime | None]:
    return _pass(state, now, _Full(notify, inactive_at, notices), 0)


@dataclass(slots=True)
class _Full:
    """What a full pass does besides releasing: expire, notify, and remember ``quiet_until``."""

    notify: bool
    inactive_at: dt.datetime | None
    notices: dict[dt.datetime, Decimal]
    expiries: list[Effect] = field(default_factory=list)
    quiet: dt.datetime | None = None


def _pass(state: MemberState, now: dt.datetime, full: _Full | None, start: int
          ) -> tuple[list[Effect], dt.datetime | None]:
    """One pass over the lots from ``start``: the only place a lot's release is decided.
    Without ``full``, only releases (see the module notes)."""
    releases: list[Effect] = []
    pending_ahead, still_pending = None, None
    lots = state.lots
    for index in range(start, len(lots)):
        lot = lots[index]
        if lot.pending_until is not None and lot.pending_until <= now:
            releases += _release(state, index, lot)
            lot = lots[index]
        if lot.pending_until is not None and still_pending is None:
            still_pending = index
        if lot.remaining <= 0 or (full is not None and not _expire_or_notice(state, index, lot, now, full)):
            continue
        pending_ahead = _earliest(pending_ahead, lot.pending_until)
    state.pending_from = len(lots) if still_pending is None else still_pending
    if full is None:
        return releases, _earliest(_real(state.quiet_until), pending_ahead)
    if full.inactive_at is not None:
        full.expiries += _expire_all(state, full.inactive_at)
        full.quiet = pending_ahead = None  # nothing is left to release, expire or notice
    state.quiet_until = FAR_FUTURE if full.quiet is None else full.quiet
    return releases + full.expiries, _earliest(full.quiet, pending_ahead)


def _expire_or_notice(state: MemberState, index: int, lot: Lot, now: dt.datetime, full: _Full) -> bool:
    """Expire the lot if its date has come, or give it its notice if that is due; False
    when it expired."""
    expires = lot.expires_at
    if expires is not None and expires <= now:
        full.expiries.append(expire(state, index, lot, expires, "expiry date"))
        return False
    if full.notify and not lot.noticed and lot.notice_at is not None and lot.notice_at <= now:
        lot = _notice(state, index, lot, full.notices)
    full.quiet = _earliest(full.quiet, expires, None if lot.noticed else lot.notice_at)
    return True


def _notice(state: MemberState, index: int, lot: Lot, notices: dict[dt.datetime, Decimal]) -> Lot:
    """The lot's points join the notice of its expiry date, once: the lot as it is now noticed."""
    if lot.expires_at is not None:  # (a lot has a notice date only if it expires)
        notices[lot.expires_at] = notices.get(lot.expires_at, ZERO) + lot.remaining
    state.put_lot(index, lot.with_(noticed=True))
    return state.lots[index]


def _expire_all(state: MemberState, at: dt.datetime) -> list[Effect]:
    """Inactivity: every lot with points left expires at ``at``."""
    return [expire(state, i, lot, at, "inactivity") for i, lot in enumerate(state.lots) if lot.remaining > 0]


def _release(state: MemberState, index: int, lot: Lot) -> list[Effect]:
    state.put_lot(index, lot.with_(pending_until=None))
    return [Effect("release", lot.remaining, lot.id, {"at": lot.pending_until})] if lot.remaining > 0 else []


def _earliest(ahead: dt.datetime | None, *deadlines: dt.datetime | None) -> dt.datetime | None:
    for deadline in deadlines:
        if deadline is not None and (ahead is None or deadline < ahead):
            ahead = deadline
    return ahead


def _real(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment is FAR_FUTURE:
        return None
    # only a time in the year 9999 can equal FAR_FUTURE; comparing across zones is costly
    return None if moment.year == _LAST_YEAR and moment == FAR_FUTURE else moment


def _before(now: dt.datetime, quiet: dt.datetime | None) -> bool:
    """``now < quiet`` (None: not known, so False), without a costly comparison across zones
    for FAR_FUTURE: every time before the year 9999 is before it."""
    if quiet is None:
        return False
    return (quiet is FAR_FUTURE and now.year < _LAST_YEAR) or now < quiet


def _notice_effects(notices: dict[dt.datetime, Decimal]) -> list[Effect]:
    return [Effect("expiry_notice", points, None, {"expires_at": at}) for at, points in sorted(notices.items())]


def _inactivity_notice(compiled: Compiled, state: MemberState, now: dt.datetime, deadline: dt.datetime | None,
                       notices: dict[dt.datetime, Decimal]) -> None:
    """One notice ahead of the inactivity deadline, never twice for the same deadline."""
    notice = compiled.model.points.expiry_notice
    if deadline is None or deadline <= now or notice is None:
        return
    key = f"inactivity:{deadline.isoformat()}"
    if key not in state.notices and state.total() > 0 \
            and calendar.add(deadline, -notice.amount, notice.unit, compiled.tz) <= now:
        state.notices = state.notices | {key}
        notices[deadline] = notices.get(deadline, ZERO) + sum((lot.remaining for lot in state.lots), ZERO)
