"""A/B variants: who is in which variant, and the ruleset each variant runs.

A member's variant is a pure function of the salt and the member id (:func:`assign`): the
first 16 bytes of ``sha256(salt ":" member)`` read as a number in [0, 1), set against the
variants' shares added up in the order they are written. The same member always lands in
the same variant; another salt deals everyone again.

Each variant is a whole ruleset, checked like any other (:func:`check_variants`): the
ruleset itself with the variant's ``patch:`` merged in, or the ruleset file its ``file:``
names (a candidate version). Its errors point at the patch that caused them.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Code, Diagnostic, PunchcardError
from .loader import RawRuleset, copy_positions, read_ruleset
from .model import Ruleset
from .sourcemap import Path as SourcePath
from .sourcemap import SourceMap
from .split import VariantArm, Variants

if TYPE_CHECKING:  # the checked ruleset imports the model; only its type is needed here
    from .checked import CheckedRuleset

__all__ = ["assign", "position", "shares", "check_variants", "apply_patch", "FIXED", "HUNDRED"]

HUNDRED = Decimal(100)
_SCALE = 1 << 128  # 16 bytes of the digest: far more positions than members
# What a variant may not change: who the ruleset is, the events and members it reads, its
# clock and its money. Every variant then reads the same events and member states.
FIXED = ("punchcard", "ruleset", "version", "include", "schema", "timezone", "currency", "minor_unit",
         "variants", "tests")
_LEFT_OUT = ("variants", "tests")  # a variant's own ruleset has neither
_REMOVE = "remove"  # a list item {id: x, remove: true} in a patch takes item x out

CheckOne = Callable[[RawRuleset], "CheckedRuleset"]


def position(salt: str, member: str) -> Fraction:
    """Where ``member`` falls in [0, 1) for ``salt``: exact, so no share boundary is blurred."""
    # surrogatepass: an id that is not valid text still has a place (the event is refused later)
    digest = hashlib.sha256(f"{salt}:{member}".encode("utf-8", "surrogatepass")).digest()
    return Fraction(int.from_bytes(digest[:16], "big"), _SCALE)


def shares(variants: Variants) -> tuple[tuple[str, Decimal], ...]:
    return tuple((arm.name, arm.share) for arm in variants.arms)


def assign(salt: str, member: str, split: Sequence[tuple[str, Decimal]]) -> str:
    """The variant of ``member``: the first whose running total of shares (in percent) passes
    the member's position. A variant with share 0 receives nobody."""
    at = position(salt, member) * 100
    total = Fraction(0)
    for name, share in split:
        total += Fraction(share)
        if at < total:
            return name
    return next(name for name, share in reversed(split) if share > 0)  # unreachable when shares add to 100


def check_variants(state: CheckedRuleset, check_one: CheckOne) -> dict[str, CheckedRuleset]:
    """Every variant's ruleset, checked by ``check_one``; problems go to ``state.diagnostics``."""
    model = state.valid_model
    if model.variants is None:
        return {}
    state.diagnostics.extend(_split_problems(state, model))
    checked: dict[str, CheckedRuleset] = {}
    for index, arm in enumerate(model.variants.arms):
        at = ("variants", "arms", index)
        try:
            raw = _variant_raw(state, model, arm, at)
        except PunchcardError as exc:
            state.raw.sources.update(exc.sources)
            state.diagnostics.extend(_named(arm.name, d) for d in exc.diagnostics)
            continue
        state.raw.sources.update(raw.sources)
        result = check_one(raw)
        state.diagnostics.extend(_named(arm.name, d) for d in result.diagnostics)
        if result.ok:
            checked[arm.name] = result
    return checked


def _named(name: str, diagnostic: Diagnostic) -> Diagnostic:
    return Diagnostic(diagnostic.code, f"in variant {name!r}: {diagnostic.message}", diagnostic.span,
                      diagnostic.severity, diagnostic.hint, diagnostic.width)


def _split_problems(state: CheckedRuleset, model: Ruleset) -> Iterator[Diagnostic]:
    variants = model.variants
    assert variants is not None
    total = sum((arm.share for arm in variants.arms), Decimal(0))
    if total != HUNDRED:
        yield Diagnostic(Code.SCHEMA_ERROR, f"the variants' shares add up to {total.normalize():f}%, not 100%",
                         state.source.key(("variants", "arms")),
                         hint="make the shares add up to exactly 100% (for example 50% and 50%)")
    seen: set[str] = set()
    for index, arm in enumerate(variants.arms):
        if arm.name in seen:
            yield Diagnostic(Code.DUPLICATE_ID, f"variant {arm.name!r} is named twice",
                             state.source.value(("variants", "arms", index, "name")).span,
                             hint="give each variant its own name")
        seen.add(arm.name)
    for index, test in enumerate(model.tests):
        if test.variant is not None and test.variant not in seen:
            yield Diagnostic(Code.UNKNOWN_NAME, f"unknown variant {test.variant!r}",
                             state.source.value(("tests", index, "variant")).span,
                             hint=f"the variants are {', '.join(sorted(seen))}")


def _variant_raw(state: CheckedRuleset, model: Ruleset, arm: VariantArm, at: SourcePath) -> RawRuleset:
    if arm.file is not None:
        return _from_file(state, arm.file, (*at, "file"))
    base = state.raw
    data = {k: copy.deepcopy(v) for k, v in base.data.items() if k not in _LEFT_OUT}
    source = SourceMap(base.source.file, base.source.text, dict(base.source.values), dict(base.source.keys))
    patch = arm.patch or {}
    problems = [Diagnostic(Code.SCHEMA_ERROR, f"a variant cannot change {key}:", state.source.key((*at, "patch", key)),
                           hint="every variant shares the ruleset's id, schema, timezone and currency; "
                                "a different one is another ruleset")
                for key in patch if key in FIXED]
    if problems:
        raise PunchcardError(problems, base.sources)
    apply_patch(data, patch, (), source, base.source, (*at, "patch"))
    return RawRuleset(data, source, dict(base.sources), base.path)


def apply_patch(into: dict[str, Any], patch: dict[str, Any], here: SourcePath, target: SourceMap,
                source: SourceMap, origin: SourcePath) -> None:
    """Merge ``patch`` into ``into``: mappings key by key; a list of items with ``id:`` (or
    ``name:``) item by item, a new one appended and ``remove: true`` taking one out; any other
    value replaced. ``target`` learns where each patched value was written (under ``origin``)."""
    for key, value in patch.items():
        path, written = (*here, key), (*origin, key)
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            apply_patch(current, value, path, target, source, written)
        elif isinstance(current, list) and isinstance(value, list) and _item_key(value):
            _patch_items(current, value, path, target, source, written)
        else:
            into[key] = copy.deepcopy(value)
            _forget(target, path)
            copy_positions(source, target, written, path)


def _item_key(items: list[Any]) -> str | None:
    """The key that names the items of a list (``id`` or ``name``), if every item has it."""
    for key in ("id", "name"):
        if items and all(isinstance(item, dict) and key in item for item in items):
            return key
    return None


def _patch_items(current: list[Any], items: list[Any], here: SourcePath, target: SourceMap, source: SourceMap,
                 origin: SourcePath) -> None:
    key = _item_key(items)
    index_of = {item.get(key): i for i, item in enumerate(current) if isinstance(item, dict)}
    removed: set[int] = set()
    for j, item in enumerate(items):
        at = index_of.get(item[key])
        if item.get(_REMOVE) is True and at is not None:
            removed.add(at)
        elif at is not None:
            apply_patch(current[at], item, (*here, at), target, source, (*origin, j))
        else:
            current.append(copy.deepcopy(item))
            copy_positions(source, target, (*origin, j), (*here, len(current) - 1))
    if removed:
        _drop_items(current, removed, here, target)


def _drop_items(current: list[Any], removed: set[int], here: SourcePath, target: SourceMap) -> None:
    """Take the removed items out, moving the positions of those after them down."""
    kept = [i for i in range(len(current)) if i not in removed]
    moved = SourceMap(target.file, target.text, dict(target.values), dict(target.keys))
    _forget(target, here)
    for new, old in enumerate(kept):
        copy_positions(moved, target, (*here, old), (*here, new))
    current[:] = [current[i] for i in kept]


def _forget(target: SourceMap, path: SourcePath) -> None:
    size = len(path)
    for store in (target.values, target.keys):
        for recorded in [p for p in store if p[:size] == path and len(p) > size]:
            del store[recorded]


def _from_file(state: CheckedRuleset, name: str, at: SourcePath) -> RawRuleset:
    where = state.source.value(at).span
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise PunchcardError(Diagnostic(Code.INCLUDE_ERROR, f"variant file {name!r} must stay inside the ruleset "
                                        "folder", where, hint="give a path relative to this ruleset's folder"))
    path = Path(state.raw.path).parent / name
    if not path.is_file():
        raise PunchcardError(Diagnostic(Code.NOT_FOUND, f"variant file {name!r} not found", where,
                                        hint="give a path relative to this ruleset's folder"))
    raw = read_ruleset(path)
    data = raw.data if isinstance(raw.data, dict) else {}
    different = [key for key in FIXED[:-2] if key not in ("version", "include") and data.get(key) !=
                 state.raw.data.get(key)]
    if different or "variants" in data:
        what = f"a different {', '.join(different)}" if different else "variants of its own"
        raise PunchcardError(Diagnostic(Code.SCHEMA_ERROR, f"variant file {name!r} has {what}", where,
                                        hint="a variant's file is another version of this ruleset: same id, "
                                             "schema, timezone and currency, and no variants:"), raw.sources)
    raw.data = {k: v for k, v in data.items() if k not in _LEFT_OUT}
    return raw
