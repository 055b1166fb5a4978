"""The checking stage of the ``offers:`` section (:mod:`.offers`): what its models alone cannot
see. Template ids are unique, the built-in offer event types are not declared by hand, and the
event types a granted rule runs on have the fields its template reads."""

from __future__ import annotations

from .checked import CheckedRuleset
from .errors import Code, Diagnostic
from .offers import OFFER_EVENTS, OfferTemplate

__all__ = ["offer_diagnostics"]


def offer_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    """What the models cannot see: unique ids, an offer event type declared by hand, and
    granted rules on event types without the fields their template reads."""
    model = state.valid_model
    offers = model.offers
    if offers is None:
        return []
    out: list[Diagnostic] = []
    for name in sorted(set(OFFER_EVENTS) & set(model.schema_.events)):
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type in a ruleset with offers",
                              state.source.key(("schema", "events", name)), hint="rename the declared event type"))
    seen: set[str] = set()
    fields = model.event_fields()
    for i, template in enumerate(offers.templates):
        if template.id in seen:
            out.append(Diagnostic(Code.DUPLICATE_ID, f"offer template {template.id!r} is defined twice",
                                  state.source.value(("offers", "templates", i, "id")).span))
        seen.add(template.id)
        out += _needed_fields(state, i, template, fields)
    return out


def _needed_fields(state: CheckedRuleset, index: int, template: OfferTemplate,
                   fields: dict[str, dict[str, str]]) -> list[Diagnostic]:
    needed = [("category", template.category is not None), ("amount", template.min_purchase is not None)]
    out = []
    for j, event_type in enumerate(template.grant.on):
        have = fields.get(event_type)
        for name, wanted in needed:
            if wanted and have is not None and name not in have:
                where = ("offers", "templates", index, "grant", "on", j)  # or the nearest place written
                out.append(Diagnostic(Code.TYPE_ERROR, f"offer {template.id} reads event.{name}, which "
                                      f"{event_type} events do not have", state.source.value(where).span,
                                      hint=f"declare {name} on {event_type}, or grant the offer on another event"))
    return out
