"""What ``check`` says about basket lines in expressions (docs/baskets.md): where ``item.<field>``
may be read, which fields a line has, and that a per_item rule's events declare their lines.
The expression checker (:mod:`.checker`) asks these and reports the answer at the node."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .types import ITEM, ITEM_FIELDS, LINE_ITEMS, Type, list_of

__all__ = ["ITEM_FIELDS", "ITEM_VALUES", "item_field_problem", "per_line_aggregate", "undeclared_baskets"]

ITEM_VALUES = ("points:", "bonus:")  # a per_item rule's value site: told there once, not per expression
Problem = tuple[str, str | None]  # (message, hint)


def item_field_problem(in_scope: bool, name: str, suggest: Callable[..., str | None]) -> Problem | None:
    """Why ``item.<name>`` cannot be read here (None: it can)."""
    if not in_scope:
        return (f"item.{name} is not available here",
                "a line's fields are read in a rule with per_item: true (in its own expressions, not in let: "
                "facts); for the whole basket use basket_total(event.items) or count_items(event.items, \"coffee\")")
    if name not in ITEM_FIELDS:
        return (f"item.{name} is not a field of a basket line",
                suggest(name, sorted(ITEM_FIELDS), prefix="item.") or
                f"a line has {', '.join(f'item.{f}' for f in ITEM_FIELDS)}")
    return None


def per_line_aggregate(in_scope: bool, name: str) -> Problem | None:
    """A per_item rule is asked once per line (up to 500 of them): a window aggregate, which reads
    the member's history, belongs in a let, worked out once per event."""
    if not in_scope:
        return None
    return (f"{name}() reads the member's history, and a per_item rule is asked once per line of the basket",
            f"name it in a let, worked out once per event: let: {{recent: {name}(...)}}, then read recent here")


def undeclared_baskets(per_item_value: bool, events: Mapping[str, Mapping[str, Type]], scope: Any) -> Problem | None:
    """A per_item rule runs on each line of event.items: each event type of its ``scope`` must
    have them. Told at the rule's value (``per_item_value``), once per rule."""
    if not per_item_value:
        return None
    missing = [t for t in scope.event_types or () if events.get(t, {}).get("items") != list_of(ITEM)]
    if not missing:
        return None
    return (f"a per_item rule reads the lines of event.items, which {', '.join(missing)} does not declare",
            f"declare items: {LINE_ITEMS} under schema.events.{missing[0]}, or leave out per_item:")
