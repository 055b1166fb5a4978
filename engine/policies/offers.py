"""Offers: personal offers chosen for a member, and the earning rule each grants while it is
active (docs/offers.md).

This module owns an offer's life and everything the engine does with it:

- **compiling** (:func:`fill`): each template's granted rule joins the earning rules of the
  event types it runs on, as ``offer:<template id>``, with a cap of its own (its ``cap:``, or
  none, counted from when the offer was selected) and its ``budget:``. It pays through the
  earning policy like any rule: stacking, caps, budgets and rounding are not written again here;
- **choosing** (:mod:`.offers_choose`) and **selecting** what was chosen: on an event type in
  ``choose.on`` (after its points), on an ``offer_choose`` event, never when a host only asks
  (:func:`offers_for`, behind ``Engine.offers``);
- **the life of an offer**: selected, presented (``offer_presented``), activated (at once, or by
  ``offer_activated``), used (its granted rule paid), expired (its deadline, in housekeeping);
- **the phases**: ``offers`` before earning (which offers are active for this event) and
  ``offer_choice`` after the streaks (what the granted rules paid, then choosing);
- **housekeeping**: expiring offers at their deadline and forgetting ended ones after
  ``keep_ended``.

Each change is an ``offer`` effect on the decision: ``{offer, template, status}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from punchcard.dsl.duration import Duration
from punchcard.dsl.models import models_used as models_in
from punchcard.dsl.offers import OFFER_CHOOSE, OfferTemplate

from ..program import CapSpec, Compiled, ExprFn, Plan, Rule
from ..runtime import calendar
from ..runtime.context import NOT_WHEN, EvalContext
from ..runtime.decision import Effect, Step
from ..runtime.run import Rejected, Run
from ..runtime.state import FORGET, ZERO, CapUsage, MemberState, OfferRecord
from . import tiers
from .offers_choose import LIVE, Candidate, OfferPlan, TemplatePlan, choose, models_used, trace_steps
from .profile import fold, offer_key
from .scoring import MemberScores, member_scores

__all__ = ["PLAN_KEY", "plan_of", "fill", "before_earning", "after_event", "housekeep", "HANDLERS", "offers_for",
           "select", "Candidate", "ActiveOffers", "paid_on"]

PLAN_KEY = "offers:plan"  # the compiled offers in ``compiled.memo``


def plan_of(compiled: Compiled) -> OfferPlan | None:
    found: OfferPlan | None = compiled.memo.get(PLAN_KEY)
    return found


# -- compiling ---------------------------------------------------------------------------------
def fill(compiled: Compiled) -> None:
    """Compile the ruleset's offers: a plan in ``compiled.memo``, each granted rule in the plans of
    its event types, and its cap and budget in the limit plan. Nothing without ``offers:``."""
    offers = compiled.model.offers
    if offers is None:
        return
    templates = []
    for i, template in enumerate(offers.templates):
        path = ("offers", "templates", i)
        tp = TemplatePlan(template, compiled.functions.get((*path, "eligible")), f"offer:{template.id}",
                          f"offer:{template.id}")
        templates.append(tp)
        rule = _granted_rule(tp, compiled.functions.get((*path, "grant", "when")),
                             compiled.functions.get((*path, "grant", template.kind)))
        for event_type in template.grant.on:
            compiled.plans[event_type].rules.append(rule)
    no_offer = tuple((rule, compiled.functions[("compliance", "forbid", i, "when")])
                     for i, rule in enumerate(compiled.model.compliance.forbid) if rule.action == "no_offer")
    rank = compiled.checked.exprs[("offers", "choose", "rank")].node
    compiled.memo[PLAN_KEY] = OfferPlan(offers, tuple(templates), compiled.functions[("offers", "choose", "rank")],
                                        no_offer, tuple(sorted(models_in(rank) & set(compiled.scorers))))
    _limits(compiled, templates)


def _limits(compiled: Compiled, templates: list[TemplatePlan]) -> None:
    """Every granted rule gets a cap entry, so what it paid is counted in ``state.caps``; a
    template's ``cap:`` limits it, its ``budget:`` is a program budget on its rule."""
    limits = compiled.limit_plan
    first = len(compiled.model.earning.caps)
    specs = []
    for n, tp in enumerate(templates):
        cap = tp.template.cap
        specs.append(CapSpec(first + n, tp.cap_key, f"cap:{tp.rule_id}/{cap.period if cap else 'offer'}",
                             tp.rule_id, cap.period if cap else "lifetime", cap.max_points if cap else None,
                             cap.max_times if cap else None))
    budgets = tuple((tp.rule_id, tp.template.budget, f"budget:{tp.rule_id}") for tp in templates
                    if tp.template.budget is not None)
    compiled.limit_plan = dataclasses.replace(limits, rule_caps=limits.rule_caps + tuple(specs),
                                              budgets=limits.budgets + budgets)


def _granted_rule(tp: TemplatePlan, when: ExprFn | None, value: ExprFn | None) -> Rule:
    """The rule an offer grants: it fires only for a member holding the offer active, on an event
    its template's hours, days, minimum purchase and category allow, when its own when: holds."""
    template = tp.template

    def decide(ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext) -> Any:
        active = ctx.active_offers
        record = active.records.get(template.id) if active is not None else None
        if record is None:
            return NOT_WHEN
        fields = dict(record.fields)
        if not _qualifies(fields, ev, ctx.now):
            return NOT_WHEN
        saved = ctx.offer, ctx.lets
        ctx.offer, ctx.lets = fields, {}  # a let reading offer.<field> is not shared with other rules
        try:
            if when is not None and not when(ev, m, ctx):
                return NOT_WHEN
            active.qualified.add(template.id)
            if template.type == "streak_reward" and record.progress + 1 < (template.visits or 1):
                return NOT_WHEN  # not the visit that completes it yet
            return value(ev, m, ctx) if value is not None else fields["value"]
        finally:
            ctx.offer, ctx.lets = saved

    note = f"an active offer {template.id}" + (f" and {template.grant.when}" if template.grant.when else "")
    return Rule(tp.rule_id, template.kind, decide, template.grant.group, note)


def _qualifies(fields: dict[str, Any], ev: dict[str, Any], now: dt.datetime) -> bool:
    """The template's own conditions, as filled in for the member: hours, days, purchase, category."""
    hours = fields.get("hours")
    if hours is not None and not hours[0] <= now.hour < hours[1]:
        return False
    days = fields.get("days")
    if days is not None and now.weekday() not in days:
        return False
    least = fields.get("min_purchase")
    if least and not ev.get("amount", ZERO) >= least:
        return False
    category = fields.get("category")
    return not category or ev.get("category") == category


# -- the phases ---------------------------------------------------------------------------------
class ActiveOffers:
    """What the ``offers`` phase hands the granted rules and the ``offer_choice`` phase."""

    __slots__ = ("caps", "qualified", "records")

    def __init__(self, records: dict[str, OfferRecord], caps: dict[str, CapUsage | None]) -> None:
        self.records, self.caps = records, caps  # template id -> the active offer, its cap use before
        self.qualified: set[str] = set()  # templates whose conditions this event met


def active_at(state: MemberState, now: dt.datetime) -> list[OfferRecord]:
    return [r for r in state.offers.values() if r.status == "active" and r.activated_at is not None
            and r.activated_at <= now < r.valid_until]


def before_earning(run: Run, plan: Plan) -> None:
    """The ``offers`` phase: the member's active offers, for their granted rules to read."""
    records = {r.template: r for r in active_at(run.state, run.now)}
    if records:
        caps = {tid: run.state.caps.get(f"offer:{tid}") for tid in records}
        run.context().active_offers = ActiveOffers(records, caps)


def paid_on(compiled: Compiled, state: MemberState, order_id: str) -> ActiveOffers | None:
    """The offers whose granted rules paid on an order, as they were then: a refund re-prices the
    order with them (engine/policies/earning.py), so a part refund keeps the offer's share of
    what is left instead of clawing the whole offer back."""
    offers = plan_of(compiled)
    if offers is None:
        return None
    by_id = {tp.template.id: tp.template for tp in offers.templates}
    records = {}
    for record in state.offers.values():
        template = by_id.get(record.template)
        if template is None or all(order != order_id for order, _ in record.orders):
            continue
        # a streak reward paid on the visit that completed it, and that visit is this order
        progress = (template.visits or 1) - 1 if template.type == "streak_reward" else record.progress
        records[record.template] = dataclasses.replace(record, progress=progress)
    return ActiveOffers(records, {}) if records else None


def after_event(run: Run, plan: Plan) -> None:
    """The ``offer_choice`` phase: what each granted rule paid, then choosing on this event."""
    offers = plan_of(run.compiled)
    if offers is None:
        return
    active = run.ctx.active_offers if run.ctx is not None else None
    if active is not None:
        _note_uses(run, offers, active)
    if run.event.type in offers.model.choose.on and run.hold is None:
        select(run, offers, _chosen(run, offers, (run.event.type, run.values())))


def _note_uses(run: Run, offers: OfferPlan, active: ActiveOffers) -> None:
    by_id = {tp.template.id: tp.template for tp in offers.templates}
    for tid, record in active.records.items():
        template = by_id[tid]
        before, after = active.caps[tid], run.state.caps.get(f"offer:{tid}")
        progress = record.progress + (1 if tid in active.qualified else 0)
        if after is before or after is None:  # it paid nothing on this event
            if progress != record.progress:
                _put(run.state, dataclasses.replace(record, progress=progress))
            continue
        paid = after.points - (before.points if before is not None and before.period == after.period else ZERO)
        done = template.type == "streak_reward" or _used_up(template, after)
        new = dataclasses.replace(record, uses=record.uses + 1, paid=record.paid + paid, progress=0,
                                  used_at=record.used_at or run.now, status="used" if done else record.status,
                                  ended_at=run.now if done else None, orders=(*record.orders, (run.event.id, paid)))
        _put(run.state, new)
        if record.uses == 0:  # the member responded to the offer: counted once, however often it pays
            _fold_response(run.state, template, new, 1)
        run.effects.append(_effect(new, "used", paid=paid))


def _used_up(template: OfferTemplate, usage: CapUsage) -> bool:
    """The offer's own lifetime cap is reached: it can pay nothing more, so it ends as used."""
    cap = template.cap
    if cap is None or cap.period != "lifetime":
        return False
    return (cap.max_times is not None and usage.times >= cap.max_times) or \
        (cap.max_points is not None and usage.points >= cap.max_points)


# -- selecting ---------------------------------------------------------------------------------
def _member(compiled: Compiled, state: MemberState, now: dt.datetime) -> dict[str, Any]:
    """What member.<field> reads when no event is being decided, as Run.member_view builds it."""
    m = {**state.profile, "id": state.member_id, "tier": tiers.current_name(compiled, state)}
    if compiled.reads_balance:
        m["balance"] = state.available(now)
    return m


def _chosen(run: Run, offers: OfferPlan, event: tuple[str, dict[str, Any]] | None) -> list[Candidate]:
    candidates = choose(run.compiled, offers, run.state, run.now, run.member_view(), event)
    used = models_used(candidates)
    if used:  # the decision is stamped with the models choosing scored with
        ctx = run.context()
        if not isinstance(ctx.scorer, MemberScores):
            ctx.scorer = member_scores(run)
        ctx.scorer.used.update(used)
    if run.tracing:
        trace_steps(candidates, run.trace)
    return candidates


def select(run: Run, offers: OfferPlan, candidates: list[Candidate]) -> None:
    """The kept candidates become the member's offers, selected by this event's decision."""
    by_id = {tp.template.id: tp for tp in offers.templates}
    for candidate in sorted((c for c in candidates if c.kept), key=lambda c: -(c.rank or 0)):  # stable
        template = by_id[candidate.template].template
        until = calendar.add(run.now, template.valid_for.amount, template.valid_for.unit, run.compiled.tz)
        automatic = template.activation == "automatic"
        record = OfferRecord(f"{template.id}:{run.event.id}", template.id, "active" if automatic else "selected",
                             run.now, until, run.event.id, tuple(candidate.fields.items()),
                             activated_at=run.now if automatic else None)
        _put(run.state, record)
        run.state.put("caps", f"offer:{template.id}", FORGET)  # its cap counts from now
        run.state.schedule(until)
        run.effects.append(_effect(record, "selected", rank=candidate.rank, valid_until=until))
        if automatic:
            run.effects.append(_effect(record, "activated"))


def _put(state: MemberState, record: OfferRecord) -> None:
    state.put("offers", record.id, record)


def _effect(record: OfferRecord, status: str, **detail: Any) -> Effect:
    return Effect("offer", None, None, {"offer": record.id, "template": record.template, "status": status,
                                        **{k: v for k, v in detail.items() if v is not None}})


def _fold_response(state: MemberState, template: OfferTemplate, record: OfferRecord, which: int) -> None:
    """The member's profile counts responses to similar offers (0 presented, 1 used) for the models."""
    if state.journal is not None:
        state.journal.replaced_attribute(state, "activity", state.activity)
    state.activity = fold(state.activity, record.selected_at, offer=(offer_key(template.type,
                                                                              dict(record.fields).get("category")),
                                                                    which))


# -- the host's events -------------------------------------------------------------------------
def _plan_or_refuse(run: Run) -> OfferPlan:
    offers = plan_of(run.compiled)
    if offers is None:  # the event type exists only with offers: a compiled ruleset always has them
        raise Rejected(f"{run.compiled.label} has no offers")
    return offers


def offer_choose(run: Run) -> None:
    """``offer_choose``: choose offers for the member now; this decision selects them."""
    offers = _plan_or_refuse(run)
    select(run, offers, _chosen(run, offers, None))


def _record(run: Run) -> OfferRecord:
    offer_id = run.event.fields["offer"]
    record = run.state.offers.get(offer_id)
    if record is None:
        raise Rejected(f"the member has no offer {offer_id!r}")
    if record.status not in LIVE:
        raise Rejected(f"offer {offer_id} has ended ({record.status})")
    return record


def offer_presented(run: Run) -> None:
    """``offer_presented``: the host showed the offer to the member."""
    offers = _plan_or_refuse(run)
    record = _record(run)
    if record.presented_at is not None:
        run.trace.append(Step("offers", f"offer:{record.template}", False, f"{record.id} was presented already"))
        return
    status = "presented" if record.status == "selected" else record.status
    new = dataclasses.replace(record, presented_at=run.now, status=status)
    _put(run.state, new)
    template = next(tp.template for tp in offers.templates if tp.template.id == record.template)
    _fold_response(run.state, template, new, 0)
    run.effects.append(_effect(new, "presented"))
    run.trace.append(Step("offers", f"offer:{record.template}", True, f"{record.id} presented"))


def offer_activated(run: Run) -> None:
    """``offer_activated``: the member took the offer up; its granted rule pays from now."""
    _plan_or_refuse(run)
    record = _record(run)
    if record.status == "active":
        run.trace.append(Step("offers", f"offer:{record.template}", False, f"{record.id} is active already"))
        return
    new = dataclasses.replace(record, status="active", activated_at=run.now)
    _put(run.state, new)
    run.effects.append(_effect(new, "activated"))
    run.trace.append(Step("offers", f"offer:{record.template}", True, f"{record.id} activated"))


HANDLERS = {OFFER_CHOOSE: offer_choose, "offer_presented": offer_presented, "offer_activated": offer_activated}


# -- housekeeping --------------------------------------------------------------------------------
def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> list[dt.datetime]:
    """Expire the offers whose deadline has come; forget ended ones after ``keep_ended``.
    Returns the deadlines left: each live offer's end, and when the oldest ended one goes."""
    offers = plan_of(compiled)
    if offers is None or not state.offers:
        return []
    keep = offers.model.keep_ended
    deadlines = []
    for found in list(state.offers.values()):
        record = found
        if record.status in LIVE and record.valid_until <= now:
            record = dataclasses.replace(found, status="expired", ended_at=found.valid_until)
            _put(state, record)
            effects.append(_effect(record, "expired"))
        if record.status in LIVE:
            deadlines.append(record.valid_until)
            continue
        forget = _forget_at(compiled, record, keep)
        if forget <= now:
            state.put("offers", record.id, FORGET)
        else:
            deadlines.append(forget)
    return deadlines


def _forget_at(compiled: Compiled, record: OfferRecord, keep: Duration) -> dt.datetime:
    """``keep_ended`` after its end; one that paid on orders is kept while they can be refunded
    too, so a refund re-prices them with it (:func:`paid_on`)."""
    end = record.ended_at or record.valid_until
    forget = calendar.add(end, keep.amount, keep.unit, compiled.tz)
    if record.orders:
        window = compiled.model.points.refunds.window
        forget = max(forget, calendar.add(end, window.amount, window.unit, compiled.tz))
    return forget


# -- a host asking -------------------------------------------------------------------------------
def offers_for(compiled: Compiled, state: MemberState, at: dt.datetime) -> list[Candidate]:
    """Every candidate for the member at ``at`` with its reason, the kept ones first by rank.
    ``state`` is as housekeeping leaves it by ``at`` (the caller's copy): nothing is selected."""
    offers = plan_of(compiled)
    if offers is None:
        return []
    candidates = choose(compiled, offers, state, at, _member(compiled, state, at), None)
    return sorted(candidates, key=lambda c: (not c.kept, -(c.rank or 0) if c.kept else 0))

