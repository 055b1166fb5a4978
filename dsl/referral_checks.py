"""The checking stage of the ``referrals:`` section (:mod:`.referrals`): what its models alone
cannot see. Each side's points are whole rounding steps, the qualifying event types are the
analyst's own (a refund or a tick is not a purchase), the fields a friend must not share with
the referrer are member fields, and the referral events are built in rather than declared."""

from __future__ import annotations

from .checked import CheckedRuleset
from .errors import Code, Diagnostic
from .model import Ruleset
from .referrals import REFERRAL_EVENTS, Referrals
from .vocabulary import BUILTIN_EVENTS

__all__ = ["referral_diagnostics"]


def referral_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    model = state.valid_model
    referrals = model.referrals
    if referrals is None:
        return []
    return _points(state, model, referrals) + _names(state, model, referrals)


def _points(state: CheckedRuleset, model: Ruleset, referrals: Referrals) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    step = model.rounding.step
    for side in ("friend", "referrer"):
        points = getattr(referrals, side)
        if points % step != 0:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"the {side} gets {points} points, not a whole number of the "
                                  f"rounding step {step}", state.source.value(("referrals", side)).span,
                                  hint=f"give a whole number of rounding steps of {step}, "
                                       f"e.g. {max(points - points % step, step)}"))
    return out


def _names(state: CheckedRuleset, model: Ruleset, referrals: Referrals) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    built_in = {*BUILTIN_EVENTS, "profile", *REFERRAL_EVENTS}
    for j, name in enumerate(referrals.on):
        if name in built_in:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"a friend qualifies by a purchase, not by a {name} event",
                                  state.source.value(("referrals", "on", j)).span,
                                  hint="name an event type declared under schema.events, e.g. purchase"))
    for j, name in enumerate(referrals.distinct):
        if name not in model.schema_.member:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"distinct: names {name!r}, which is not a member field",
                                  state.source.value(("referrals", "distinct", j)).span,
                                  hint="declare it under schema.member (e.g. device: optional string), "
                                       "and send it with the profile event"))
    for name in sorted(set(REFERRAL_EVENTS) & set(model.schema_.events)):
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type in a ruleset with referrals",
                              state.source.key(("schema", "events", name)), hint="rename the declared event type"))
    return out
