"""Referrals: a member refers a friend, and the friend's first qualifying event rewards both
sides, once, with attribution (the ruleset's ``referrals:`` section, docs/referrals.md).

This module owns both sides, each decided under its own member's lock and never both at once:

- the friend signs up with the built-in ``referred`` event (:func:`referred`): a valid code, not
  their own, once, and only while they are new (nothing earned yet);
- the friend's first event of a type in ``on`` that meets ``when`` (:func:`qualify`, after the
  walk) pays the friend and carries a ``referral_reward`` effect naming the referrer, the code
  and the id of the referrer's derived event. A store queues that event in the friend's own
  transaction (engine/runtime/referral.py), and a drain processes it after the commit;
- the referrer's ``referral_bonus`` event (:func:`referral_bonus`) pays the referrer, checking
  under the referrer's lock that the friend is not the referrer (by id, and by the ``distinct``
  fields), and the caps per period and lifetime. Past a cap it is rejected with the reason; the
  friend keeps their reward, as real programs' terms have it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from punchcard.dsl.referrals import Referrals

from ..program import Compiled
from ..runtime import calendar
from ..runtime.decision import Effect, Step
from ..runtime.events import reward_lot_id
from ..runtime.numbers import figure
from ..runtime.referral import Referral, derived_id, marks, referral_code, referrer_of
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Rejected, Run
from .gates import gate_builtin
from .lifecycle.lots import add_lot
from .lifecycle.upkeep import note_activity

__all__ = ["HANDLERS", "referred", "qualify", "referral_bonus", "referral_code"]

_WHEN = ("referrals", "when")


def _terms(compiled: Compiled) -> Referrals:
    terms = compiled.model.referrals
    if terms is None:  # the events are built in only with referrals: (dsl/model.py)
        raise Rejected("this ruleset has no referrals")
    return terms


def referred(run: Run) -> None:
    """A friend signs up with a referrer's code: once, not their own, and while still new."""
    gate_builtin(run)
    _terms(run.compiled)
    state, code = run.state, run.event.fields["code"]
    referrer = referrer_of(code)
    if referrer is None:
        raise Rejected("not a referral code: its check letters do not match (a mistyped code?)")
    if referrer == state.member_id:
        raise Rejected("a member cannot refer themselves: this is the member's own code")
    record = state.referral or Referral()
    if record.referrer is not None:
        raise Rejected(f"already referred by {record.referrer} (code {record.code}); a friend is referred once")
    if state.lots or state.orders or state.redemptions:
        raise Rejected("only a new member can be referred: this member has already earned or spent points")
    state.referral = dataclasses.replace(record, code=code, referrer=referrer, signed_at=run.now)
    run.effects.append(Effect("referred", None, None, {"code": code, "referrer": referrer}))
    run.trace.append(Step("referrals", "referred", True, f"signed up with {referrer}'s code {code}; their first "
                          "qualifying event rewards both sides"))


def qualify(run: Run) -> None:
    """After an analyst event's walk: a referred friend's first qualifying event pays the friend
    and queues the referrer's side (``referral_reward``, side ``friend``)."""
    terms = run.compiled.model.referrals
    record = run.state.referral
    if terms is None or record is None or record.referrer is None or record.rewarded is not None \
            or run.event.type not in terms.on or not _qualifies(run, terms, record):
        return
    state, event = run.state, run.event
    if terms.friend > 0:
        run.effects += add_lot(run.compiled, state, reward_lot_id(event.id, "referral"), "referral:friend",
                               terms.friend, run.now, order=event.id)
        run.points += terms.friend
    state.referral = dataclasses.replace(record, rewarded=event.id)
    detail = {"side": "friend", "friend": state.member_id, "referrer": record.referrer, "code": record.code,
              "points": terms.friend, "referrer_points": terms.referrer, "referrer_event": derived_id(event.id)}
    shared = marks(state.profile, terms.distinct) if terms.distinct else ""
    if shared.strip(","):  # the fields the friend has given, for the referrer's side to compare
        detail["marks"] = shared
    run.effects.append(Effect("referral_reward", None, None, detail))
    run.trace.append(Step("referrals", "referral", True,
                          f"first qualifying {event.type} of a friend {record.referrer} referred (code "
                          f"{record.code}): {figure(terms.friend)} points to the friend; {figure(terms.referrer)} "
                          f"to {record.referrer} by event {detail['referrer_event']}, within their caps"))


def _qualifies(run: Run, terms: Referrals, record: Referral) -> bool:
    """Whether this event qualifies the friend; when it does not, the trace says why."""
    why = None
    if run.hold is not None or run.outcome != "applied":
        why = "the event is held for review: a held event does not qualify"
    elif run.no_points:
        why = "a compliance rule forbids points on this event: it does not qualify"
    elif terms.within is not None and record.signed_at is not None and run.now > calendar.add(
            record.signed_at, terms.within.amount, terms.within.unit, run.compiled.tz):
        why = f"more than {terms.within} after signing up: the referral has lapsed"
    elif terms.when is not None:
        try:
            if not run_rule(run.compiled.functions[_WHEN], run.values(), run.member_view(), run.context()):
                why = f"when: {terms.when} is false"
        except RuleFailure as exc:
            why = f"when: {exc}"
    if why is not None:
        run.trace.append(Step("referrals", "referral", False, f"not a qualifying event: {why}"))
    return why is None


def referral_bonus(run: Run) -> None:
    """The referrer's side of a friend's qualifying event, decided under the referrer's lock."""
    gate_builtin(run)
    terms, state, fields = _terms(run.compiled), run.state, run.event.fields
    friend, code = fields["friend"], fields["code"]
    if referrer_of(code) != state.member_id:
        raise Rejected(f"code {code} is not this member's referral code")
    if friend == state.member_id:
        raise Rejected("self-referral: the friend is the referrer; nothing is paid")
    _distinct(terms, state.profile, fields.get("marks"))
    record = state.referral or Referral()
    period = calendar.period_key(calendar.local(run.now, run.compiled.tz), terms.cap.period) if terms.cap else None
    in_period = record.in_period if record.period == period else 0
    if terms.lifetime is not None and record.paid >= terms.lifetime:
        raise Rejected(f"{state.member_id} has been paid for {record.paid} friends, the most a member can be "
                       f"(lifetime: {terms.lifetime}); the friend keeps their reward")
    if terms.cap is not None and in_period >= terms.cap.times:
        raise Rejected(f"{state.member_id} has been paid for {in_period} friends this {terms.cap.period}, the most "
                       f"the cap allows ({terms.cap.times} a {terms.cap.period}); the friend keeps their reward")
    state.referral = dataclasses.replace(record, paid=record.paid + 1, period=period, in_period=in_period + 1)
    if terms.referrer > 0:
        run.effects += add_lot(run.compiled, state, reward_lot_id(run.event.id, "referral"), "referral:referrer",
                               terms.referrer, run.now, order=fields["order"])
        run.points += terms.referrer
    run.effects.append(Effect("referral_reward", None, None, {
        "side": "referrer", "friend": friend, "referrer": state.member_id, "code": code, "order": fields["order"],
        "points": terms.referrer}))
    run.trace.append(Step("referrals", "referral_bonus", True,
                          f"{friend} (code {code}) qualified with {fields['order']}: {figure(terms.referrer)} points "
                          f"to {state.member_id}, friend {record.paid + 1} paid{_counted(terms, in_period + 1)}"))
    note_activity(run.compiled, state, run.event.type, run.now)


def _distinct(terms: Referrals, profile: Mapping[str, Any], friend_marks: str | None) -> None:
    """A friend sharing a ``distinct`` field (a device id) with the referrer is the referrer."""
    if not terms.distinct or not friend_marks:
        return
    mine = marks(profile, terms.distinct).split(",")
    for name, theirs, own in zip(terms.distinct, friend_marks.split(","), mine, strict=False):
        if theirs and theirs == own:
            raise Rejected(f"self-referral: the friend has the referrer's {name}; nothing is paid")


def _counted(terms: Referrals, in_period: int) -> str:
    if terms.cap is None:
        return ""
    return f", {in_period} of {terms.cap.times} this {terms.cap.period}"


HANDLERS = {"referred": referred, "referral_bonus": referral_bonus}
