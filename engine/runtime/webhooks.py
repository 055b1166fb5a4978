"""The webhooks a decision gives its host: its notable effects, as the payloads the host receives.

A store whose ``webhooks`` setting is on writes one outbox row per payload on channel
:data:`WEBHOOK`, in the decision's own transaction (see :func:`punchcard.engine.store.outbox_rows`),
for the webhook dispatcher to POST after the commit. The notable effects:

- ``tier.changed``: a ``tier_change`` effect (up or down, and why);
- ``points.expiring``: an ``expiry_notice`` effect (points that will expire, and when);
- ``review.held``: the event was held for review (its outcome is ``review``);
- ``points.redeemed``: a redemption (its ``redeem`` effects, one per lot, are one payload);
- ``voucher.issued``: points converted into a voucher at a period's end (a ``voucher_issued``
  effect: the member has a voucher nobody asked for, which the host shows or sends);
- ``voucher.redeemed``: a voucher spent (a ``voucher_redeemed`` effect).

Each payload's ``id`` is ``<event id>/webhook/<n>``, numbered in the decision's order: the
same decision always gives the same ids, so a delivery id names one notification for ever.
Figures are exact decimal strings and times ISO 8601, as everywhere in a decision's JSON.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .decision import Decision, Effect, Outcome, to_jsonable

__all__ = ["WEBHOOK", "EVENT_TYPES", "webhook_requests"]

WEBHOOK = "webhook"  # the outbox channel of webhook rows; the message sender never claims it
EVENT_TYPES = ("tier.changed", "points.expiring", "review.held", "points.redeemed", "voucher.issued",
               "voucher.redeemed")
# The effects sent as they are: (webhook type, the detail keys its data carries).
_AS_THEY_ARE = {"voucher_issued": ("voucher.issued", ("voucher", "value", "currency", "points", "expires_at")),
                "voucher_redeemed": ("voucher.redeemed", ("voucher", "value", "currency"))}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # a decision without a time (none the engine stores)


def _notable(decision: Decision) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of each notable effect, in the decision's order."""
    found: list[tuple[str, dict[str, Any]]] = []
    redeemed: dict[str, list[Effect]] = {}
    for effect in decision.effects:
        if effect.kind == "tier_change":
            found.append(("tier.changed", {key: effect.detail.get(key) for key in ("from", "to", "direction", "why")}))
        elif effect.kind == "expiry_notice":
            found.append(("points.expiring", {"points": effect.points, "expires_at": effect.detail.get("expires_at")}))
        elif effect.kind == "redeem":
            redemption = str(effect.detail.get("redemption"))
            if redemption not in redeemed:  # one payload per redemption, where its first lot is
                redeemed[redemption] = []
                found.append(("points.redeemed", {"redemption": redemption}))
            redeemed[redemption].append(effect)
        elif effect.kind in _AS_THEY_ARE:
            kind, keys = _AS_THEY_ARE[effect.kind]
            found.append((kind, {key: effect.detail.get(key) for key in keys}))
    for kind, data in found:
        if kind == "points.redeemed":
            lots = redeemed[data["redemption"]]
            data["points"] = -sum((effect.points for effect in lots if effect.points is not None), start=Decimal(0))
            data["balance"] = decision.balance
    if decision.outcome == Outcome.REVIEW:
        found.append(("review.held", {"reason": decision.reason, "event_type": decision.event_type,
                                      "points": decision.points, "pending": decision.pending}))
    return found


def webhook_requests(decision: Decision) -> list[dict[str, Any]]:
    """The payloads of the decision's notable effects, JSON-ready: ``id``, ``type``, ``created``
    (the event's time), ``member_id``, ``ruleset`` (id@version), ``event_id`` and ``data``."""
    created = (decision.time or _EPOCH).isoformat()
    return [to_jsonable({"id": f"{decision.event_id}/{WEBHOOK}/{n}", "type": kind, "created": created,
                         "member_id": decision.member_id, "ruleset": decision.ruleset,
                         "event_id": decision.event_id, "data": data})
            for n, (kind, data) in enumerate(_notable(decision), start=1)]
