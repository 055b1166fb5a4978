"""``--members FILE``: member profiles, and optionally opening balances and tiers.

One JSON object a line (gzip allowed)::

    {"member": "m-1", "birth_date": "1990-04-01", "segment": "staff",
     "balance": 1200, "tier": "gold", "joined": "2024-03-01T10:00:00+09:00"}

``member`` (or ``id``) names the member; ``balance`` (or ``points``), ``tier`` and
``joined`` are the opening position; every other key is a profile field, typed and checked by the
ruleset's member schema. The opening balance is one lot earned at the start of the
replay (``--from``, or the first event's time) with the ruleset's expiry; it is
the opening liability, not points issued by the replay. The opening tier counts as
reached in the tier window the replay starts in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from punchcard.engine.evaluate import new_member
from punchcard.engine.policies import tier_windows
from punchcard.engine.policies.lifecycle import lots as ledger
from punchcard.engine.program import Compiled
from punchcard.engine.runtime.events import EventError, parse_time, to_decimal
from punchcard.engine.runtime.numbers import check_points
from punchcard.engine.runtime.state import Lot, MemberState

from .formats import RowError, read_rows

__all__ = ["Seed", "read_seeds", "seed_of", "seed_state", "seed_values", "OPENING_LOT"]

OPENING_LOT = "opening-balance"
_POSITION = ("member", "id", "balance", "points", "tier", "joined")


@dataclass(frozen=True)
class Seed:
    member: str
    line: int
    profile: dict[str, Any] = field(default_factory=dict)
    balance: Any = None
    tier: str | None = None
    joined: str | None = None
    balance_key: str = "balance"  # how the row spelled it, for the reason when it is refused


def read_seeds(path: Path) -> Iterator[tuple[int, Seed | RowError]]:
    for line, row in read_rows(Path(path)):
        yield line, row if isinstance(row, RowError) else seed_of(line, row)


def seed_of(line: int, row: dict) -> Seed | RowError:
    """One member row: a line of ``--members``, or the profile ``explain --member`` is given."""
    member = row.get("member", row.get("id"))
    if isinstance(member, int) and not isinstance(member, bool):
        member = str(member)
    if not isinstance(member, str) or not member.strip():
        return RowError("a member row needs member: (a non-empty string)")
    if "balance" in row and "points" in row:
        return RowError("give the opening balance as balance: or as points:, not both")
    profile = {k: v for k, v in row.items() if k not in _POSITION}
    key = "points" if "points" in row else "balance"  # points: as a ruleset's tests: spell it
    return Seed(member, line, profile, row.get(key), row.get("tier"), row.get("joined"), key)


def seed_values(seed: Seed) -> tuple:
    """What a member row gave: the values a reason quotes, masked when reasons are grouped."""
    return (*seed.profile.values(), seed.balance, seed.tier, seed.joined)


def seed_state(compiled: Compiled, seed: Seed, start: dt.datetime) -> MemberState:
    """The member as the replay starts; raises ValueError naming what is wrong with the row."""
    state = new_member(seed.member, _profile(compiled, seed, start))
    if seed.joined is not None:
        state.joined = parse_time(seed.joined, compiled.tz)
    if seed.balance is not None:
        _opening_balance(compiled, state, _opening_points(compiled, seed), start)
    if seed.tier is not None:
        _opening_tier(compiled, state, seed.tier, start)
    return state


def _profile(compiled: Compiled, seed: Seed, start: dt.datetime) -> dict[str, Any]:
    if not seed.profile:
        return {}
    raw = {**seed.profile, "type": "profile", "id": f"{seed.member}#profile", "member": seed.member,
           "time": start.isoformat()}
    try:
        return dict(compiled.schema.parse(raw).fields)
    except EventError as exc:
        raise ValueError("; ".join(exc.problems)) from None


def _opening_points(compiled: Compiled, seed: Seed) -> Decimal:
    """The opening balance, held to what the engine holds an adjustment to: a number read
    strictly, within the most points one event may move, a multiple of the rounding step.
    Anything else would start the replay from a balance no event could have made."""
    try:
        return check_points(to_decimal(seed.balance), compiled.model.rounding.step)
    except ValueError as exc:
        raise ValueError(f"{seed.balance_key} {exc}") from None


def _opening_balance(compiled: Compiled, state: MemberState, points: Decimal, start: dt.datetime) -> None:
    if points < 0:
        state.debt = -points  # a negative opening balance is a debt new points pay off first
        return
    if points > 0:
        state.lots.append(Lot(OPENING_LOT, "opening", start, points, points,
                              expires_at=ledger.lot_expiry(compiled, start)))


def _opening_tier(compiled: Compiled, state: MemberState, name: str, start: dt.datetime) -> None:
    model = compiled.model.tiers
    names = [level.name for level in model.levels] if model else []
    if model is None or name not in names:
        raise ValueError(f"tier {name!r} is not a tier of {compiled.label} (tiers: {', '.join(names) or 'none'})")
    key = tier_windows.window_key(model, start, state.joined)
    state.tier.level = name
    state.tier.reached[key] = names.index(name)
