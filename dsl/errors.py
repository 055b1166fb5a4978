"""One error type with stable codes, positioned in the analyst's own file.

Every problem punchcard finds in a ruleset becomes a :class:`Diagnostic`. They are
collected (never stopped at the first), sorted by position and rendered as
``FILE:LINE:COL: error[CODE]: message`` with the source line, a caret and a hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = [
    "Code",
    "Severity",
    "Span",
    "Diagnostic",
    "PunchcardError",
    "render",
    "render_all",
    "sort_diagnostics",
]


class Code(StrEnum):
    """Stable error codes. Never rename one: hosts and CI scripts match on them."""

    YAML_ERROR = "yaml_error"
    LIMIT_ERROR = "limit_error"
    SCHEMA_ERROR = "schema_error"
    PARSE_ERROR = "parse_error"
    TYPE_ERROR = "type_error"
    UNKNOWN_NAME = "unknown_name"
    ARITY_ERROR = "arity_error"
    CYCLE_ERROR = "cycle_error"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_RULE = "unknown_rule"
    TIER_ORDER = "tier_order"
    COMPLIANCE_ERROR = "compliance_error"
    INCLUDE_ERROR = "include_error"
    NOT_FOUND = "not_found"
    NEVER_FIRES = "never_fires"
    UNUSED_LET = "unused_let"
    EVENT_ERROR = "event_error"
    CONFLICT = "conflict"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source file. ``line`` and ``column`` are 1-based."""

    file: str = "<input>"
    line: int = 0  # 0: the file as a whole, no position inside it (a file that is not there)
    column: int = 0

    def shifted(self, line_offset: int, column: int) -> Span:
        return replace(self, line=self.line + line_offset, column=column)


@dataclass(frozen=True)
class Diagnostic:
    code: Code
    message: str
    span: Span = field(default_factory=Span)
    severity: Severity = Severity.ERROR
    hint: str | None = None
    width: int = 1  # how many characters the caret underlines

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.code.value, self.message)

    def to_json(self) -> dict:
        return {
            "file": self.span.file,
            "line": self.span.line or None,
            "column": self.span.column or None,
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


class PunchcardError(Exception):
    """Raised with one or more diagnostics. ``str()`` renders them for a person."""

    def __init__(
        self,
        diagnostics: Diagnostic | Iterable[Diagnostic],
        sources: dict[str, str] | None = None,
    ):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = sort_diagnostics(diagnostics)
        self.sources = dict(sources or {})
        super().__init__(render_all(self.diagnostics, self.sources))

    @property
    def code(self) -> Code:
        return self.diagnostics[0].code

    @classmethod
    def single(cls, code: Code, message: str, span: Span | None = None, hint: str | None = None):
        return cls(Diagnostic(code, message, span or Span(), hint=hint))


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.sort_key(), d.severity, d.hint): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render(diag: Diagnostic, sources: dict[str, str] | None = None) -> str:
    """``FILE:LINE:COL: error[CODE]: message``, then the line, a caret and the hint."""
    span = diag.span
    where = f"{span.file}:{span.line}:{span.column}" if span.line else span.file
    head = f"{where}: {diag.severity.value}[{diag.code.value}]: {diag.message}"
    lines = [head]
    text = (sources or {}).get(span.file)
    if text is not None and span.line >= 1:
        source_lines = text.splitlines()
        if span.line <= len(source_lines):
            src = source_lines[span.line - 1]
            lines.append(f"    {src}")
            caret_at = max(span.column - 1, 0)
            lines.append("    " + " " * caret_at + "^" * max(diag.width, 1))
    if diag.hint:
        lines.append(f"    hint: {diag.hint}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    return "\n".join(render(d, sources) for d in diagnostics)
