"""Offer responses simulated over a history of purchases, with a known truth.

Until hosts send real ``offer_presented`` and ``offer_used`` events, an engagement model can
be trained and checked on these (docs/models.md): every few weeks each active member is shown
an offer, and uses it with a probability that grows with the member's share of spend in the
offer's category, so a model reading the member's profile can do better than the offer's
popularity alone. Deterministic for a seed. The offer and the chance of its use are drawn by
engine/dryrun/responses.py, which ``sample-events --offers`` shares.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator

from punchcard.engine.dryrun.responses import draw_offer, use_probability
from punchcard.engine.policies.profile import fold_event
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import Profile

__all__ = ["simulate_offers", "offer_lines"]

EVERY = dt.timedelta(days=21)  # a member is shown at most one offer this often


def simulate_offers(events: Iterable[Event], seed: int = 7) -> Iterator[Event]:
    """The events given, in order, with offer events added after purchases."""
    rng = random.Random(seed)
    profiles: dict[str, Profile] = {}
    last_shown: dict[str, dt.datetime] = {}
    pending: list[Event] = []
    categories = sorted({str(e.fields["category"]) for e in events if "category" in e.fields}) \
        if isinstance(events, list) else []
    for event in events:
        while pending and pending[0].time <= event.time:
            yield pending.pop(0)
        profiles[event.member] = fold_event(profiles.get(event.member), event)
        yield event
        shown = last_shown.get(event.member)
        if "amount" in event.fields and categories and (shown is None or event.time - shown >= EVERY):
            last_shown[event.member] = event.time
            pending.extend(_offer(rng, event, profiles[event.member], categories))
            pending.sort(key=lambda e: (e.time, e.id))
    yield from pending


def _offer(rng: random.Random, after: Event, profile: Profile, categories: list[str]) -> list[Event]:
    offer = f"o-{after.id}"
    fields = draw_offer(rng, offer, categories)  # the offer and the chance of its use: engine/dryrun/responses.py
    shown_at = after.time + dt.timedelta(hours=1)
    out = [Event(f"{offer}-presented", "offer_presented", after.member, shown_at, fields)]
    if rng.random() < use_probability(profile, fields["offer_type"], fields["category"]):
        used_at = shown_at + dt.timedelta(hours=rng.randint(2, 24 * 10))
        out.append(Event(f"{offer}-used", "offer_used", after.member, used_at, dict(fields)))
    return out


def offer_lines(events: Iterable[Event]) -> Iterator[dict[str, object]]:
    """The events as JSON-ready dicts, as an events file holds them."""
    for event in events:
        yield {"type": event.type, "id": event.id, "member": event.member, "time": event.time.isoformat(),
               **{k: str(v) for k, v in event.fields.items()}}
