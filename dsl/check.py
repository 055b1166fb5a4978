"""The checker: a table of small named stages from YAML text to a checked ruleset.

Each stage reads and extends a :class:`CheckedRuleset` and appends diagnostics;
stages after a fatal one are skipped. The result is what the engine compiles:
the pydantic model, every expression parsed and typed, the dependency graph, and
the sources for rendering errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from . import ast
from .challenge_checks import challenge_diagnostics
from .checked import CheckedExpr, CheckedRuleset
from .checker import ERROR, ExprChecker, SchemaView, Scope, did_you_mean
from .conversion_checks import conversion_diagnostics
from .cost import cost_diagnostics
from .document import validate_document, without_paths
from .errors import Code, Diagnostic, PunchcardError, sort_diagnostics
from .functions import FunctionSpec, function_table
from .loader import RawRuleset, read_ruleset, read_ruleset_text
from .message_checks import message_diagnostics
from .models import model_diagnostics
from .offer_checks import offer_diagnostics
from .parser import parse_expression
from .referral_checks import referral_diagnostics
from .reward_checks import reward_diagnostics
from .semantics import build_dependency_graph, check_semantics
from .sites import event_type_sites, expression_sites
from .sourcemap import Path, SourceMap
from .types import FIELD_TYPES, NUMBER, Type
from .variants import check_variants
from .vocabulary import BUILTIN_EVENTS, OPTIONAL, field_base_type

__all__ = ["CheckedExpr", "CheckedRuleset", "STAGES", "check_text", "check_path", "load_checked"]


Stage = Callable[[CheckedRuleset], None]


def _validate(state: CheckedRuleset) -> None:
    """Validate; on errors, drop the broken items and validate again so later stages
    can still report problems elsewhere in the file (errors are collected, not stopped at)."""
    data = state.raw.data
    for _attempt in range(4):
        model, problems, broken = validate_document(data, state.source)
        state.diagnostics.extend(p for p in problems if p not in state.diagnostics)
        if model is not None or not problems:
            break
        data = without_paths(data, broken, state.source)
        if data is None:
            break
    state.model = model


def _schema(state: CheckedRuleset) -> None:
    model = state.valid_model
    events: dict[str, dict[str, Type]] = {}
    optional: set[tuple[str, str]] = set()
    for name, fields in model.event_fields().items():
        events[name] = {}
        for fname, ftype in fields.items():
            base = field_base_type(ftype)
            events[name][fname] = NUMBER if base == "signed" else FIELD_TYPES[base]
            if ftype.startswith(OPTIONAL):
                optional.add((name, fname))
    for name in set(model.schema_.events) & (set(BUILTIN_EVENTS) | {"profile"}):
        state.diagnostics.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type; "
                                            "its fields are fixed", state.source.key(("schema", "events", name))))
    member = {f: FIELD_TYPES[field_base_type(t)] for f, t in model.schema_.member.items()}
    optional |= {("member", f) for f, t in model.schema_.member.items() if t.startswith(OPTIONAL)}
    tiers = tuple(level.name for level in model.tiers.levels) if model.tiers else ()
    state.schema = SchemaView(events, member, optional, tiers, tuple(model.models))


def _event_types(state: CheckedRuleset) -> None:
    known = state.valid_schema.events
    for path, name in event_type_sites(state.valid_model):
        if name not in known:
            state.diagnostics.append(Diagnostic(
                Code.UNKNOWN_NAME, f"unknown event type {name!r}", state.source.value(path).span,
                hint=did_you_mean(name, sorted(known)) or "declare it under schema.events"))


def _parse(state: CheckedRuleset) -> None:
    for name, text in state.valid_model.let.items():
        node = _parse_one(state, ("let", name), text)
        if node is not None:
            state.lets[name] = node
    for site in expression_sites(state.valid_model):
        node = _parse_one(state, site.path, site.text)
        if node is not None:
            state.exprs[site.path] = CheckedExpr(site.path, site.text, node, ERROR, site.scope, site.owner)


def _parse_one(state: CheckedRuleset, path: Path, text: str) -> ast.Node | None:
    try:
        return parse_expression(text, state.locator(path))
    except PunchcardError as exc:
        state.diagnostics.extend(exc.diagnostics)
        return None


def _typecheck(state: CheckedRuleset) -> None:
    sites = {site.path: site for site in expression_sites(state.valid_model)}
    for path, expr in state.exprs.items():
        site = sites[path]
        checker = _checker(state, path, site.scope)
        expr.type = checker.check(expr.node, site.expected, site.what)
        expr.lets = frozenset(checker.names_used)
        expr.aggregates = tuple(checker.aggregates)
        state.diagnostics.extend(checker.diagnostics)
    for name in state.lets:  # lets nothing uses are still checked, against any event type
        if not any(key[0] == name for key in state.let_types):
            _type_let(state, name, Scope(None))


def _checker(state: CheckedRuleset, path: Path, scope: Scope) -> ExprChecker:
    return ExprChecker(state.valid_schema, state.functions, set(state.valid_model.let),
                       lambda name, s: _type_let(state, name, s), state.locator(path), scope)


def _type_let(state: CheckedRuleset, name: str, scope: Scope) -> Type:
    key = (name, scope)
    if key in state.let_types:
        return state.let_types[key]
    state.let_types[key] = ERROR  # re-entry means a cycle; the cycle stage reports it
    node = state.lets.get(name)
    if node is None:
        return ERROR
    checker = _checker(state, ("let", name), scope)
    result = checker.check(node)
    state.let_uses.setdefault(name, set()).update(checker.names_used)
    state.diagnostics.extend(checker.diagnostics)
    state.let_types[key] = result
    return result


def _graph(state: CheckedRuleset) -> None:
    state.graph = build_dependency_graph(state)


def _semantics(state: CheckedRuleset) -> None:
    state.diagnostics.extend(check_semantics(state))


def _cost(state: CheckedRuleset) -> None:
    """Refuse rules too costly to evaluate for one event type, at the costliest rule."""
    state.diagnostics.extend(cost_diagnostics(state))


def _models(state: CheckedRuleset) -> None:
    """Each model file named under models: is there (compiling loads it: docs/models.md)."""
    state.diagnostics.extend(model_diagnostics(state))


def _variants(state: CheckedRuleset) -> None:
    """Each variant's whole ruleset checked by these same stages, once the ruleset itself is
    clean (its own errors would otherwise be told again for every variant)."""
    if not state.errors:
        state.variants = check_variants(state, lambda raw: _stages(CheckedRuleset(raw, state.functions)))


def _stages(state: CheckedRuleset) -> CheckedRuleset:
    for _name, stage in STAGES:
        stage(state)
        if state.model is None:
            break
    return state


STAGES: list[tuple[str, Stage]] = [
    ("validate", _validate),
    ("schema", _schema),
    ("event_types", _event_types),
    ("parse", _parse),
    ("typecheck", _typecheck),
    ("graph", _graph),
    ("semantics", _semantics),
    ("cost", _cost),
    ("models", _models),
    ("offers", lambda state: state.diagnostics.extend(offer_diagnostics(state))),  # dsl/offers.py
    ("messages", lambda state: state.diagnostics.extend(message_diagnostics(state))),  # dsl/messages.py
    ("conversion", lambda state: state.diagnostics.extend(conversion_diagnostics(state))),  # dsl/conversion.py
    ("rewards", lambda state: state.diagnostics.extend(reward_diagnostics(state))),  # dsl/rewards.py
    ("referrals", lambda state: state.diagnostics.extend(referral_diagnostics(state))),  # dsl/referrals.py
    ("challenges", lambda state: state.diagnostics.extend(challenge_diagnostics(state))),  # dsl/challenges.py
    ("variants", _variants),
]


def _run(raw: RawRuleset, plugin_functions: Sequence[FunctionSpec]) -> CheckedRuleset:
    state = CheckedRuleset(raw, function_table(plugin_functions))
    for _name, stage in STAGES:
        stage(state)
        if state.model is None:
            break
    state.diagnostics = sort_diagnostics(state.diagnostics)
    return state


def check_text(text: str, file: str = "<input>", functions: Sequence[FunctionSpec] = ()) -> CheckedRuleset:
    return _checked_or_load_error(lambda: read_ruleset_text(text, file), functions, file)


def check_path(path: str | os.PathLike[str], functions: Sequence[FunctionSpec] = ()) -> CheckedRuleset:
    return _checked_or_load_error(lambda: read_ruleset(path), functions, str(path))


def _checked_or_load_error(
    read: Callable[[], RawRuleset], functions: Sequence[FunctionSpec], file: str
) -> CheckedRuleset:
    try:
        raw = read()
    except PunchcardError as exc:
        state = CheckedRuleset(RawRuleset(None, SourceMap(file, ""), exc.sources, file), function_table(functions))
        state.diagnostics = list(exc.diagnostics)
        return state
    return _run(raw, functions)


def load_checked(path: str | os.PathLike[str], functions: Sequence[FunctionSpec] = ()) -> CheckedRuleset:
    """Check a ruleset and raise PunchcardError unless it is clean of errors."""
    return check_path(path, functions).raise_for_errors()

