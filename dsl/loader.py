"""Reads a ruleset from a file or a folder, joining ``include:`` fragments.

A folder holds ``ruleset.yaml`` (the header) and the fragments it includes.
Fragments merge into the main document: mappings merge key by key, lists
concatenate, and a scalar set twice is an error naming both places. The merged
:class:`SourceMap` still points every value at the file it came from.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import Code, Diagnostic, PunchcardError, Span
from .sourcemap import Path as SourcePath
from .sourcemap import ScalarPos, SourceMap
from .yamlsrc import DEFAULT_LIMITS, Limits, load_yaml

__all__ = ["RawRuleset", "read_ruleset", "read_ruleset_text", "copy_positions", "MAIN_FILE", "MAX_INCLUDES"]

MAIN_FILE = "ruleset.yaml"
MAX_INCLUDES = 64

_Pos = TypeVar("_Pos", ScalarPos, Span)  # what a source map records at a path: a value or a key


@dataclass
class RawRuleset:
    data: Any
    source: SourceMap
    sources: dict[str, str] = field(default_factory=dict)
    path: str = "<input>"


def read_ruleset_text(text: str, file: str = "<input>", limits: Limits = DEFAULT_LIMITS) -> RawRuleset:
    document = load_yaml(text, file, limits)
    return RawRuleset(document.data, document.source, {file: text}, file)


def read_ruleset(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> RawRuleset:
    """Load a ruleset file, or a folder's ruleset.yaml, and everything it includes."""
    path = Path(path)
    main = path / MAIN_FILE if path.is_dir() else path
    if not main.is_file():  # the whole path is missing: there is no line or column to point at
        what = f"the folder has no {MAIN_FILE}" if path.is_dir() else "file not found"
        raise PunchcardError(Diagnostic(Code.NOT_FOUND, what, Span(str(path), 0, 0),
                                        hint="check the path" if not path.is_dir() else None))
    raw = _read_file(main, limits)
    includes = raw.data.get("include") if isinstance(raw.data, dict) else None
    if includes:
        _join_includes(raw, main, includes, limits)
    return raw


def _read_file(file: Path, limits: Limits) -> RawRuleset:
    name = str(file)
    try:
        text = _bounded_read(file, limits).decode("utf-8")
    except UnicodeDecodeError:
        raise PunchcardError(Diagnostic(Code.YAML_ERROR, "the file is not UTF-8 text", Span(name, 1, 1))) from None
    except OSError as exc:
        raise PunchcardError(Diagnostic(Code.INCLUDE_ERROR, f"cannot read {name}: {exc.strerror}",
                                        Span(name, 1, 1))) from None
    return read_ruleset_text(text, name, limits)


def _bounded_read(file: Path, limits: Limits) -> bytes:
    """The file's bytes, never more than the size limit: its size is checked before it is
    read, and the read stops one byte past the limit (a file may grow, or not know its size)."""
    too_large = PunchcardError(Diagnostic(Code.LIMIT_ERROR, f"the file is larger than {limits.max_bytes} bytes",
                                          Span(str(file), 1, 1)))
    if file.stat().st_size > limits.max_bytes:
        raise too_large
    with open(file, "rb") as handle:
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise too_large
    return data


def _join_includes(raw: RawRuleset, main: Path, includes: Any, limits: Limits) -> None:
    where = raw.source.value(("include",)).span
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise PunchcardError(Diagnostic(Code.SCHEMA_ERROR, "include: takes a list of file names", where),
                             raw.sources)
    files = _expand(main.parent, includes, raw, where)
    errors: list[Diagnostic] = []
    for file in files:
        try:
            fragment = _read_file(file, limits)
        except PunchcardError as exc:
            errors.extend(exc.diagnostics)
            raw.sources.update(exc.sources)
            continue
        raw.sources.update(fragment.sources)
        if not isinstance(fragment.data, dict):
            errors.append(Diagnostic(Code.SCHEMA_ERROR, "an included file must be a mapping of sections",
                                     Span(str(file), 1, 1)))
            continue
        errors.extend(_merge(raw.data, fragment.data, (), raw.source, fragment.source))
    if errors:
        raise PunchcardError(errors, raw.sources)


def _expand(folder: Path, patterns: list[str], raw: RawRuleset, where: Span) -> list[Path]:
    files: list[Path] = []
    for index, pattern in enumerate(patterns):
        if os.path.isabs(pattern) or ".." in Path(pattern).parts:
            raise PunchcardError(Diagnostic(Code.INCLUDE_ERROR, f"include {pattern!r} must stay inside the ruleset "
                                            "folder", raw.source.value(("include", index)).span), raw.sources)
        matches = sorted(Path(p) for p in glob.glob(str(folder / pattern)))
        if not matches:
            raise PunchcardError(Diagnostic(Code.INCLUDE_ERROR, f"include {pattern!r} matches no file",
                                            raw.source.value(("include", index)).span), raw.sources)
        files.extend(m for m in matches if m not in files)
    if len(files) > MAX_INCLUDES:
        raise PunchcardError(Diagnostic(Code.LIMIT_ERROR, f"more than {MAX_INCLUDES} included files", where))
    return files


_HEADER = ("punchcard", "ruleset", "version", "include")


def _merge(into: dict, extra: dict, path: tuple, target: SourceMap, source: SourceMap) -> list[Diagnostic]:
    errors = []
    for key, value in extra.items():
        here = (*path, key)
        if not path and key in _HEADER:
            errors.append(Diagnostic(Code.INCLUDE_ERROR, f"{key}: belongs in {MAIN_FILE} only", source.key(here)))
        elif key not in into:
            into[key] = value
            _copy_positions(source, target, here, here)
        elif isinstance(into[key], dict) and isinstance(value, dict):
            errors.extend(_merge(into[key], value, here, target, source))
        elif isinstance(into[key], list) and isinstance(value, list):
            offset = len(into[key])
            into[key].extend(value)
            for index in range(len(value)):
                _copy_positions(source, target, (*here, index), (*here, offset + index))
        else:
            first = target.key(here)
            errors.append(Diagnostic(Code.INCLUDE_ERROR, f"{'.'.join(map(str, here))} is set twice "
                                     f"(first at {first.file}:{first.line})", source.key(here)))
    return errors


def copy_positions(source: SourceMap, target: SourceMap, old: SourcePath, new: SourcePath) -> None:
    """Record in ``target`` at ``new`` (and under it) the positions ``source`` has at ``old``."""
    _copy_positions(source, target, old, new)


def _copy_positions(source: SourceMap, target: SourceMap, old: SourcePath, new: SourcePath) -> None:
    _copy_under(source.values, target.values, old, new)
    _copy_under(source.keys, target.keys, old, new)
    if old not in source.values:
        target.values.setdefault(new, ScalarPos(source.key(old)))


def _copy_under(store_from: dict[SourcePath, _Pos], store_to: dict[SourcePath, _Pos], old: SourcePath,
                new: SourcePath) -> None:
    """Copy every entry at or under ``old`` to the same place under ``new``."""
    size = len(old)
    for path, pos in list(store_from.items()):
        if path[:size] == old:
            store_to[new + path[size:]] = pos
