"""Fallback templates: which facts a template names, and the text it gives for a member.

A template is plain text with ``{fact}`` placeholders and nothing else: no format specs,
no attribute or index access, so a template can state a fact and never compute one. The
ruleset's checker calls :func:`placeholders` to refuse a bad template before it is used;
the composing pipeline calls :func:`fill` when no model writes the text, or when the
model's text fails a guardrail.

Each fact is shown one way per locale (:func:`display`), and the guardrails read numbers
and dates back the same ways, so a filled template always states exactly its facts:

* numbers exactly as given, in plain digits, never through a float (``Decimal("12.50")``
  is ``12.50`` in English and ``12,50`` in Bulgarian);
* a fact whose name ends in ``_percent`` with a percent sign (``15%``, ``15 %``);
* dates with the month's name (``31 March 2026``; in Bulgarian ``31 март 2026`` and in Russian
  ``31 марта 2026``, each with the abbreviation for "year"), date-times with the time of day
  after them (``31 March 2026, 09:00``);
* text (a first name, a tier) as plain text, its control characters and runs of white
  space made single spaces so it cannot start a line of its own.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from punchcard.dsl.message_words import INSTRUCTION, LINK

if TYPE_CHECKING:  # for annotations only: templates import nothing of the engine at run time
    from punchcard.engine.runtime.message import MessageRequest

__all__ = [
    "TemplateError",
    "PERCENT_SUFFIXES",
    "MONTHS",
    "placeholders",
    "fact_value",
    "is_percent",
    "display",
    "plain",
    "DECIMAL_COMMA",
    "YEAR_MARK",
    "fill",
    "request_values",
    "fill_request",
    "language_of",
    "sanitised",
    "NEUTRAL",
]


class TemplateError(ValueError):
    """A template that cannot be filled: a bad placeholder, or a fact it names is not given."""


PERCENT_SUFFIXES = ("_percent", "_pct")  # a fact named so is a percentage: shown with its sign

# Month names as a date is written, per language (Bulgarian writes them in lower case).
MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "bg": ("януари", "февруари", "март", "април", "май", "юни", "юли", "август", "септември",
           "октомври", "ноември", "декември"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
           "октября", "ноября", "декабря"),
}
YEAR_MARK = "\u0433."  # Bulgarian and Russian write a year with their abbreviation for "year" after it
_YEAR_MARKED = frozenset({"bg", "ru"})
DECIMAL_COMMA = frozenset({"bg", "ru", "uk", "de", "fr", "es", "it"})  # languages writing 12,50
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\s]+")
_TAG = re.compile(r"<[^>]*>?|&[#\w]+;")  # a tag, even one left open, or an entity
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP_SIGNS = re.compile(r"[<>{}\[\]`*_#|\\]+")
_READABLE = re.compile(r"[^\W\d_]")
# The word a template shows in place of member text with nothing readable left ("Hi there").
NEUTRAL: dict[str, str] = {"en": "there", "bg": "приятелю", "ru": "друг"}


def placeholders(template: str) -> tuple[str, ...]:
    """The fact names a template uses, in order of first use; raises TemplateError for
    anything but plain ``{name}`` placeholders (``{{`` and ``}}`` are literal braces)."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # an unmatched brace
        raise TemplateError(f"template has {exc}") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion:
            raise TemplateError(f"placeholder {{{field}}} has a format; write {{name}} only")
        if not _NAME.match(field):
            raise TemplateError(f"placeholder {{{field}}} is not a plain fact name")
        if field not in names:
            names.append(field)
    return tuple(names)


def fact_value(value: Any) -> Any:
    """A fact as its type: a store round trip may give back dates as ISO text and numbers
    as strings. Text that is neither stays text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Only a store that lost the type hands back a float; its shortest repr is the number it was.
        return Decimal(repr(value))
    return _from_text(value) if isinstance(value, str) else value


def _from_text(value: str) -> Any:
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            return dt.date.fromisoformat(text)
        if _ISO_DATETIME.match(text):
            return dt.datetime.fromisoformat(text)
        if _NUMBER.match(text):
            return Decimal(text)
    except (ValueError, InvalidOperation):
        pass  # looks like a date or number and is not one ("2026-02-30"): it is text
    return value


def is_percent(name: str) -> bool:
    return name.endswith(PERCENT_SUFFIXES)


def language_of(locale: str) -> str:
    """``en-GB`` -> ``en``: dates and numbers follow the language, not the region."""
    return locale.replace("_", "-").split("-", 1)[0].lower() or "en"


def _number(value: Decimal | int, language: str) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text.replace(".", ",") if language in DECIMAL_COMMA else text


def _date(value: dt.date, language: str) -> str:
    months = MONTHS.get(language, MONTHS["en"])
    shown = f"{value.day} {months[value.month - 1]} {value.year}"
    return f"{shown} {YEAR_MARK}" if language in _YEAR_MARKED else shown


def display(name: str, value: Any, locale: str) -> str:
    """How the fact ``name`` is shown in ``locale``'s language."""
    language = language_of(locale)
    value = fact_value(value)
    if isinstance(value, (int, Decimal)):
        shown = _number(value, language)
        if is_percent(name):
            return f"{shown} %" if language in _YEAR_MARKED else f"{shown}%"  # a space before %, as they write it
        return shown
    if isinstance(value, dt.datetime):
        return f"{_date(value.date(), language)}, {value:%H:%M}"
    if isinstance(value, dt.date):
        return _date(value, language)
    return plain(str(value))


def plain(text: str) -> str:
    """Text a member or host supplied, as one line of plain text."""
    return _CONTROL.sub(" ", text).strip()


def sanitised(text: str) -> str:
    """Member-supplied text as a template may show it: tags, links, markup and anything that reads
    as an instruction taken out, one line; "" when nothing readable is left."""
    text = _MARKDOWN_LINK.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = LINK.sub(" ", text)
    text = INSTRUCTION.sub(" ", text)
    text = plain(_MARKUP_SIGNS.sub(" ", text))
    return text.strip(" .,;:!?-") if _READABLE.search(text) else ""


def fill(template: str, facts: Mapping[str, Any], locale: str) -> str:
    """The template with each placeholder replaced by its fact as :func:`display` shows it."""
    names = placeholders(template)
    missing = [name for name in names if name not in facts]
    if missing:
        raise TemplateError(f"template names {', '.join(missing)}, not among the facts given")
    shown = {name: display(name, facts[name], locale) for name in names}
    return template.format_map(shown)


def request_values(request: MessageRequest) -> dict[str, Any]:
    """What a request's template may name: its facts and the text a member or host supplied."""
    return {**dict(request.quoted), **dict(request.facts)}


def _quoted(request: MessageRequest) -> dict[str, str]:
    """The quoted values a template shows: sanitised, or the neutral word when nothing is left."""
    neutral = NEUTRAL.get(language_of(request.locale), NEUTRAL["en"])
    return {name: sanitised(text) or neutral for name, text in request.quoted.items()}


def _shortened(text: str, cut: int) -> str:
    """``text`` without its last ``cut`` characters, at a word's end when one is near."""
    kept = text[: max(0, len(text) - cut)]
    if len(kept) < len(text) and " " in kept[len(kept) // 2:]:
        kept = kept[: kept.rindex(" ")]
    return kept.rstrip(" .,;:!?-")


def fill_request(request: MessageRequest) -> str:
    """The request's fallback template, filled from its own facts and its quoted values
    (sanitised); over the channel's limit, the quoted values are shortened, never the facts."""
    quoted = _quoted(request)
    values = {**dict(request.facts), **quoted}
    text = fill(request.template, values, request.locale)
    names = [name for name in placeholders(request.template) if name in quoted]
    while len(text) > request.max_length and any(quoted[name] for name in names):
        longest = max(names, key=lambda name: len(quoted[name]))
        uses = request.template.count("{" + longest + "}") or 1
        over = -(-(len(text) - request.max_length) // uses)  # ceiling: each use gives back its share
        quoted[longest] = _shortened(quoted[longest], max(over, 1))
        text = fill(request.template, {**values, **quoted}, request.locale)
    return text
