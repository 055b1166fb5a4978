"""What `check` reads in a test's ``expect:``: its keys, and the tier, badge and streak
names it holds, each compared with what the ruleset defines, as `test` would compare
them. A typo is found here, at its place, not when the test runs and fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .checked import CheckedRuleset
from .checker import did_you_mean
from .errors import Code, Diagnostic
from .vocabulary import EXPECT_KEYS

__all__ = ["expect_diagnostics"]


def expect_diagnostics(state: CheckedRuleset, expect: Any, path: tuple) -> Iterator[Diagnostic]:
    """Diagnostics for one ``expect:`` mapping at ``path`` (on a test or on one of its events)."""
    if not isinstance(expect, dict):
        return
    for key in expect:
        if key not in EXPECT_KEYS:
            yield Diagnostic(Code.SCHEMA_ERROR, f"unknown expect key {key!r}", state.source.key((*path, key)),
                             hint=did_you_mean(str(key), EXPECT_KEYS) or f"known keys: {', '.join(EXPECT_KEYS)}",
                             width=len(str(key)))
    yield from _names(state, expect, path)


def _names(state: CheckedRuleset, expect: dict, path: tuple) -> Iterator[Diagnostic]:
    model = state.valid_model
    tiers = [level.name for level in model.tiers.levels] if model.tiers else []
    badges = sorted({a.badge for a in model.achievements if a.badge}
                    | {c.reward.badge for c in model.challenges if c.reward.badge})  # dsl/challenges.py
    streaks = [s.id for s in model.streaks]
    tier = expect.get("tier")
    if tier is not None and tier not in tiers:  # null: the member has no tier
        yield _unknown(state, "tier", tier, "which is not a tier of this ruleset", tiers, "this ruleset has no tiers",
                       state.source.value((*path, "tier")).span)
    wanted = expect.get("badges")
    for index, badge in (enumerate(wanted) if isinstance(wanted, list) else [(None, wanted)] if wanted else []):
        if str(badge) not in badges:
            where = path + ("badges",) + ((index,) if index is not None else ())
            yield _unknown(state, "badge", badge, "which no achievement awards", badges,
                           "no achievement awards a badge", state.source.value(where).span)
    kinds = [send.id for send in model.messages.send] if model.messages else []
    for key in ("messages", "suppressed"):
        wanted = expect.get(key)
        for index, kind in (enumerate(wanted) if isinstance(wanted, list) else [(None, wanted)] if wanted else []):
            if str(kind) not in kinds:
                where = (*path, key, *((index,) if index is not None else ()))
                yield _unknown(state, "message", kind, "which is not a message of this ruleset", kinds,
                               "this ruleset has no messages", state.source.value(where).span)
    lengths = expect.get("streak")
    for streak in (lengths if isinstance(lengths, dict) else ()):
        if streak not in streaks:
            yield _unknown(state, "streak", streak, "which is not a streak of this ruleset", streaks,
                           "this ruleset has no streaks", state.source.key((*path, "streak", streak)))


def _unknown(state, kind: str, name: Any, why: str, known: list[str], none: str, span) -> Diagnostic:
    text = str(name)
    hint = (did_you_mean(text, known) or f"{kind}s: {', '.join(known)}") if known else none
    return Diagnostic(Code.UNKNOWN_NAME, f"expect names {kind} {text!r}, {why}", span, hint=hint, width=len(text))
