"""What sample events must look like for a given ruleset: types, fields, scale.

The generator adapts to the ruleset instead of hard-coding one: the order type is
the event type with a money ``amount``; a check-in type is one with no required
fields; categories are the string literals its rules compare with (plus a few
common ones); basket sizes follow the currency; points per unit of money are
measured by evaluating one purchase; the review threshold is read from a fraud
rule such as ``event.amount > 10000``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from punchcard.dsl.vocabulary import BUILTIN_EVENTS, OPTIONAL, field_base_type
from punchcard.engine import evaluate
from punchcard.engine.program import Compiled

__all__ = ["Shape", "shape_of", "MONEY_SCALE"]

# a typical basket, in units of the currency
MONEY_SCALE = {"JPY": Decimal(3000), "KRW": Decimal(30000), "RUB": Decimal(900), "INR": Decimal(900),
               "HUF": Decimal(9000), "CLP": Decimal(20000), "IDR": Decimal(300000), "VND": Decimal(500000)}
_ZERO_DECIMAL = {"JPY", "KRW", "CLP", "IDR", "VND", "HUF"}
_WEEKDAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday",
             "friday", "saturday", "sunday"}
_COMMON = ["food", "home", "apparel", "beauty", "electronics"]
_LITERAL = re.compile(r"\"([a-z][a-z0-9_]*)\"")
_THRESHOLD = re.compile(r"event\.amount\s*(>=|>)\s*(\d+(?:\.\d+)?)")


@dataclass
class Shape:
    tz: dt.tzinfo
    order_type: str
    order_fields: dict[str, str]
    checkin_type: str | None
    categories: list[str]
    coffee: str | None  # a category for morning buyers, when the rules mention one
    gift: str | None
    scale: Decimal
    cents: Decimal  # the money step: 1 or 0.01
    points_per_money: Decimal
    pending: dt.timedelta
    review_over: Decimal | None
    types: set[str] = field(default_factory=set)


def shape_of(compiled: Compiled) -> Shape:
    model = compiled.model
    custom = {name: fields or {} for name, fields in model.schema_.events.items() if name not in BUILTIN_EVENTS}
    order_type = next((n for n, f in custom.items() if field_base_type(f.get("amount", "")) == "money"), None)
    if order_type is None:
        raise ValueError(f"{model.label} declares no event type with an amount: money field to make purchases of")
    checkin = next((n for n, f in custom.items() if not any(not k.startswith(OPTIONAL) for k in f.values())), None)
    literals = sorted({m for m in _LITERAL.findall(compiled.source or "") + _LITERAL.findall(_texts(model))
                       if m not in _WEEKDAYS})
    categories = literals + [c for c in _COMMON if c not in literals]
    scale = MONEY_SCALE.get(model.currency, Decimal(30))
    cents = Decimal(1) if model.currency in _ZERO_DECIMAL else Decimal("0.01")
    return Shape(compiled.tz, order_type, dict(custom[order_type]), checkin, categories,
                 next((c for c in literals if "coffee" in c or "cafe" in c), None),
                 next((c for c in literals if "gift" in c), None), scale, cents,
                 _points_per_money(compiled, order_type, custom[order_type], scale, categories),
                 _pending(model), _review_threshold(model), set(model.event_fields()))


def _texts(model) -> str:
    """Expression texts of the ruleset, where category literals are written."""
    parts = [str(b.when or "") + str(b.unless or "") for b in model.earning.bases]
    parts += [str(r.when or "") + str(r.unless or "") for r in model.earning.rules]
    parts += [str(f.when) for f in model.fraud] + [str(v) for v in model.let.values()]
    return " ".join(parts)


def _pending(model) -> dt.timedelta:
    pending = model.points.pending
    if pending is None:
        return dt.timedelta(0)
    return pending.timedelta() or dt.timedelta(days=int(pending.approx_days()))


def _review_threshold(model) -> Decimal | None:
    for rule in model.fraud:
        if rule.action == "review":
            match = _THRESHOLD.search(str(rule.when))
            if match:
                return Decimal(match.group(2))
    return None


def _points_per_money(compiled: Compiled, order_type: str, fields: dict[str, str], scale: Decimal,
                      categories: list[str]) -> Decimal:
    """Points one unit of money earns for a plain purchase: what redemptions are sized by."""
    raw = {"type": order_type, "id": "probe", "member": "probe", "amount": str(scale * 10),
           "time": dt.datetime(2030, 6, 3, 14, tzinfo=compiled.tz).isoformat()}
    for name, kind in fields.items():
        if name != "amount" and not kind.startswith(OPTIONAL):
            raw[name] = _filler(field_base_type(kind), categories)
    try:
        decision, _ = evaluate(compiled, None, raw)
    except Exception:  # a probe that cannot be evaluated just means "about one point per unit"
        return Decimal(1)
    earned = sum((e.points or Decimal(0) for e in decision.effects if e.kind == "earn"), Decimal(0))
    return earned / (scale * 10) if earned > 0 else Decimal(1)


def _filler(kind: str, categories: list[str]):
    return {"string": categories[-1] if categories else "x", "money": "1", "number": "1", "integer": "1",
            "signed": "1", "bool": False, "date": "2030-06-03", "datetime": "2030-06-03T14:00:00"}.get(kind, "x")
