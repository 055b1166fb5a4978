"""The checking stage of ``rewards:`` and ``redemption:`` (:mod:`.rewards`): what the models
alone cannot see. Reward ids are unique, the tiers a reward allows exist, and a step of
points is worth a whole number of the currency's minor units, so points plus cash is exact."""

from __future__ import annotations

from decimal import Decimal

from .checked import CheckedRuleset
from .errors import Code, Diagnostic
from .model import Ruleset
from .rewards import RedemptionTerms

__all__ = ["reward_diagnostics"]


def reward_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    model = state.valid_model
    out = _catalogue(state, model)
    if model.redemption is not None:
        out += _terms(state, model, model.redemption)
    return out


def _catalogue(state: CheckedRuleset, model: Ruleset) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set[str] = set()
    levels = [level.name for level in model.tiers.levels] if model.tiers is not None else []
    for i, reward in enumerate(model.rewards):
        if reward.id in seen:
            out.append(Diagnostic(Code.DUPLICATE_ID, f"reward {reward.id!r} is in the catalogue twice",
                                  state.source.value(("rewards", i, "id")).span,
                                  hint="give each reward its own id: redemptions and stock are kept by it"))
        seen.add(reward.id)
        if reward.points % model.rounding.step != 0:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"reward {reward.id} costs {reward.points} points, which is not "
                                  f"a whole number of the rounding step {model.rounding.step}",
                                  state.source.value(("rewards", i, "points")).span,
                                  hint="points are kept in whole rounding steps: price the reward in them"))
        for j, tier in enumerate(reward.tiers or ()):
            if tier not in levels:
                known = ", ".join(levels) if levels else "none: the ruleset has no tiers:"
                out.append(Diagnostic(Code.SCHEMA_ERROR, f"reward {reward.id} allows tier {tier!r}, which is "
                                      f"not a level (levels: {known})",
                                      state.source.value(("rewards", i, "tiers", j)).span,
                                      hint="name a level of tiers:, or leave tiers: out to allow every member"))
    return out


def _terms(state: CheckedRuleset, model: Ruleset, terms: RedemptionTerms) -> list[Diagnostic]:
    out: list[Diagnostic] = _tier_rates(state, model, terms)
    minor = Decimal(10) ** model.money_places
    for rate in sorted({terms.rate, *terms.tier_rates.values()}):  # each rate a member may pay at
        worth = terms.step / rate * minor  # minor units one step of points pays
        if worth != worth.to_integral_value():
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"a step of {terms.step} points at {rate} points per "
                                  f"1 {model.currency} is not a whole number of the currency's smallest units",
                                  state.source.value(("redemption", "step")).span,
                                  hint="choose a step that pays whole cents (or fen), e.g. the rate itself"))
    if terms.step % model.rounding.step != 0:
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"a step of {terms.step} points is not a whole number of the "
                              f"rounding step {model.rounding.step}", state.source.value(("redemption", "step")).span,
                              hint="points are kept in whole rounding steps: make step: a multiple of it"))
    for name in ("min_points", "max_points"):
        value = getattr(terms, name)
        if value is not None and value % terms.step != 0:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} {value} is not a whole multiple of the step "
                                  f"{terms.step}", state.source.value(("redemption", name)).span,
                                  hint="points are paid in whole steps: make it a multiple of step:"))
    return out


def _tier_rates(state: CheckedRuleset, model: Ruleset, terms: RedemptionTerms) -> list[Diagnostic]:
    """A level's own rate names a level of ``tiers:`` (docs/rewards.md, docs/tiers.md)."""
    levels = [level.name for level in model.tiers.levels] if model.tiers is not None else []
    out: list[Diagnostic] = []
    for level in terms.tier_rates:
        if level not in levels:
            known = ", ".join(levels) if levels else "none: the ruleset has no tiers:"
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"redemption has a rate for tier {level!r}, which is not a "
                                  f"level (levels: {known})", state.source.key(("redemption", "tier_rates", level)),
                                  hint="name a level of tiers:, or leave it out: that level pays at rate:"))
    return out
