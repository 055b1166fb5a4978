"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader is the starting point, with three changes an analyst never has
to think about:

* scalars resolve as in YAML 1.2: ``on``/``yes``/``no`` stay strings, ``10:00`` is
  not the base-60 number 600, and decimals become :class:`~decimal.Decimal`, never float;
* limits on size, nesting depth, alias use and total nodes stop bombs cleanly;
* duplicate keys and non-standard tags (``!!python/object``...) are errors.

The result is plain Python data plus a :class:`SourceMap` from paths such as
``("earning", "rules", 0, "when")`` to positions in the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .errors import Code, Diagnostic, PunchcardError, Span
from .sourcemap import Path, ScalarPos, SourceMap

__all__ = ["Limits", "DEFAULT_LIMITS", "Document", "load_yaml"]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000
    max_depth: int = 64
    max_aliases: int = 100
    max_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    data: Any
    source: SourceMap


# YAML 1.2 core schema, so that `on:` is a key and `10:00` a time of day.
class _Resolver(BaseResolver):
    pass


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:timestamp",
    re.compile(
        r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
        r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$"
    ),
    list("0123456789"),
)


class _Loader(Reader, Scanner, Parser, Composer, _Resolver):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)


_STANDARD = "tag:yaml.org,2002:"
_TIMESTAMPS = yaml.constructor.SafeConstructor()


class _Builder:
    """Turns a composed node tree into Python data, recording positions and limits."""

    def __init__(self, file: str, text: str, limits: Limits, alias_spans: Sequence[Span] = ()) -> None:
        self.file, self.limits, self.alias_spans = file, limits, alias_spans
        self.source = SourceMap(file, text)
        self.lines = text.splitlines()
        self.nodes = 0
        self.aliases = 0
        self.chars = 0  # scalar text built, aliases included: bounded like the file itself
        self.repeating = False  # inside what an alias repeats
        self.alias_at: Span | None = None  # ... and where that alias is written
        self.seen: set[int] = set()
        self.errors: list[Diagnostic] = []

    def span(self, node: Node) -> Span:
        return Span(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: Node, code: Code, message: str, hint: str | None = None) -> NoReturn:
        """Raise at ``node``; a limit reached while repeating an alias is reported at the alias."""
        where = self.alias_at if code is Code.LIMIT_ERROR and self.alias_at is not None else self.span(node)
        raise PunchcardError(Diagnostic(code, message, where, hint=hint))

    def build(self, node: Node, path: Path, depth: int) -> Any:
        if id(node) in self.seen and not self.repeating:  # an alias: the composer hands back the anchored node
            self.aliases += 1
            if self.aliases <= len(self.alias_spans):
                self.alias_at = self.alias_spans[self.aliases - 1]
            if self.aliases > self.limits.max_aliases:
                self.fail(node, Code.LIMIT_ERROR, f"more than {self.limits.max_aliases} alias uses",
                          hint="write the value out, or split the ruleset with include:")
            self.repeating = True  # what the alias repeats is counted as values and text, not as more aliases
            try:
                return self._build(node, path, depth)
            finally:
                self.repeating, self.alias_at = False, None
        self.seen.add(id(node))
        return self._build(node, path, depth)

    def _build(self, node: Node, path: Path, depth: int) -> Any:
        self._count(node, depth)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode):
            self._check_tag(node, "seq")
            self.source.values[path] = ScalarPos(self.span(node))
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        self.fail(node, Code.YAML_ERROR, "unsupported YAML node")

    def _count(self, node: Node, depth: int) -> None:
        self.nodes += 1
        if depth > self.limits.max_depth:
            self.fail(node, Code.LIMIT_ERROR, f"the document nests deeper than {self.limits.max_depth} levels")
        if self.nodes > self.limits.max_nodes:
            self.fail(node, Code.LIMIT_ERROR, f"the document expands to more than {self.limits.max_nodes} values",
                      hint="aliases (*name) that repeat large anchors multiply the document's size")
        if isinstance(node, ScalarNode):  # every use of a scalar, through an alias too, adds its text
            self.chars += len(node.value)
            if self.chars > self.limits.max_bytes:
                self.fail(node, Code.LIMIT_ERROR, f"the document expands to more than {self.limits.max_bytes} "
                          "bytes of text", hint="aliases (*name) repeat their anchor's text each time")

    def _check_tag(self, node: Node, kind: str) -> None:
        if node.tag.startswith(_STANDARD) and node.tag[len(_STANDARD):] in (kind, "str", "int", "float", "bool",
                                                                           "null", "timestamp", "map", "seq"):
            return
        self.fail(node, Code.YAML_ERROR, f"the YAML tag {node.tag!r} is not allowed",
                  hint="rulesets are plain data: remove the tag")

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict:
        self._check_tag(node, "map")
        self.source.values[path] = ScalarPos(self.span(node))
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, Code.YAML_ERROR, "mapping keys must be plain names")
            self._check_tag(key_node, "str")
            if key_node.value == "<<" and key_node.style is None:  # YAML 1.1 merge, a plain key in 1.2
                self.fail(key_node, Code.YAML_ERROR, "merge keys (<<) are not supported",
                          hint="write the keys out, or split the ruleset with include:")
            key = key_node.value
            if key in result:
                self.fail(key_node, Code.YAML_ERROR, f"duplicate key {key!r}",
                          hint="each key may appear once in a mapping; the second would silently win")
            self.source.keys[(*path, key)] = self.span(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        self._check_tag(node, "str")
        kind = node.tag[len(_STANDARD):]
        self.source.values[path] = ScalarPos(
            self.span(node), node.style, self._block_indent(node), self.source.text,
            node.start_mark.index, node.end_mark.index, node.value if kind == "str" else None)
        if kind == "null":
            return None
        if kind == "bool":
            return node.value.lower() == "true"
        if kind == "int":
            return int(node.value.replace("_", ""))
        if kind == "float":
            return self._decimal(node)
        if kind == "timestamp":
            return self._timestamp(node)
        return node.value

    def _timestamp(self, node: ScalarNode):
        try:
            return _TIMESTAMPS.construct_yaml_timestamp(node)
        except ValueError:  # shaped like a date, but 2026-02-30 is no day of the calendar
            self.fail(node, Code.YAML_ERROR, f"{node.value!r} is not a real date or time",
                      hint="quote it if it is meant as text")

    def _decimal(self, node: ScalarNode) -> Decimal:
        try:
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            self.fail(node, Code.YAML_ERROR, f"{node.value!r} is not a number")

    def _block_indent(self, node: ScalarNode) -> int:
        if node.style not in ("|", ">"):
            return 0
        for line in self.lines[node.start_mark.line + 1:]:
            if line.strip():
                return len(line) - len(line.lstrip(" "))
        return 0


def _precheck_depth(text: str, file: str, limits: Limits) -> list[Span]:
    """Walk the event stream (not recursive) so a nesting bomb never reaches the composer.
    Returns where each alias is used, in document order (the composed tree forgets it)."""
    depth = 0
    aliases: list[Span] = []
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) and len(aliases) <= limits.max_aliases:
            aliases.append(Span(file, event.start_mark.line + 1, event.start_mark.column + 1))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limits.max_depth:
                mark = event.start_mark
                raise PunchcardError(Diagnostic(
                    Code.LIMIT_ERROR, f"the document nests deeper than {limits.max_depth} levels",
                    Span(file, mark.line + 1, mark.column + 1)))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return aliases


def load_yaml(text: str, file: str = "<input>", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse one YAML document safely. Raises :class:`PunchcardError` on any problem."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise PunchcardError(Diagnostic(Code.LIMIT_ERROR, f"the file is larger than {limits.max_bytes} bytes",
                                        Span(file, 1, 1)))
    try:
        aliases = _precheck_depth(text, file, limits)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise PunchcardError(_yaml_diagnostic(exc, file), {file: text}) from None
    except yaml.reader.ReaderError as exc:
        raise PunchcardError(_reader_diagnostic(exc, text, file), {file: text}) from None
    except yaml.YAMLError as exc:
        raise PunchcardError(Diagnostic(Code.YAML_ERROR, str(exc), Span(file, 1, 1)), {file: text}) from None
    except RecursionError:
        raise PunchcardError(Diagnostic(Code.LIMIT_ERROR, "the document nests too deeply", Span(file, 1, 1))) from None
    builder = _Builder(file, text, limits, aliases)
    if node is None:
        return Document(None, builder.source)
    try:
        data = builder.build(node, (), 0)
    except PunchcardError as exc:
        raise PunchcardError(exc.diagnostics, {file: text}) from None
    return Document(data, builder.source)


def _reader_diagnostic(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    """A control character YAML refuses, at its line and column."""
    line_start = text.rfind("\n", 0, exc.position) + 1
    span = Span(file, text.count("\n", 0, exc.position) + 1, exc.position - line_start + 1)
    return Diagnostic(Code.YAML_ERROR, f"the character #x{exc.character:04x} is not allowed in YAML", span,
                      hint="remove it, or write it as an escape in a double-quoted string")


def _yaml_diagnostic(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    span = Span(file, mark.line + 1, mark.column + 1) if mark else Span(file, 1, 1)
    message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    hint = None
    if "found character '\\t'" in message:
        hint = "YAML indents with spaces, not tabs"
    elif "flow mapping" in message or "flow sequence" in message:
        hint = ("inside { } a comma or bracket ends the value: quote the expression, "
                "or write the mapping one key per line")
    elif "mapping values are not allowed" in message:
        hint = ("a value that contains ': ' (such as within: 60 minutes) must be quoted; "
                "otherwise check the indentation")
    elif "could not find expected ':'" in message:
        hint = "check the indentation and that every key is followed by ': '"
    return Diagnostic(Code.YAML_ERROR, message, span, hint=hint)
