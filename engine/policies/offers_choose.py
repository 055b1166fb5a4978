"""Choosing offers for a member at a time (docs/offers.md): the candidates, step by step.

1. **eligible**: the template's ``eligible:`` expression (and no live offer of it already);
2. **fill**: what the template asks of the member's history (favourite category, usual hours);
3. **compliance**: every ``no_offer`` rule that applies, asked about the filled-in offer;
4. **rank**: ``choose.rank``, highest first (ties: the catalogue's order); each model it reads
   scores the candidates that got this far, and only those, in one batch;
5. **top**: the first ``choose.top``, within the frequency caps (``max_active``, ``max_new``).

Every candidate ends with a step and a reason, kept or not: the trace and ``Engine.offers``
show them. Choosing changes nothing: :mod:`.offers` selects what it keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from punchcard.dsl.model import ForbidRule
from punchcard.dsl.offers import Offers, OfferTemplate

from ..program import Compiled, ExprFn
from ..runtime import calendar
from ..runtime.context import EvalContext
from ..runtime.decision import Step
from ..runtime.numbers import figure
from ..runtime.rules import FAILURES, failure
from ..runtime.state import MemberState, OfferRecord
from .features import offer_features
from .profile import favourite_category, profile_of, usual_hours
from .scoring import MemberScores, score_rows

__all__ = ["LIVE", "DAYS", "TemplatePlan", "OfferPlan", "Candidate", "choose", "offer_fields", "live_offers",
           "trace_steps", "models_used"]

LIVE = ("selected", "presented", "active")  # an offer not yet ended
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True, slots=True, eq=False)
class TemplatePlan:
    """A template with its compiled expressions."""

    template: OfferTemplate
    eligible: ExprFn | None
    rule_id: str  # its granted rule's id in the plans: offer:<template id>
    cap_key: str  # where its granted rule's use is counted in ``state.caps``


@dataclass(frozen=True, slots=True, eq=False)
class OfferPlan:
    """A ruleset's offers as compiled: in ``compiled.memo[PLAN_KEY]`` (engine/policies/offers.py)."""

    model: Offers
    templates: tuple[TemplatePlan, ...]
    rank: ExprFn
    no_offer: tuple[tuple[ForbidRule, ExprFn], ...]  # the compliance rules that forbid offers
    rank_models: tuple[str, ...] = ()  # the models choose.rank scores with: scored in one batch


@dataclass(slots=True)
class Candidate:
    """One template considered for the member: how far it got, and why it stopped there."""

    template: str
    type: str
    step: str = "eligible"  # the last step it reached
    kept: bool = False
    reason: str = ""
    rank: Decimal | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # model -> version its rank scored with
    scores: dict[str, Decimal] = field(default_factory=dict)  # model -> its score with this offer's features

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"template": self.template, "type": self.type, "kept": self.kept, "step": self.step,
                               "reason": self.reason}
        if self.rank is not None:
            out["rank"] = self.rank
        if self.fields:
            out["offer"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.fields.items()}
        if self.scores:
            out["scores"] = {name: {"score": value, "version": self.models.get(name)}
                             for name, value in self.scores.items()}
        return out


def live_offers(state: MemberState) -> list[OfferRecord]:
    return [record for record in state.offers.values() if record.status in LIVE]


def offer_fields(template: OfferTemplate) -> dict[str, Any]:
    """What ``offer.<field>`` reads before the member's history fills anything in."""
    # every field is there, so a rule reading one never fails for an offer without it:
    # no category is "", no minimum purchase 0 (a favourite category is filled in later)
    category = template.category if template.category not in (None, "favourite") else ""
    out: dict[str, Any] = {"id": template.id, "type": template.type, "value": template.amount, "lift": template.lift,
                           "category": category, "min_purchase": template.min_purchase or Decimal(0)}
    if isinstance(template.hours, str) or template.hours is None:
        pass  # "usual" is filled in from history; None: any hour
    else:
        out["hours"] = (template.hours.from_, template.hours.to)
    if template.days:
        out["days"] = tuple(sorted(DAYS[d] for d in template.days))
    return out


def choose(compiled: Compiled, plan: OfferPlan, state: MemberState, now: dt.datetime, m: dict[str, Any],
           event: tuple[str, dict[str, Any]] | None) -> list[Candidate]:
    """Every template as a candidate, ranked; ``kept`` ones are to be selected. ``event``: the
    event type and values choosing runs on (None: a host asking, or ``offer_choose``)."""
    live = {record.template: record for record in live_offers(state)}
    candidates: list[Candidate] = []
    ranking: list[tuple[Candidate, EvalContext]] = []  # the candidates that reach the rank
    for tp in plan.templates:
        candidate = Candidate(tp.template.id, tp.template.type, fields=offer_fields(tp.template))
        candidates.append(candidate)
        if tp.template.id in live:
            record = live[tp.template.id]
            candidate.reason = f"already offered: {record.id} is {record.status} until {record.valid_until.isoformat()}"
        elif _eligible(compiled, tp, state, now, m, candidate) and _fill(tp.template, state, candidate) \
                and _allowed(compiled, plan, state, now, m, event, candidate):
            ranking.append((candidate, _context(compiled, state, now, candidate.fields)))
    if plan.rank_models and ranking:
        _batch_scores(compiled, plan.rank_models, state, now, ranking)
    for candidate, ctx in ranking:
        _rank(plan, m, ctx, candidate)
    _top(compiled, plan, state, now, candidates, len(live))
    return candidates


def _batch_scores(compiled: Compiled, names: tuple[str, ...], state: MemberState, now: dt.datetime,
                  ranking: list[tuple[Candidate, EvalContext]]) -> None:
    """Each model the rank reads scores every candidate that reached the rank in one call, and
    only those: the member's features are read once, each candidate adds its offer's features
    (as :class:`MemberScores` would, one at a time). The scores wait in each candidate's context."""
    member = MemberScores(compiled, state, now).row()
    profile = profile_of(state)
    rows = []
    for candidate, _ctx in ranking:
        value = candidate.fields.get("value")
        rows.append({**member, **offer_features(profile, str(candidate.fields.get("type", "")),
                                                candidate.fields.get("category"),
                                                value if isinstance(value, Decimal) else Decimal(0))})
    for name in names:
        version = compiled.scorers[name].version
        for (_candidate, ctx), score in zip(ranking, score_rows(compiled, name, rows), strict=True):
            ctx.scorer.scores[name], ctx.scorer.used[name] = score, version


def _context(compiled: Compiled, state: MemberState, now: dt.datetime, fields: dict[str, Any]) -> EvalContext:
    """A context of its own for each question: a let that reads offer.<field> is not shared, and
    ``score("NAME")`` scores the member with this offer's features (engine/policies/scoring.py)."""
    ctx = EvalContext(now, compiled.tz, state.history, None)
    ctx.offer = fields
    if compiled.scorers:
        ctx.scorer = MemberScores(compiled, state, now, None, fields)
    return ctx


def _ask(fn: ExprFn, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
         candidate: Candidate) -> tuple[Any, str | None]:
    """(value, None), or (None, why it could not be computed). The models it scored with are
    noted on the candidate, for the decision's stamp (:func:`models_used`)."""
    try:
        return fn(ev, m, ctx), None
    except FAILURES as exc:
        return None, failure(exc)
    finally:
        if isinstance(ctx.scorer, MemberScores):
            candidate.models.update(ctx.scorer.used)
            candidate.scores.update(ctx.scorer.scores)


def models_used(candidates: list[Candidate]) -> dict[str, str]:
    """(model -> version) of every score choosing asked for."""
    used: dict[str, str] = {}
    for candidate in candidates:
        used.update(candidate.models)
    return used


def _eligible(compiled: Compiled, tp: TemplatePlan, state: MemberState, now: dt.datetime, m: dict[str, Any],
              candidate: Candidate) -> bool:
    if tp.eligible is None:
        return True
    value, why = _ask(tp.eligible, {}, m, _context(compiled, state, now, candidate.fields), candidate)
    if why is not None or not value:
        candidate.reason = f"not eligible: {why}" if why else f"not eligible: {tp.template.eligible}"
        return False
    return True


def _fill(template: OfferTemplate, state: MemberState, candidate: Candidate) -> bool:
    candidate.step = "fill"
    profile = profile_of(state)
    filled = []
    if template.category == "favourite":
        favourite = favourite_category(profile)
        if favourite is None:
            candidate.reason = "no favourite category yet: no purchase with a category in the member's history"
            return False
        candidate.fields["category"] = favourite
        filled.append(f"category {favourite} (favourite)")
    if template.hours == "usual":
        hours = usual_hours(profile)
        if hours is None:
            candidate.reason = "no usual hours yet: no visit in the member's history"
            return False
        candidate.fields["hours"] = hours
        filled.append(f"hours {hours[0]:02d}-{hours[1]:02d} (usual)")
    candidate.reason = "filled in: " + ", ".join(filled) if filled else "nothing to fill in"
    return True


def _allowed(compiled: Compiled, plan: OfferPlan, state: MemberState, now: dt.datetime, m: dict[str, Any],
             event: tuple[str, dict[str, Any]] | None, candidate: Candidate) -> bool:
    """No ``no_offer`` rule forbids it. One that cannot tell (a field it reads is missing)
    forbids it too: compliance is never guessed."""
    candidate.step = "compliance"
    kind, ev = event if event is not None else (None, {})
    for rule, fn in plan.no_offer:
        if rule.on is not None and kind not in rule.on:
            continue  # a rule for other event types (or for events, when there is none)
        value, why = _ask(fn, ev, m, _context(compiled, state, now, candidate.fields), candidate)
        if why is not None:
            candidate.reason = f"compliance rule {rule.id} could not tell ({why}): not offered, to be safe"
            return False
        if value:
            candidate.reason = f"compliance rule {rule.id} forbids it: {rule.when}"
            return False
    candidate.reason = f"no compliance rule forbids it ({len(plan.no_offer)} asked)" if plan.no_offer else \
        "no compliance rule forbids offers"
    return True


def _rank(plan: OfferPlan, m: dict[str, Any], ctx: EvalContext, candidate: Candidate) -> None:
    candidate.step = "rank"
    value, why = _ask(plan.rank, {}, m, ctx, candidate)
    if why is not None:
        candidate.reason = f"rank could not be computed: {why}"
        return
    candidate.rank = value if type(value) is Decimal else Decimal(value)
    candidate.kept = True  # so far: top N decides


def _top(compiled: Compiled, plan: OfferPlan, state: MemberState, now: dt.datetime, candidates: list[Candidate],
         live: int) -> None:
    """Keep the first ``top`` by rank, within the frequency caps; say why each other one lost."""
    ranked = sorted((c for c in candidates if c.kept), key=lambda c: -(c.rank or 0))  # stable: catalogue order
    choose = plan.model.choose
    room, cap_note = choose.top, f"top {choose.top}"
    if choose.max_active - live < room:
        room, cap_note = max(0, choose.max_active - live), f"{live} live of at most {choose.max_active} at once"
    if choose.max_new is not None:
        since = calendar.add(now, -choose.max_new.within.amount, choose.max_new.within.unit, compiled.tz)
        recent = sum(1 for r in state.offers.values() if since < r.selected_at <= now)
        if choose.max_new.count - recent < room:
            room = max(0, choose.max_new.count - recent)
            cap_note = f"{recent} new within {choose.max_new.within} of at most {choose.max_new.count}"
    winners = [c.template for c in ranked[:room]]
    for position, candidate in enumerate(ranked):
        candidate.step = "top"
        if position < room:
            candidate.reason = f"ranked {position + 1} with {figure(candidate.rank or Decimal(0))}"
        elif position < choose.top:
            candidate.kept, candidate.reason = False, f"frequency cap: {cap_note}"
        else:
            candidate.kept = False
            candidate.reason = f"outranked: {', '.join(winners)} ranked higher ({cap_note})" if winners else \
                f"frequency cap: {cap_note}"


def trace_steps(candidates: list[Candidate], trace: list[Step]) -> None:
    """Each candidate's line: the step it reached and why it was kept, dropped or outranked,
    after a line for each score it was asked with (the model's name and version)."""
    for c in candidates:
        for name, score in c.scores.items():
            version = c.models.get(name, "")
            trace.append(Step("models", name, None, f"{name} {version} scored {figure(score)} for offer:{c.template}",
                              {"score": score, "version": version, "offer": c.template}))
        values = {"rank": c.rank} if c.rank is not None else {}
        trace.append(Step("offers", f"offer:{c.template}", c.kept, f"{c.step}: {c.reason}", values))
