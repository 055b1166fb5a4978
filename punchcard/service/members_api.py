"""``GET /v1/members/{id}`` (the wallet), ``.../decisions`` (the history, paginated) and
``.../offers`` (the ranked offers). Reads only: nothing is locked or written. The wallet sees
the member as housekeeping would leave it now (or at ``?at=``), the offers now: on a copy.
The key is checked before anything else (a request without one is a 401, whatever it asks).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from punchcard.engine import Compiled, MemberState
from punchcard.engine.policies import challenges, tiers
from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.events import MAX_ID, valid_id

from . import schemas
from .auth import require
from .bodies import live, problem_responses, service
from .events_api import decision_json
from .problems import Problem
from .state import ServiceState

__all__ = ["router", "wallet", "encode_cursor", "decode_cursor"]

router = APIRouter(tags=["members"])

_LIVE_OFFERS = ("selected", "presented", "active")
_MEMBER = Path(..., min_length=1, max_length=schemas.ID_MAX, description="the member id")
_RULESET = Query(None, max_length=schemas.ID_MAX, description="the ruleset id, when several are live")
_READ = Depends(require("members:read"))
_AT = Query(None, description="the moment to see the wallet at, ISO 8601 (default: now; not before the member's "
                              "last event; without an offset, in the ruleset's zone)")


def _member_id(member_id: str) -> str:
    """The member id of the path, checked by each route once its key is: one no event could
    carry (a NUL or another control character) is bad input, refused before any store is
    asked. PostgreSQL cannot even look it up, and its error would read as a store outage,
    which a client retries. (A function, not a dependency: one more costs every request.)"""
    if not valid_id(member_id):
        raise Problem("invalid-request", "the member id contains a character no member id may have")
    return member_id


def _member_at(state: ServiceState, compiled: Compiled, member_id: str, at: dt.datetime | None
               ) -> tuple[MemberState, dt.datetime]:
    """The member as housekeeping would leave it at ``at`` (default: now, or the member's last
    event when a host sent events dated after now), and that moment."""
    try:
        found, moment = state.engine(compiled).member_at(member_id, at)
    except ValueError as exc:  # a moment outside the years the engine reads
        raise Problem("invalid-request", str(exc)) from None
    if found is None:
        raise Problem("member-not-found", "no event of this member was ever stored")
    if found.clock is not None and moment < found.clock:
        if at is not None:
            raise Problem("invalid-request", "at is before the member's last event: the wallet is seen from it on")
        moment = found.clock  # the host's clock behind its events: as stored, housekept to its last event
    return found, moment


def _lot(lot: Any) -> dict[str, Any]:
    return {"id": lot.id, "source": lot.source, "amount": lot.amount, "remaining": lot.remaining,
            "earned_at": lot.earned_at, "pending_until": lot.pending_until, "expires_at": lot.expires_at,
            "hold": lot.hold}


def _tier(program: Compiled, state: MemberState, now: dt.datetime) -> dict[str, Any] | None:
    """The tier and what it takes to move; with several metrics, each one's figures too."""
    local = now.astimezone(program.tz)
    tier = tiers.view(program, state, local)
    if tier is None:
        return None
    metrics = tiers.by_metric(program, state, local)
    return {**tier.to_json(), "by_metric": metrics} if metrics is not None else tier.to_json()


def wallet(compiled: Compiled, state: MemberState, now: dt.datetime) -> dict[str, Any]:
    """The member at ``now``, as housekeeping left it then: balances, lots, tier progress,
    streaks, offers."""
    program = compiled.for_member(state.member_id)
    offers = [{"id": o.id, "template": o.template, "status": o.status, "valid_until": o.valid_until}
              for o in state.offers.values() if o.status in _LIVE_OFFERS and o.valid_until > now]
    view = {
        "member": state.member_id, "as_of": now, "balance": state.available(now), "pending": state.pending(now),
        "total": state.total(), "negative_balance": state.debt,
        "lots": [_lot(lot) for lot in state.lots if lot.remaining or lot.hold],
        "tier": _tier(program, state, now),
        "streaks": {name: {"length": s.length, "best": s.best, "freezes_left": s.freezes_left}
                    for name, s in state.streaks.items()},
        "badges": sorted(state.badges), "offers": offers, "challenges": challenges.view(program, state),
    }
    return dict(to_jsonable(view))


@router.get("/members/{member_id}", response_model=schemas.Wallet, responses=problem_responses(401, 403, 404),
            summary="The member's wallet")
async def get_member(request: Request, _key: Any = _READ, member_id: str = _MEMBER, ruleset: str | None = _RULESET,
                     at: dt.datetime | None = _AT) -> dict[str, Any]:
    member_id = _member_id(member_id)
    state = service(request)
    compiled = live(state, ruleset)
    found, moment = await run_in_threadpool(_member_at, state, compiled, member_id, at)
    return wallet(compiled, found, moment)


_CURSOR_MAX = 4 * -(-(2 + 4 * MAX_ID) // 3)  # base64 of "e:" and an id of MAX_ID characters, 4 bytes each


_CURSOR = Query(None, max_length=_CURSOR_MAX, description="next_cursor of the last page: the page after it")


def encode_cursor(event_id: str) -> str:
    """A position in a member's history: the last decision a page gave, by its event id."""
    return base64.urlsafe_b64encode(f"e:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str | None]:
    """(offset, before): a position (``e:``), or an offset (``o:``, as pages gave them before)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "e" and valid_id(value):  # an id no event could have (NUL, too long) is no position
            return 0, value
        if kind == "o" and value.isdigit():
            return int(value), None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Problem("invalid-request", "the cursor is not one this service gave")


def _page(state: ServiceState, member_id: str, offset: int, limit: int, before: str | None) -> dict[str, Any]:
    """A page after a position (no decision repeated or skipped however many arrive meanwhile),
    or at an offset (which shifts as new decisions arrive)."""
    if offset > state.settings.offset_max:
        raise Problem("invalid-request", f"offset goes up to {state.settings.offset_max}")
    limit = min(limit, state.settings.page_max)
    found = state.store.decisions(member_id, offset + limit + 1, before=before)  # one more: is there a next page?
    page = found[offset:offset + limit]
    more = len(found) > offset + limit
    return {"member": member_id, "decisions": [decision_json(d, False) for d in page], "limit": limit,
            "offset": offset, "next_cursor": encode_cursor(page[-1].event_id) if more and page else None}


@router.get("/members/{member_id}/decisions", response_model=schemas.DecisionPage,
            responses=problem_responses(401, 403), summary="The member's decisions, newest first, a page at a time")
async def get_decisions(request: Request, _key: Any = _READ, member_id: str = _MEMBER,
                        limit: int = Query(20, ge=1, le=1000, description="decisions per page (capped by page_max)"),
                        offset: int = Query(0, ge=0, le=1_000_000, description="decisions to skip"),
                        cursor: str | None = _CURSOR) -> dict[str, Any]:
    member_id = _member_id(member_id)
    state = service(request)
    start, before = decode_cursor(cursor) if cursor is not None else (offset, None)
    return await run_in_threadpool(_page, state, member_id, start, limit, before)


def _offers(state: ServiceState, compiled: Compiled, member_id: str) -> dict[str, Any]:
    at = dt.datetime.now(compiled.tz)
    candidates = state.engine(compiled).offers(member_id, at)
    return {"member": member_id, "at": at.isoformat(), "offers": [to_jsonable(c.to_dict()) for c in candidates]}


@router.get("/members/{member_id}/offers", response_model=schemas.Offers, responses=problem_responses(401, 403, 404),
            summary="The offers choosing would keep for the member now, ranked")
async def get_offers(request: Request, _key: Any = _READ, member_id: str = _MEMBER,
                     ruleset: str | None = _RULESET) -> dict[str, Any]:
    member_id = _member_id(member_id)
    state = service(request)
    compiled = live(state, ruleset)
    return await run_in_threadpool(_offers, state, compiled, member_id)
