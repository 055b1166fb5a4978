"""Validates raw YAML data against the pydantic models, in the analyst's words.

Pydantic's errors carry a ``loc`` path; we map it through the source map to a
file:line:column and rewrite the message ("Extra inputs are not permitted" becomes
"unknown key 'mutliply'" with "did you mean `multiply`?").
"""

from __future__ import annotations

import copy
import difflib
import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .errors import Code, Diagnostic, Span
from .model import Ruleset
from .sourcemap import SourceMap

__all__ = ["validate_document", "keys_at", "without_paths"]

# Error types that only say "this union alternative did not match either".
_UNION_NOISE = {"literal_error", "model_type", "model_attributes_type", "dict_type", "string_type",
                "string_pattern_mismatch", "list_type", "is_instance_of"}


def validate_document(data: Any, source: SourceMap) -> tuple[Ruleset | None, list[Diagnostic], list[tuple]]:
    """The model, or None with diagnostics and the data paths that failed."""
    if not isinstance(data, dict):
        return None, [Diagnostic(Code.SCHEMA_ERROR, "a ruleset is a mapping that starts with `punchcard: 1`",
                                 Span(source.file, 1, 1))], []
    try:
        return Ruleset.model_validate(data), [], []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        paths = [_resolve(err["loc"], data) for err in errors]
        # a bad key (a reserved word as a field name) drops only that key, not its section
        broken = [(*p, _BAD_KEY) if err["loc"] and err["loc"][-1] == "[key]" else p
                  for p, err in zip(paths, errors, strict=True)]
        return None, _diagnostics(errors, paths, source), broken


_REQUIRED_TOP = ("punchcard", "ruleset", "version")
_BAD_KEY = "[key]"  # marks a broken path whose last part is a key that may not be used
_KEY_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_FLOW_HINT = ("inside { } a comma or bracket ends the value: quote the expression, "
              "or write the mapping one key per line")


def without_paths(data: dict, paths: list[tuple], source: SourceMap) -> dict | None:
    """A copy of ``data`` without the broken items (a list item or a section), or None
    when what is broken is the header and nothing meaningful is left to check.
    ``source`` is re-keyed in place so positions still match the pruned data."""
    pruned = copy.deepcopy(data)
    for path in sorted({_prune_point(p) for p in paths}, key=lambda p: tuple(map(str, p)), reverse=True):
        if not path or path[0] in _REQUIRED_TOP:
            return None
        parent = pruned
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
        if isinstance(path[-1], int):
            _shift_positions(source, path[:-1], path[-1])
    return pruned


def _shift_positions(source: SourceMap, list_path: tuple, removed: int) -> None:
    size = len(list_path)
    for store in (source.values, source.keys):
        moved = {}
        for path in list(store):
            if path[:size] == list_path and len(path) > size and isinstance(path[size], int) \
                    and path[size] >= removed:
                pos = store.pop(path)
                if path[size] > removed:
                    moved[(*path[:size], path[size] - 1, *path[size + 1:])] = pos
        store.update(moved)


def _prune_point(path: tuple) -> tuple:
    """Remove the nearest list item containing the error, else the top-level section;
    a key that is itself wrong is removed alone."""
    if len(path) > 1 and path[-1] == _BAD_KEY:
        return path[:-1]
    for cut in range(len(path) - 1, 0, -1):
        if isinstance(path[cut], int):
            return path[: cut + 1]
    return path[:1]


def _diagnostics(errors: list[ErrorDetails], paths: list[tuple], source: SourceMap) -> list[Diagnostic]:
    resolved = list(zip(paths, errors, strict=True))
    by_path: dict[tuple, list[ErrorDetails]] = {}
    for path, err in resolved:
        by_path.setdefault(path, []).append(err)
    result = []
    for path, errs in by_path.items():
        meaningful = [e for e in errs if e["type"] not in _UNION_NOISE]
        if not meaningful and any(p[: len(path)] == path and p != path for p in by_path):
            continue  # only union alternatives failed here, and a deeper error explains why
        meaningful = meaningful or errs[:1]
        for err in meaningful[:2]:
            result.append(_diagnostic(path, err, source))
    return result


def _resolve(loc: tuple, data: Any) -> tuple:
    """Keep only the parts of pydantic's loc that are real keys or indexes in the data."""
    path: list = []
    node = data
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part.endswith("_") and part[:-1] in node:
            path.append(part[:-1])
            node = node[part[:-1]]
    return tuple(path)


def _diagnostic(path: tuple, err: ErrorDetails, source: SourceMap) -> Diagnostic:
    kind, loc = err["type"], err["loc"]
    where = ".".join(str(p) for p in path) or "the document"
    if kind == "extra_forbidden":
        key = loc[-1]
        options = keys_at(path[:-1])
        close = difflib.get_close_matches(str(key), options, n=1, cutoff=0.6)
        known = f"known keys here: {', '.join(options)}" if options else None
        hint = f"did you mean `{close[0]}`?" if close else known
        if _split_by_a_comma(str(key), err.get("input")):
            hint = _FLOW_HINT
        return Diagnostic(Code.SCHEMA_ERROR, f"unknown key {key!r}", source.key(path), hint=hint, width=len(str(key)))
    if kind == "missing":
        key = loc[-1]
        return Diagnostic(Code.SCHEMA_ERROR, f"{where} needs the key {key!r}", source.value(path).span)
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        message = f"{where}: {message.replace('Input should be', 'should be')}"
    elif kind == "string_pattern_mismatch" and path and path[-1] in ("ruleset", "id", "name"):
        message = f"{where}: use lower-case letters, digits and dashes, like coffee-club"
    elif kind not in ("value_error", "assertion_error"):
        message = f"{where}: {message[0].lower()}{message[1:]}"
    hint = None
    if kind == "string_type" and not isinstance(err.get("input"), (dict, list, type(None))):
        hint = "YAML read this as a number, date or bool: quote it to keep it as text"  # version: 2.1
    span = source.key(path) if loc and loc[-1] == "[key]" else source.value(path).span  # a bad key: point at it
    return Diagnostic(Code.SCHEMA_ERROR, message, span, hint=hint)


def _split_by_a_comma(key: str, value: Any) -> bool:
    """Whether an unknown key is the tail of an expression a flow mapping cut at a comma:
    `10)` from {points: max(a, 10)}, or `within` (value `7 days) > 2`) from count(x, within: ...)."""
    if not _KEY_LIKE.match(key):
        return True
    text = value if isinstance(value, str) else ""
    return text.count(")") > text.count("(") or text.count("]") > text.count("[")


def keys_at(path: tuple) -> list[str]:
    """The keys a mapping at ``path`` may hold, for did-you-mean hints."""
    model: Any = Ruleset
    for part in path:
        if isinstance(part, int):
            continue
        field = _field_by_alias(model, part)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _field_by_alias(model: type[BaseModel], key: str):
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
