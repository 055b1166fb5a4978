"""Figures as an owner reads them, and differences coloured by what they mean to the program.

A difference is coloured by its effect on the program's cost, not by its sign: more
points issued, redeemed or owed is *more cost* (the warning colour), more points
expired or taken back is *less cost* (the calm colour), and a count that costs nothing
by itself (events, members, rejections) is left uncoloured. Points are shown to the
ruleset's rounding step (a rule's share of an event's points is exact in the JSON,
and a fraction of a point on the page), ratios as percentages.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from .cells import fmt

__all__ = ["COST_UP", "COST_DOWN", "NEUTRAL", "MEANING", "points_text", "percent_text", "cost_delta_cell",
           "cost_delta_span", "delta_text", "legend", "step_of", "signed"]

COST_UP, COST_DOWN, NEUTRAL = 1, -1, 0
# totals (and month or rule columns of the same name): which way is more cost to the program
MEANING = {
    "points_issued": COST_UP, "points_redeemed": COST_UP, "liability_points": COST_UP, "liability_money": COST_UP,
    "pending_points": COST_UP, "points_issued_money": COST_UP, "points": COST_UP,
    "points_expired": COST_DOWN, "points_clawed_back": COST_DOWN, "points_adjusted_down": COST_DOWN,
    "points_voided": COST_DOWN, "breakage": COST_DOWN, "points_cut": COST_DOWN,
}
_CSS = {COST_UP: "cost-up", COST_DOWN: "cost-down"}
_TITLE = {COST_UP: "more cost to the program", COST_DOWN: "less cost to the program"}
_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")
_ONE = Decimal(1)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def step_of(report: dict) -> Decimal:
    return _decimal(report.get("rounding_step")) or Decimal(1)


def points_text(value: object, step: Decimal) -> str:
    """Points to the rounding step, thousands separated: 408488.628 with step 1 is 408,489."""
    number = _decimal(value)
    if number is None:
        return fmt(value)
    if number % step:
        number = number.quantize(step.normalize(), rounding=ROUND_HALF_EVEN)
    exponent = number.as_tuple().exponent  # a letter for NaN and infinities, which are not points
    return fmt(number.quantize(_ONE) if isinstance(exponent, int) and exponent > 0 else number)  # 10, not 1E+1


def percent_text(ratio: object, points: bool = False) -> str:
    """A ratio (0.80957) as a percentage (81.0%); ``points``: a difference of ratios, in percentage points."""
    number = _decimal(ratio)
    if number is None:
        return "–"
    shown = (number * _HUNDRED).quantize(_TENTH, rounding=ROUND_HALF_EVEN)
    shown = shown if shown else shown.copy_abs()  # 0.0%, never -0.0%
    return f"{shown:,}" + (" pp" if points else "%")


def signed(text: str, number: Decimal) -> str:
    return ("+" if number > 0 else "") + text


def delta_text(key: str, value: object, step: Decimal) -> str:
    number = _decimal(value)
    if number is None:
        return "–"
    if key == "breakage":
        return signed(percent_text(number, points=True), number)
    if key.startswith("points") or key.endswith("_points") or key == "used":
        return signed(points_text(number, step), number)
    return signed(fmt(number), number)


def _delta_parts(key: str, value: object, step: Decimal, meaning: int | None) -> tuple[str, str, str]:
    number = _decimal(value)
    if number is None:
        return "muted", "", "–"
    effect = (MEANING.get(key, NEUTRAL) if meaning is None else meaning) * (1 if number > 0 else -1 if number else 0)
    css = _CSS.get(effect, "muted" if not number else "")
    title = f' title="{_TITLE[effect]}"' if effect in _TITLE else ""
    return css, title, delta_text(key, number, step)


def cost_delta_cell(key: str, value: object, step: Decimal, meaning: int | None = None) -> str:
    """A table cell for new - old, coloured by what the difference means to the program's cost
    (``meaning`` overrides what :data:`MEANING` says of ``key``)."""
    css, title, text = _delta_parts(key, value, step, meaning)
    return f'<td class="num {css}"{title}>{text}</td>'


def cost_delta_span(key: str, value: object, step: Decimal, meaning: int | None = None) -> str:
    css, title, text = _delta_parts(key, value, step, meaning)
    return f'<span class="{css}"{title}>{text}</span>'


def legend() -> str:
    return ('<p class="legend"><span class="swatch cost-up"></span>more cost to the program '
            '<span class="swatch cost-down"></span>less cost to the program '
            '<span class="swatch neutral"></span>no cost either way (counts)</p>')
