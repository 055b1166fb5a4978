"""The checking stage of the ``messages:`` section (:mod:`.messages`): what its models alone
cannot see. Ids are unique, each fact is one its trigger gives (and a member fact's field is
declared), each template states only the facts listed, the default language has a template,
lengths fit the channel, and the daily cap is within what compliance allows."""

from __future__ import annotations

from .checked import CheckedRuleset
from .errors import Code, Diagnostic
from .message_words import literal_problems
from .messages import COMMON_FACTS, MEMBER_FACTS, TRIGGERS, Messages, Send, max_length, placeholders

__all__ = ["message_diagnostics"]


def message_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    """What the models cannot see: unique ids, facts the trigger gives, templates stating only
    the facts listed, a template in the default language, and caps within compliance."""
    model = state.valid_model
    messages = model.messages
    if messages is None:
        return []
    out: list[Diagnostic] = []
    seen: set[str] = set()
    for i, send in enumerate(messages.send):
        path = ("messages", "send", i)
        if send.id in seen:
            out.append(Diagnostic(Code.DUPLICATE_ID, f"message {send.id!r} is defined twice",
                                  state.source.value((*path, "id")).span))
        seen.add(send.id)
        out += _facts(state, path, send, set(model.schema_.member))
        out += _templates(state, path, send, messages.default_locale, messages.banned)
        out += _length(state, path, send, messages)
    return out + _within_compliance(state, messages) + _one_warning(state, messages)


def _one_warning(state: CheckedRuleset, messages: Messages) -> list[Diagnostic]:
    """A streak is said to be at risk once a period, so every streak_at_risk message shares one before:."""
    befores = {str(s.before) if s.before else "1 day": i for i, s in enumerate(messages.send)
               if s.on == "streak_at_risk"}
    if len(befores) <= 1:
        return []
    where = ("messages", "send", max(befores.values()))
    return [Diagnostic(Code.SCHEMA_ERROR, f"streak_at_risk messages warn at different times ({', '.join(befores)})",
                       state.source.key(where), hint="give every streak_at_risk message the same before:")]


def _facts(state: CheckedRuleset, path: tuple[str | int, ...], send: Send, member: set[str]) -> list[Diagnostic]:
    out = []
    given = (*COMMON_FACTS, *TRIGGERS[send.on])
    for j, fact in enumerate(send.facts):
        span = state.source.value((*path, "facts", j)).span
        if fact not in given:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"a {send.on} message has no fact {fact!r}", span,
                                  hint=f"facts a {send.on} message can state: {', '.join(given)}"))
        elif fact in MEMBER_FACTS and MEMBER_FACTS[fact] not in member:
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"fact {fact!r} reads member.{MEMBER_FACTS[fact]}, which "
                                  "the schema does not declare", span,
                                  hint=f"declare {MEMBER_FACTS[fact]} under schema: member:"))
    return out


def _templates(state: CheckedRuleset, path: tuple[str | int, ...], send: Send, default: str,
               banned: list[str]) -> list[Diagnostic]:
    out = []
    if default not in send.template:
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"message {send.id} has no template in the default language "
                              f"{default!r}", state.source.key((*path, "template")),
                              hint=f"add a {default}: template; members in other languages fall back to it"))
    for locale, text in send.template.items():
        span = state.source.value((*path, "template", locale)).span
        try:
            names = placeholders(text)
        except ValueError as exc:
            out.append(Diagnostic(Code.SCHEMA_ERROR, str(exc), span))
            continue
        out += [Diagnostic(Code.SCHEMA_ERROR, f"the {locale} template of message {send.id} {problem}", span,
                           hint="a template's own words state no number, promise, money or link: facts do")
                for problem in literal_problems(text, banned)]
        for name in dict.fromkeys(n for n in names if n not in send.facts):
            out.append(Diagnostic(Code.SCHEMA_ERROR, f"the {locale} template states {{{name}}}, which is not "
                                  f"among the facts of message {send.id}", span,
                                  hint=f"add {name} to facts:, or take it out of the template"))
    return out


def _length(state: CheckedRuleset, path: tuple[str | int, ...], send: Send, messages: Messages) -> list[Diagnostic]:
    limit, most = messages.limit(send), max_length(send.channel)
    if limit <= most:
        return []
    where = (*path, "length") if send.length else ("messages", "length", send.channel)
    return [Diagnostic(Code.SCHEMA_ERROR, f"{limit} characters is longer than any {send.channel} carries",
                       state.source.value(where).span, hint=f"at most {most} for {send.channel}")]


def _within_compliance(state: CheckedRuleset, messages: Messages) -> list[Diagnostic]:
    most = state.valid_model.compliance.require.max_messages_per_day
    day = messages.caps.per_day
    if most is None or day is None or day <= most:
        return []
    return [Diagnostic(Code.COMPLIANCE_ERROR, f"messages may be sent {day} times a day, but compliance allows at most "
                       f"{most}", state.source.value(("messages", "caps", "per_day")).span,
                       hint=f"lower caps: per_day: to {most} or less")]
