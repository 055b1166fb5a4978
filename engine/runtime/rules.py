"""Running one generated rule function, and wording what went wrong in the analyst's terms.

Every policy runs its expressions through :func:`run_rule`: a missing optional field means
the rule does not fire (:class:`RuleFailure`); failed arithmetic rejects the event naming
the rule, because paying 0 for a rule that cannot be computed would hide the fault.
"""

from __future__ import annotations

import decimal
from typing import Any

from punchcard.dsl.functions import ArgumentError

from ..program import ExprFn, Reads
from .context import EvalContext
from .run import Rejected

__all__ = ["RuleFailure", "FAILURES", "failure", "uncomputable", "run_rule", "decided_by"]


class RuleFailure(Exception):
    """A rule could not be evaluated: a field it reads is missing, or arithmetic failed."""


FAILURES = (KeyError, ArithmeticError, TypeError, ValueError)


def failure(exc: Exception) -> str:
    """Why a rule could not be evaluated, in the analyst's words."""
    if isinstance(exc, KeyError):
        return f"not known: {exc.args[0]}"
    if isinstance(exc, ArithmeticError):
        return f"arithmetic failed ({type(exc).__name__})"
    return f"could not be evaluated ({exc})"


def uncomputable(rule_id: str, exc: Exception) -> str:
    """Why an event is rejected when a rule's arithmetic fails (docs/expressions.md)."""
    signals = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []  # what Decimal signalled
    if isinstance(exc, ZeroDivisionError) or decimal.DivisionUndefined in signals:  # x / 0, and 0 / 0
        what = "division by zero"
    elif isinstance(exc, (OverflowError, decimal.Overflow)):
        what = "a number too large (overflow)"
    elif isinstance(exc, ArgumentError):  # a function's argument out of its range says which
        what = str(exc)
    else:
        what = failure(exc)
    return f"rule {rule_id} could not be computed: {what}"


def run_rule(fn: ExprFn, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext, label: str | None = None) -> Any:
    """``fn``'s value. A missing field raises RuleFailure (the rule does not fire); any other
    failure rejects the event naming ``label``, when given, as :func:`rule_result` does."""
    try:
        return fn(ev, m, ctx)
    except FAILURES as exc:
        if label is not None and not isinstance(exc, KeyError):
            raise Rejected(uncomputable(label, exc)) from None
        raise RuleFailure(failure(exc)) from None


def decided_by(reads: Reads, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext) -> dict[str, Any]:
    """The values of the facts a rule reads, for its trace line."""
    out: dict[str, Any] = {}
    for root, name, label in reads:
        if root == "event":
            out[label] = ev.get(name)
        elif root == "member":
            out[label] = m.get(name)
        elif name in ctx.lets:
            out[label] = ctx.lets[name]
    return out
