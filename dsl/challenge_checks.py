"""The checking stage of the ``challenges:`` section (:mod:`.challenges`): what its models
alone cannot see. Ids are unique, a challenge that counts events has a whole target, a badge
is not an achievement's id (both are kept among the member's badges), and ``challenge_join``
is built in rather than declared by hand."""

from __future__ import annotations

from collections.abc import Iterator

from .challenges import CHALLENGE_EVENTS
from .checked import CheckedRuleset
from .errors import Code, Diagnostic

__all__ = ["challenge_diagnostics"]


def challenge_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    """Every problem of the ruleset's challenges that validation of the models cannot see."""
    model = state.valid_model
    if not model.challenges:
        return []
    out = list(_ids(state))
    achievements = {achievement.id for achievement in model.achievements}
    for i, challenge in enumerate(model.challenges):
        if challenge.progress is None and challenge.target != challenge.target.to_integral_value():
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"challenge {challenge.id} counts events, so its target "
                                  f"{challenge.target} must be a whole number",
                                  state.source.value(("challenges", i, "target")).span,
                                  hint="write a whole target, e.g. 5, or add progress: to count something else"))
        badge = challenge.reward.badge
        if badge is not None and badge in achievements:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"the badge {badge!r} is also an achievement's id",
                                  state.source.value(("challenges", i, "reward", "badge")).span,
                                  hint="give the challenge's badge a name of its own"))
    out += list(_built_in_types(state))
    for name in sorted(set(CHALLENGE_EVENTS) & set(model.schema_.events)):
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type in a ruleset with challenges",
                              state.source.key(("schema", "events", name)), hint="rename the declared event type"))
    return out


def _ids(state: CheckedRuleset) -> Iterator[Diagnostic]:
    seen: dict[str, int] = {}
    for i, challenge in enumerate(state.valid_model.challenges):
        if challenge.id in seen:
            first = state.source.value(("challenges", seen[challenge.id], "id")).span
            yield Diagnostic(Code.DUPLICATE_ID, f"the challenge id {challenge.id!r} is used twice "
                             f"(first at line {first.line})", state.source.value(("challenges", i, "id")).span,
                             hint="challenge ids name the member's progress: make each unique")
        else:
            seen[challenge.id] = i


def _built_in_types(state: CheckedRuleset) -> Iterator[Diagnostic]:
    """A challenge counts the member's own events (purchases, visits, lessons), never the built-in
    ones the engine handles itself (a refund takes progress back instead)."""
    model = state.valid_model
    built_in = set(model.event_fields()) - set(model.schema_.events)
    for i, challenge in enumerate(model.challenges):
        for j, name in enumerate(challenge.on):
            if name in built_in:
                yield Diagnostic(Code.SCHEMA_ERROR, f"challenge {challenge.id} cannot count {name} events: "
                                 f"{name} is built in", state.source.value(("challenges", i, "on", j)).span,
                                 hint="name the ruleset's own event types, e.g. purchase")
