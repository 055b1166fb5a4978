"""What a text claims: the dates, times, percentages, numbers and number words in it.

The guardrails compare each claim with the facts a message was given. Reading follows the
member's language the way :mod:`.templates` writes it: ``1,200.50`` in English, ``1 200,50``
in Bulgarian; a number written the other language's way reads as other numbers, which then
match no fact, so a doubtful number is a violation and never a pass. Words count as numbers
too ("two", "half", "пет"), except "one" and its forms, which are far more often a pronoun or an
article than a claim; "double", "2x", "threefold" and "вдвое" are multipliers.

What a number stands next to says which fact it must be: "300 points" a number of points,
"€5", "5 лв" and "5 off" an amount of money (also "a basket over 500"), "balance is 300" the
balance. A month named without its day ("until April") and a period ("all year", "до конца
месяца") are read too, for the guardrails to compare with the offer's end.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from punchcard.dsl.message_words import CURRENCY, MULTIPLIER_WORD, MULTIPLIER_WORDS, NUMBER_WORD, NUMBER_WORDS

from .templates import DECIMAL_COMMA, MONTHS, YEAR_MARK, language_of

__all__ = ["DateClaim", "NumberClaim", "Claims", "read_claims", "NUMBER_WORDS"]

_EN_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
              r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_OTHER_MONTHS = "|".join(m for language, months in MONTHS.items() if language != "en" for m in months)
_MONTH = rf"(?:{_EN_MONTHS}|{_OTHER_MONTHS})\.?(?!\w)"
_DAY = r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = rf"(?:,?\s+(\d{{4}})(?!\d)(?:\s*{re.escape(YEAR_MARK)})?)?"
_DATES = re.compile(
    r"(?<!\d)(?P<iso>(\d{4})-(\d{1,2})-(\d{1,2}))(?!\d)"
    r"|(?<!\d)(?P<num>(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2}))(?!\d)"
    rf"|(?P<dm>{_DAY}\s+(?:of\s+)?({_MONTH}){_YEAR})"
    rf"|(?P<md>(?<!\w)({_MONTH})\s+{_DAY}(?!\d){_YEAR})", re.I)
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
_NUMBER = {
    "en": r"(?<!\d)\d{1,3}(?:[,\u00a0\u202f]\d{3})+(?:\.\d+)?(?!\d)|(?<!\d)\d+(?:\.\d+)?(?!\d)",
    "comma": r"(?<!\d)\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?!\d)|(?<!\d)\d+(?:,\d+)?(?!\d)",
}
_PERCENT = r"\s*(?:%|per\s*cent\b|percent\b|процента\b|процентов\b|процент\b)"

_SIGN = r"(?:(?<![\w.,\-\u2212])[-\u2212](?=\d))?"  # a leading minus: "Your balance is -5."
_MULTIPLIER = re.compile(
    rf"(?P<before>{_SIGN}(?<![\d.,])\d+(?:[.,]\d+)?)\s*(?:[x\u00d7]|-?\s*(?:fold|кратн\w*))(?!\w)"
    rf"|(?<!\w)[x\u00d7](?P<after>{_SIGN}\d+(?:[.,]\d+)?)(?![\d\w])", re.I)
# What a number is next to says which fact it must be: points, money, or the balance.
_POINTS_AFTER = re.compile(r"\s*(?:(?:bonus|extra|more|loyalty|бонус\w*|допълнителни|дополнительн\w*)\s+)?"
                           r"(?:points?|pts|балл\w*|точк[аи]|бонус\w*)(?!\w)", re.I)
_MONEY_AFTER = re.compile(r"\s*(?:" + CURRENCY.pattern + r"|off(?!\w))", re.I)
_MONEY_BEFORE = re.compile(r"(?:[€$£₽₴]"
                           r"|(?:spend\w*|purchases?|baskets?|orders?|bills?|receipts?|shop\w*|buy\w*|покупк\w*"
                           r"|кошниц\w*|сметк\w*|чек\w*|корзин\w*|заказ\w*)[^\d.!?]{0,15})\s*\Z", re.I)
_BALANCE_BEFORE = re.compile(r"(?:balance|баланс\w*)[^\d.!?]{0,20}\Z", re.I)
# A month named without its day, and phrases that state a validity without any date.
_MONTH_NAMES = (
    r"(?-i:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"|януари|февруари|март\w*|април|май|юни|юли|август\w*|септември|октомври|ноември|декември"
    r"|январ[ьяе]|феврал[ьяе]|апрел[ьяе]|ма[йяе]|июн[ьяе]|июл[ьяе]|сентябр[ьяе]|октябр[ьяе]|ноябр[ьяе]"
    r"|декабр[ьяе]")
_MONTH_WORD = re.compile(rf"(?<!\w)(?:{_MONTH_NAMES})(?!\w)", re.I)
_MONTH_STEMS = (("jan", "янв", "яну"), ("feb", "фев"), ("mar", "мар"), ("apr", "апр"), ("may", "май", "мая", "мае"),
                ("jun", "юни", "июн"), ("jul", "юли", "июл"), ("aug", "авг"), ("sep", "сеп", "сен"), ("oct", "окт"),
                ("nov", "ное", "ноя"), ("dec", "дек"))
_PERIODS = re.compile(
    r"(?<!\w)(?:all\s+(?:year|month)(?:\s+(?:long|round))?|year[-\s]round|(?:the\s+)?(?:whole|entire)\s+(?:year|month)"
    r"|(?:the\s+)?(?:end|rest)\s+of\s+(?:the|this)\s+(?:year|month)|до\s+(?:конца|края\s+на)\s+(?:месеца?|года|годината)"
    r"|(?:цял(?:ата)?|целый|весь|през\s+цял(?:ата|ия))\s+(?:месец|месяц|година|год|годината)|круглый\s+год"
    r"|до\s+конца\s+(?:этого\s+)?(?:месяца|года))(?!\w)", re.I)


@dataclass(frozen=True, slots=True)
class DateClaim:
    """A date as written: the (month, day) readings it allows, and its year if it gives one."""

    text: str
    readings: tuple[tuple[int, int], ...]
    year: int | None
    start: int  # where it stands in the text, to find what is said just before it

    def matches(self, day: dt.date) -> bool:
        return (day.month, day.day) in self.readings and self.year in (None, day.year)

    def latest(self, bound: dt.date) -> dt.date | None:
        """The latest date this can mean, taking the bound's year when none is written."""
        dates = [_safe_date(self.year or bound.year, m, d) for m, d in self.readings]
        valid = [d for d in dates if d is not None]
        return max(valid) if valid else None


@dataclass(frozen=True, slots=True)
class NumberClaim:
    """A number as written, and what it stands next to: ``points``, ``money``, ``balance`` or nothing."""

    text: str
    value: Decimal | None  # None: cannot be read
    unit: str = ""


@dataclass(slots=True)
class Claims:
    dates: list[DateClaim] = field(default_factory=list)
    times: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    percents: list[tuple[str, Decimal | None]] = field(default_factory=list)
    numbers: list[NumberClaim] = field(default_factory=list)
    words: list[tuple[str, Decimal]] = field(default_factory=list)
    multipliers: list[tuple[str, Decimal | None]] = field(default_factory=list)  # "2x", "double", "вдвое"
    cash: list[tuple[str, Decimal | None]] = field(default_factory=list)  # "€5", "5 лв", "dollars": None, no amount
    months: list[tuple[str, int, int]] = field(default_factory=list)  # a month without its day: (text, month, start)
    periods: list[str] = field(default_factory=list)  # "all year", "until the end of the month"


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int:
    name = name.lower().rstrip(".")
    for months in MONTHS.values():
        for index, month in enumerate(months):
            if month.lower() == name or (len(name) >= 3 and month.lower().startswith(name)):  # noqa: PLR2004
                return index + 1
    return 0


def _date_claim(match: re.Match[str]) -> DateClaim:
    g = match.groups()
    if match["iso"]:
        return DateClaim(match["iso"], ((int(g[2]), int(g[3])),), int(g[1]), match.start())
    if match["num"]:
        a, b, year = int(g[5]), int(g[6]), int(g[7])
        year = year + 2000 if year < 100 else year  # noqa: PLR2004 - a two-digit year is this century's
        return DateClaim(match["num"], ((b, a), (a, b)), year, match.start())  # day/month or month/day
    if match["dm"]:
        return DateClaim(match["dm"], ((_month_number(g[10]), int(g[9])),), _year(g[11]), match.start())
    return DateClaim(match["md"], ((_month_number(g[13]), int(g[14])),), _year(g[15]), match.start())


def _year(text: str | None) -> int | None:
    return int(text) if text else None


def _blank(text: str, match: re.Match[str]) -> str:
    """The text with a claim read already made spaces, so it is not read twice."""
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end():]


def _read_number(token: str, language: str) -> Decimal | None:
    token = token.replace("\u2212", "-")
    if language in DECIMAL_COMMA:
        token = re.sub(r"[ \u00a0\u202f]", "", token).replace(",", ".")
    else:
        token = re.sub(r"[,\u00a0\u202f]", "", token)
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


def _unit(text: str, match: re.Match[str]) -> str:
    before, after = text[max(0, match.start() - 40): match.start()], text[match.end(): match.end() + 40]
    if _MONEY_AFTER.match(after) or _MONEY_BEFORE.search(before):
        return "money"
    if _BALANCE_BEFORE.search(before):
        return "balance"
    return "points" if _POINTS_AFTER.match(after) else ""


def _read_numbers(text: str, claims: Claims, language: str) -> str:
    """Multipliers, percentages and numbers, each with what it stands next to; the text without them."""
    for match in list(_MULTIPLIER.finditer(text)):
        claims.multipliers.append((match[0].strip(), _read_number(match["before"] or match["after"], language)))
        text = _blank(text, match)
    number = _SIGN + "(?:" + _NUMBER["comma" if language in DECIMAL_COMMA else "en"] + ")"
    for match in list(re.finditer(rf"(?:{number}){_PERCENT}", text, re.I)):
        claims.percents.append((match[0].strip(), _read_number(re.sub(_PERCENT, "", match[0]), language)))
        text = _blank(text, match)
    spans = []
    for match in list(re.finditer(number, text)):
        claims.numbers.append(NumberClaim(match[0], _read_number(match[0], language), _unit(text, match)))
        start, end = _cash(text, match)
        if end > start:
            claims.cash.append((text[start:end].strip(), claims.numbers[-1].value))
        spans.append((start, end) if end > start else match.span())
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _cash(text: str, match: re.Match[str]) -> tuple[int, int]:
    """Where the amount and its currency stand ("€5", "5 лв", "5 off"); empty when it names none."""
    after = _MONEY_AFTER.match(text, match.end())
    if after:
        return match.start(), after.end()
    sign = re.search(r"[€$£₽₴]\s*\Z", text[max(0, match.start() - 3): match.start()])
    return (match.start() - len(sign[0]), match.end()) if sign else (0, 0)


def _read_words(text: str, claims: Claims) -> str:
    for match in list(MULTIPLIER_WORD.finditer(text)):
        claims.multipliers.append((match[0], MULTIPLIER_WORDS[match[0].lower()]))
        text = _blank(text, match)
    for match in list(NUMBER_WORD.finditer(text)):
        claims.words.append((match[0], NUMBER_WORDS[match[0].lower()]))
        text = _blank(text, match)
    for match in list(CURRENCY.finditer(text)):  # a currency with no amount next to it
        claims.cash.append((match[0], None))
    claims.months += [(m[0], _month_of(m[0]), m.start()) for m in _MONTH_WORD.finditer(text)]
    claims.periods += [m[0] for m in _PERIODS.finditer(text)]
    return text


def _month_of(name: str) -> int:
    start = name.lower()[:3]
    return next((i + 1 for i, stems in enumerate(_MONTH_STEMS) if start.startswith(stems)), 0)


def read_claims(text: str, locale: str) -> tuple[Claims, str]:
    """Every claim in ``text``, and the text left once they are blanked out (month names and
    periods are read but left in: they are words the language check still needs)."""
    language = language_of(locale)
    claims = Claims()
    for match in list(_DATES.finditer(text)):
        claims.dates.append(_date_claim(match))
        text = _blank(text, match)
    for match in list(_TIME.finditer(text)):
        claims.times.append((match[0], (int(match[1]), int(match[2]))))
        text = _blank(text, match)
    text = _read_numbers(text, claims, language)
    return claims, _read_words(text, claims)
