"""Messages: which decisions tell the member something, and which of those are sent
(docs/messages.md).

This module owns the ``messages:`` policy. After an event is decided (housekeeping
included, so a tick's expiry notices count), :func:`choose` reads the decision's effects for
triggers (a tier change, an expiry notice, an offer selected or presented, a streak at risk,
a redemption, points earned, a badge), and for each message kind answering one it decides,
in a fixed order:

1. **when**: the kind's own condition on the member (e.g. consent);
2. **compliance**: every ``no_message`` rule that applies; one that cannot tell stops it too;
3. **cooldown**: at most one of this kind in its cooldown;
4. **quiet hours**: in the ruleset's timezone, deferred to their end or dropped;
5. **caps**: per member, per local day and ISO week, over every channel and per channel
   (compliance's ``max_messages_per_day`` included), counted on the day it will be sent; each
   day keeps its own count, so a late event counts against its own day.

A message that passes is an effect of kind ``message`` whose detail is the
:class:`~punchcard.engine.runtime.message.MessageRequest` (what composing needs, facts
included); the store queues it in the decision's transaction. One that does not is a
``message_suppressed`` effect with its reason, and the trace names the rule or the cap.
Counts live in ``state.caps`` under ``msg:`` keys, so the dry-run and every store count the
same and a member's lock makes caps hold under concurrent processing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from punchcard.dsl.messages import Cap, Messages, Restrict, Send
from punchcard.dsl.model import ForbidRule

from ..program import Compiled, ExprFn
from ..runtime import calendar
from ..runtime.decision import Effect, Outcome, Step
from ..runtime.message import MessageRequest
from ..runtime.rules import RuleFailure, run_rule
from ..runtime.run import Run
from ..runtime.state import FORGET, CapUsage, MemberState
from . import tiers
from .messages_facts import facts_of, quoted_of, valid_until

__all__ = ["PLAN_KEY", "MessagePlan", "SendPlan", "fill", "choose", "triggers"]

PLAN_KEY = "messages"
_QUOTED_LIMIT = 50  # characters of member-supplied text a message may carry
# Days of message counts kept per member: a week's cap reads 7, and an event up to a month late
# still counts against its own day; older counts are forgotten as new ones are written.
_KEEP_DAYS = 35
_HOUSEKEEPING = frozenset(("expiry_notice", "streak_at_risk"))  # triggers housekeeping gives, not the event


@dataclass(frozen=True)
class SendPlan:
    """One message kind, compiled: its condition and what every message of it shares."""

    send: Send
    when: ExprFn | None
    limit: int
    tone: str
    version: str  # digest of its templates, tone and facts: a changed text is a new version


@dataclass(frozen=True)
class MessagePlan:
    """The ruleset's messages, worked out once."""

    model: Messages
    sends: dict[str, tuple[SendPlan, ...]]  # trigger -> the kinds answering it, in the order written
    no_message: tuple[tuple[ForbidRule, ExprFn], ...]
    caps: tuple[tuple[str, str, int], ...]  # (scope: "all" or a channel, "day" | "week", at most)
    vocabulary: dict[str, tuple[str, ...]]
    restrict: tuple[tuple[Restrict, ExprFn], ...]  # words banned for the members each one's when: holds
    quiet: tuple[str, str] | None  # the quiet hours, for the sender to keep at send time too


def fill(compiled: Compiled) -> None:
    """Compile the ``messages:`` section, when there is one, into ``compiled.memo``."""
    model = compiled.model.messages
    if model is None:
        return
    sends: dict[str, list[SendPlan]] = {}
    for i, send in enumerate(model.send):
        tone = send.tone if send.tone is not None else model.tone
        version = hashlib.sha256(repr((sorted(send.template.items()), tone, send.facts)).encode()).hexdigest()[:12]
        plan = SendPlan(send, compiled.functions.get(("messages", "send", i, "when")), model.limit(send), tone,
                        version)
        sends.setdefault(send.on, []).append(plan)
    no_message = tuple((rule, compiled.functions[("compliance", "forbid", i, "when")])
                       for i, rule in enumerate(compiled.model.compliance.forbid) if rule.action == "no_message")
    restrict = tuple((r, compiled.functions[("messages", "restrict", i, "when")]) for i, r in enumerate(model.restrict))
    compiled.memo[PLAN_KEY] = MessagePlan(model, {k: tuple(v) for k, v in sends.items()}, no_message,
                                          _caps(compiled, model), _vocabulary(compiled, model), restrict,
                                          _quiet(model))
    if "streak_at_risk" in sends:  # one warning per streak period: the checker makes their before: agree
        befores = [s.before.timedelta() for s in model.send if s.on == "streak_at_risk" and s.before is not None]
        compiled.streak_warning = next((b for b in befores if b is not None), dt.timedelta(days=1))


def _quiet(model: Messages) -> tuple[str, str] | None:
    quiet = model.quiet_hours
    return (f"{quiet.from_:%H:%M}", f"{quiet.to:%H:%M}") if quiet is not None else None


def _caps(compiled: Compiled, model: Messages) -> tuple[tuple[str, str, int], ...]:
    """Every cap as (scope, period, at most); compliance's daily maximum is a cap over every channel."""
    out: list[tuple[str, str, int]] = []
    scopes: list[tuple[str, Cap]] = [("all", model.caps), *model.caps.channels.items()]
    for scope, cap in scopes:
        for period, most in (("day", cap.per_day), ("week", cap.per_week)):
            if most is not None:
                out.append((scope, period, most))
    required = compiled.model.compliance.require.max_messages_per_day
    if required is not None:
        out.append(("all", "day", required))
    return tuple(out)


def _vocabulary(compiled: Compiled, model: Messages) -> dict[str, tuple[str, ...]]:
    """Words a text may use only when a fact says so: tier names and the program's categories."""
    levels = compiled.model.tiers.levels if compiled.model.tiers is not None else ()
    offers = compiled.model.offers.templates if compiled.model.offers is not None else ()
    categories = [*model.categories, *(t.category for t in offers if t.category not in (None, "favourite"))]
    return {"tiers": tuple(level.name for level in levels), "categories": tuple(dict.fromkeys(c for c in categories
                                                                                               if c))}


def choose(run: Run) -> None:
    """The messages this decision sends or suppresses, once its effects are known."""
    plan: MessagePlan | None = run.compiled.memo.get(PLAN_KEY)
    if plan is None or run.outcome not in (Outcome.APPLIED, Outcome.REVIEW):
        return
    run.member = None  # the member view is read again: the tier may have changed since the rules read it
    chosen: list[Effect] = []
    counts: dict[str, int] = {}
    for trigger, effect in triggers(run):
        for send_plan in plan.sends.get(trigger, ()):
            n = counts[send_plan.send.id] = counts.get(send_plan.send.id, 0) + 1
            message_id = f"{run.event.id}/{send_plan.send.id}" + (f"/{n}" if n > 1 else "")
            chosen.append(_decide(run, plan, send_plan, trigger, effect, message_id))
    run.effects += chosen


def triggers(run: Run) -> Iterator[tuple[str, Effect | None]]:
    """(trigger, the effect behind it) for each reason this decision gives to send a message."""
    redeemed = False
    counted = {e.detail.get("streak") for e in run.effects if e.kind == "streak"}  # a visit that saves it
    held = run.outcome == Outcome.REVIEW  # nothing the held event did is told before its review
    for effect in list(run.effects):
        kind = effect.kind
        if (kind == "streak_at_risk" and effect.detail.get("streak") in counted) or \
                (held and kind not in _HOUSEKEEPING):
            continue
        if kind in ("tier_change", "expiry_notice", "badge", "streak_at_risk"):
            yield kind, effect
        elif kind == "offer" and effect.detail.get("status") in ("selected", "presented"):
            yield f"offer_{effect.detail['status']}", effect
        elif kind == "redeem" and not redeemed:
            redeemed = True  # one redemption, however many lots it drew on
            yield "redemption", None
    if not held and run.points > 0 \
            and any(e.kind == "earn" and e.detail.get("source") == "earn" for e in run.effects):
        yield "earned", None  # points earned by a purchase (not an adjustment, a streak or a release)


def _decide(run: Run, plan: MessagePlan, send_plan: SendPlan, trigger: str, effect: Effect | None,
            message_id: str) -> Effect:
    send = send_plan.send
    local = calendar.local(run.now, run.compiled.tz)
    refusal = _refused(run, plan, send_plan)
    send_at = run.now
    if refusal is None:
        send_at, refusal = _after_quiet_hours(plan.model, local)
    if refusal is None:
        refusal = _cooling(run.state, send, send_at) or \
            _over_cap(run.state, plan, send.channel, calendar.local(send_at, run.compiled.tz))
    if refusal is not None:
        reason, rule, note = refusal
        run.trace.append(Step("messages", send.id, False, note))
        return Effect("message_suppressed", None, None, {"message": send.id, "trigger": trigger,
                                                         "channel": send.channel, "reason": reason, "rule": rule})
    _count(run.state, send, calendar.local(send_at, run.compiled.tz))
    request = _request(run, plan, send_plan, trigger, effect, message_id, send_at)
    note = f"{send.channel}, {request.locale}" + (f", deferred to {send_at:%H:%M} after quiet hours"
                                                   if send_at != run.now else "")
    run.trace.append(Step("messages", send.id, True, note))
    return Effect("message", None, None, request.to_detail())


Refusal = tuple[str, str | None, str]  # (reason, the rule behind it or None, the trace's note)


def _refused(run: Run, plan: MessagePlan, send_plan: SendPlan) -> Refusal | None:
    """The kind's own condition, then every no_message rule that applies."""
    m, ctx = run.member_view(), run.context()
    send = send_plan.send
    if send_plan.when is not None:
        try:
            wanted = bool(run_rule(send_plan.when, {}, m, ctx))
        except RuleFailure as exc:
            return "when", None, f"when: {send.when} could not tell ({exc}): not sent"
        if not wanted:
            return "when", None, f"when: {send.when} is false"
    kind = run.event.type
    for rule, fn in plan.no_message:
        if rule.on is not None and kind not in rule.on:
            continue
        try:
            forbidden = bool(run_rule(fn, run.values(), m, ctx))
        except RuleFailure as exc:
            return "compliance", rule.id, f"compliance rule {rule.id} could not tell ({exc}): not sent, to be safe"
        if forbidden:
            return "compliance", rule.id, f"compliance rule {rule.id} forbids it: {rule.when}"
    return None


def _cooling(state: MemberState, send: Send, send_at: dt.datetime) -> Refusal | None:
    """At most one of this kind in its cooldown, counted between the times they are sent."""
    if send.cooldown is None:
        return None
    usage = state.caps.get(f"msg:kind:{send.id}")  # the minute the cooldown of the last one ends
    if usage is None or send_at.timestamp() >= usage.period * 60:
        return None
    until = dt.datetime.fromtimestamp(usage.period * 60, dt.UTC)
    return "cooldown", None, f"one {send.id} message per {send.cooldown}: the next may go at {until:%Y-%m-%d %H:%M} UTC"


def _after_quiet_hours(model: Messages, local: dt.datetime) -> tuple[dt.datetime, Refusal | None]:
    """When the message may go: now, or the end of the quiet hours it falls in (or dropped)."""
    quiet = model.quiet_hours
    end = calendar.window_end(local, quiet.from_, quiet.to) if quiet is not None else None
    if quiet is None or end is None:
        return local, None
    if quiet.then == "drop":
        return local, ("quiet_hours", None, f"quiet hours {quiet.from_:%H:%M}-{quiet.to:%H:%M}: dropped")
    return end, None


def _over_cap(state: MemberState, plan: MessagePlan, channel: str, local: dt.datetime) -> Refusal | None:
    for scope, period, most in plan.caps:
        if scope not in ("all", channel):
            continue
        used = _used(state, scope, period, local)
        if used >= most:
            where = "every channel" if scope == "all" else scope
            return f"cap:{scope}/{period}", None, f"at most {most} a {period} on {where}: {used} already"
    return None


def _used(state: MemberState, scope: str, period: str, local: dt.datetime) -> int:
    """Messages counted on ``scope`` in the day or ISO week of ``local``. Each day keeps its own
    count, so an event that arrives late (a day or a week back) counts against its own day."""
    day = local.toordinal()
    days = (day,) if period == "day" else range(day - local.weekday(), day - local.weekday() + 7)
    total = 0
    for ordinal in days:
        usage = state.caps.get(f"msg:{scope}:{ordinal}")
        total += usage.times if usage is not None else 0
    return total


def _count(state: MemberState, send: Send, local: dt.datetime) -> None:
    day = local.toordinal()
    for scope in ("all", send.channel):
        state.put("caps", f"msg:{scope}:{day}", CapUsage(day, Decimal(0), _used(state, scope, "day", local) + 1))
    for key, usage in list(state.caps.items()):  # days no cap can read any more
        if key.startswith("msg:") and not key.startswith("msg:kind:") and usage.period < day - _KEEP_DAYS:
            state.put("caps", key, FORGET)
    if send.cooldown is not None:
        until = calendar.add(local, send.cooldown.amount, send.cooldown.unit, local.tzinfo)  # type: ignore[arg-type]
        state.put("caps", f"msg:kind:{send.id}", CapUsage(-(-int(until.timestamp()) // 60)))  # rounded up: never early


def _request(run: Run, plan: MessagePlan, send_plan: SendPlan, trigger: str, effect: Effect | None,
             message_id: str, send_at: dt.datetime) -> MessageRequest:
    send, model = send_plan.send, plan.model
    locale = _locale(run.state, model, send)
    facts = facts_of(run, trigger, effect, send.facts, tiers.current_name(run.compiled, run.state))
    return MessageRequest(message_id, run.state.member_id, run.event.id, run.compiled.label, send.id, trigger,
                          send.channel, locale, send_at, facts, send.template.get(locale) or
                          send.template[model.default_locale], send_plan.tone, send_plan.limit,
                          _banned(run, plan), plan.vocabulary, quoted_of(facts, _QUOTED_LIMIT), send_plan.version,
                          model.writer, _expires(run, model, trigger, effect, send_at), plan.quiet,
                          run.compiled.tz.key if plan.quiet else None)


def _expires(run: Run, model: Messages, trigger: str, effect: Effect | None, send_at: dt.datetime) -> dt.datetime:
    """Not sent after what it says stops being true, nor after the program's ``stale_after``:
    a message for an event the host sent late is never delivered stale."""
    stale = calendar.add(send_at, model.stale_after.amount, model.stale_after.unit, run.compiled.tz)
    until = valid_until(run, trigger, effect)
    return min(stale, until) if until is not None else stale


def _banned(run: Run, plan: MessagePlan) -> tuple[str, ...]:
    """The ruleset's banned words, and those of each restriction that holds for this member (or
    cannot tell): the guardrails refuse a model's text that uses any of them."""
    words = list(plan.model.banned)
    for restrict, fn in plan.restrict:
        try:
            applies = bool(run_rule(fn, {}, run.member_view(), run.context()))
        except RuleFailure:
            applies = True
        if applies:
            words += restrict.words
    return tuple(dict.fromkeys(words))


def _locale(state: MemberState, model: Messages, send: Send) -> str:
    """The member's language when a template speaks it, else the program's default."""
    wanted = state.profile.get("locale") or state.profile.get("language")
    return wanted if isinstance(wanted, str) and wanted in send.template else model.default_locale

