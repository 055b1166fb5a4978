"""The guardrails: every check, run on every text a model returns, before it can be sent.

A text is used only if every check passes; otherwise the fallback template is, and the
record keeps each verdict. The checks, in the order they are reported:

* ``numbers``: every number, percentage, date, time, tier name and category the text states
  equals a fact given ("triple points" when the multiplier is 2 fails), and the right fact:
  a number next to "points" equals a points fact, a multiplier ("2x", "double", "вдвое") a
  multiplier fact, an amount next to a currency a money fact, "balance is ..." the balance;
* ``promises``: no "free" (nor "on us", "gift", "cashback"), "guaranteed", cash value (any
  currency, unless a money fact states the amount) or "never expires", and no validity past
  the offer's end (a later date, a month without its day, "all year"), unless a fact holds it;
* ``banned``: none of the ruleset's banned words and topics, in any case, as whole words;
* ``length``: not empty, and within the channel's limit;
* ``language``: written in the member's language;
* ``injection``: no markup, no link the facts do not give, nothing that reads as an
  instruction, wherever it came from (a first name that says "ignore previous instructions"
  echoed by the model fails here).

Text the facts give (a first name, a tier, an offer's name) is data: it is taken out before
the other checks read the text, so a member called "Free" or an offer called "Double Tuesday"
passes, while the same words written by the model alone do not. Only ``injection`` reads the
whole text, quoted data included.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from punchcard.dsl.message_words import INSTRUCTION, INSTRUCTIONS, LINK, PROMISE, PROMISES
from punchcard.engine.runtime.message import Check, MessageRequest

from .claims import Claims, read_claims
from .language import language_verdict
from .templates import display, fact_value, is_percent, plain, request_values, sanitised

__all__ = ["CHECKS", "check", "passed", "PROMISES", "INSTRUCTIONS"]

_VALIDITY_FACT = re.compile(r"valid|expir|until|deadline|(?:^|_)ends?(?:_|$)|last_day", re.I)
_VALIDITY_WORDS = re.compile(r"(?<!\w)(?:valid|until|till|through|thru|throughout|expire|ends?|by|before|all|rest"
                             r"|до|конца|края|през|валидн|изтича|действ|сгорят|сгорают|течение)\W*\S*\W*\Z", re.I)
# A month named after one of these is a time ("in April"); otherwise it may be a word ("May your...").
_IN_MONTH = re.compile(r"(?<!\w)(?:in|during|from|this|next|of|for|within|в|във|през|от|този|следващия|этом"
                       r"|следующем)\s+\Z", re.I)
# Facts whose value is a multiplier, a number of points, an amount of money or the balance, by name;
# an offer's value is a multiplier for double points and points for every other kind of offer.
_KINDS = {"multiplier": re.compile(r"multipl", re.I), "points": re.compile(r"points|balance|bonus", re.I),
          "money": re.compile(r"purchase|amount|spend|price|cost|cash|money", re.I),
          "balance": re.compile(r"balance", re.I)}
_MULTIPLIER_OFFERS = frozenset({"double_points"})
_EITHER_OFFERS = frozenset({"custom", ""})  # a custom offer's value may be either
_UNIT_WORDS = {"points": "a number of points", "money": "an amount of money", "balance": "the balance"}


def _masked(text: str, strings: Iterable[str]) -> str:
    """The text with each given string (as whole words, in any case) made a space."""
    for value in sorted({s for s in strings if s.strip()}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", text, flags=re.I)
    return text


def _strings(request: MessageRequest) -> list[str]:
    """Text facts and quoted data as the text shows them (the quoted data also as the template
    shows it): data, not the writer's claims."""
    values = request_values(request)
    shown = [display(name, value, request.locale) for name, value in values.items()
             if isinstance(fact_value(value), str)]
    return shown + [plain(text) for text in request.quoted.values()] + [sanitised(t) for t in request.quoted.values()]


def _numbers(facts: Mapping[str, Any]) -> dict[str, set[Decimal]]:
    """Every number a fact gives (``any``, dates' years included), and those of each kind."""
    kinds: dict[str, set[Decimal]] = {kind: set() for kind in ("any", "percent", *_KINDS)}
    offer_type = str(facts.get("offer_type") or "")
    for name, value in facts.items():
        if isinstance(value, dt.date):
            kinds["any"].add(Decimal(value.year))
        if not isinstance(value, (int, Decimal)):
            continue
        kinds["any"].add(Decimal(value))
        found = {kind for kind, pattern in _KINDS.items() if pattern.search(name)}
        if is_percent(name):
            found = {"percent"}
        elif name == "offer_value":
            found = {"multiplier", "points"} if offer_type in _EITHER_OFFERS else (
                {"multiplier"} if offer_type in _MULTIPLIER_OFFERS else {"points"})
        for kind in found:
            kinds[kind].add(Decimal(value))
    return kinds


def _number_claims(claims: Claims, kinds: Mapping[str, set[Decimal]]) -> list[str]:
    wrong = []
    for claim in claims.numbers:
        if claim.unit and claim.value not in kinds[claim.unit]:
            wrong.append(f"{claim.text!r} is not {_UNIT_WORDS[claim.unit]} given")
        elif not claim.unit and claim.value not in kinds["any"]:
            wrong.append(f"{claim.text!r} is not a number given")
    wrong += [f"{text!r} ({value}) is not a multiplier given" if text.replace("-", "").isalpha()
              else f"{text!r} is not a multiplier given"
              for text, value in claims.multipliers if value not in kinds["multiplier"]]
    for text, number in claims.words:
        if number not in kinds["any"] and not (number == Decimal("0.5") and Decimal(50) in kinds["percent"]):
            wrong.append(f"{text!r} ({number}) is not a number given")
    return wrong


def _fact_claims(claims: Claims, facts: Mapping[str, Any]) -> list[str]:
    kinds = _numbers(facts)
    dates = [v.date() if isinstance(v, dt.datetime) else v for v in facts.values() if isinstance(v, dt.date)]
    times = {(v.hour, v.minute) for v in facts.values() if isinstance(v, dt.datetime)}
    wrong = [f"{c.text!r} is not a date given" for c in claims.dates if not any(c.matches(d) for d in dates)]
    wrong += [f"{text!r} is not a time given" for text, hm in claims.times if hm not in times]
    wrong += [f"{text!r} is not a percentage given" for text, v in claims.percents if v not in kinds["percent"]]
    return wrong + _number_claims(claims, kinds)


def _inflected(word: str) -> re.Pattern[str]:
    """A tier or category in any of its plain forms: "wine", "wines", "bakeries", "кафето"."""
    stem = re.escape(word[:-1]) + r"(?:y|ies)" if word.lower().endswith("y") else re.escape(word)
    return re.compile(rf"(?<!\w){stem}(?:s|es|['\u2019]s|[\u0430-\u044f\u0451]{{1,3}})?(?!\w)", re.I)


def _vocabulary(rest: str, request: MessageRequest, facts: Mapping[str, Any]) -> list[str]:
    """Tier names and categories the text names without a fact giving them."""
    given = {str(v).lower() for v in facts.values() if isinstance(v, str)}
    words = [w for kind in ("tiers", "categories") for w in request.vocabulary.get(kind, ()) if w.strip()]
    return [f"{w!r} is not a fact given" for w in words if w.lower() not in given and _inflected(w).search(rest)]


def _check_numbers(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    claims, rest = read_claims(_masked(text, _strings(request)), request.locale)
    wrong = _fact_claims(claims, facts) + _vocabulary(rest, request, facts)
    return Check("numbers", not wrong, "; ".join(wrong))


def _bound(facts: Mapping[str, Any]) -> dt.date | None:
    """The latest day a fact bounds validity by (``valid_until``, ``expires_on``, ...), if any."""
    bounds = [v.date() if isinstance(v, dt.datetime) else v for name, v in facts.items()
              if isinstance(v, dt.date) and _VALIDITY_FACT.search(name)]
    return max(bounds) if bounds else None


def _month_end(month: int, after: dt.date) -> dt.date:
    """The last day of the next ``month`` that has not ended by ``after``."""
    year = after.year if month >= after.month else after.year + 1
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def _validity(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> list[str]:
    """Validity stated past the facts' end: a later date, a month without its day, or a period."""
    bound = _bound(facts)
    if bound is None:
        return []
    claims, _rest = read_claims(text, request.locale)
    late = [c for c in claims.dates if _VALIDITY_WORDS.search(text[max(0, c.start - 30): c.start])
            and (c.latest(bound) or bound) > bound]
    wrong = [f"{c.text!r} is later than the offer's end, {bound.isoformat()}" for c in late]
    days = {(d.year, d.month) for d in facts.values() if isinstance(d, dt.date)}
    sent = request.send_at.date() if isinstance(request.send_at, dt.datetime) else bound
    for name, month, start in claims.months:
        end = _month_end(month, sent) if month else bound
        if _VALIDITY_WORDS.search(text[max(0, start - 30): start]):
            wrong.append(f"{name!r} states a validity without its day; the offer ends {bound.isoformat()}")
        elif end > bound and (end.year, end.month) not in days and _IN_MONTH.search(text[max(0, start - 12): start]):
            wrong.append(f"{name!r} is later than the offer's end, {bound.isoformat()}")
    wrong += [f"{p!r} states a validity without its day; the offer ends {bound.isoformat()}" for p in claims.periods]
    return wrong


def _cash(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> list[str]:
    """A currency, with or without an amount, is a cash value unless a money fact states that amount."""
    claims, _rest = read_claims(text, request.locale)
    money = _numbers(facts)["money"]
    return [f"{shown!r} is a cash value no fact holds" for shown, amount in claims.cash
            if amount is None or amount not in money]


def _check_promises(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    masked = _masked(text, _strings(request))
    wrong = [f"{m[0]!r} is a promise no fact holds" for m in PROMISE.finditer(masked)]
    wrong += _cash(masked, request, facts) + _validity(masked, request, facts)
    return Check("promises", not wrong, "; ".join(wrong))


def _phrase(words: str) -> re.Pattern[str]:
    """A banned word or topic as whole words, in any case, whatever space is between them."""
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words.split())) + r"(?!\w)", re.I)


def _check_banned(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    masked = _masked(text, _strings(request))
    found = [w.strip() for w in request.banned if w.strip() and _phrase(w).search(masked)]
    return Check("banned", not found, "; ".join(f"{w!r} is banned" for w in found))


def _check_length(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    if not text.strip():
        return Check("length", False, "the text is empty")
    ok = len(text) <= request.max_length
    detail = "" if ok else f"{len(text)} characters, over the {request.channel} limit of {request.max_length}"
    return Check("length", ok, detail)


def _check_language(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    _claims, rest = read_claims(_masked(text, _strings(request)), request.locale)
    ok, detail = language_verdict(rest, request.locale)
    return Check("language", ok, detail)


def _check_injection(text: str, request: MessageRequest, facts: Mapping[str, Any]) -> Check:
    # A link is allowed when the host gives it as a fact; text a member wrote gives none.
    given = " ".join(str(v) for name, v in request.facts.items() if name not in request.quoted)
    found = [m[0] for m in INSTRUCTION.finditer(text)]
    links = [m[0] for m in LINK.finditer(text) if m[0] not in given]
    wrong = [f"{t!r} looks like an instruction or markup" for t in found]
    wrong += [f"{t!r} is a link no fact gives" for t in links]
    wrong += [f"echoes quoted text {name!r}" for name, quoted in request.quoted.items()
              if any(t.lower() in plain(quoted).lower() for t in found + links)]
    return Check("injection", not wrong, "; ".join(wrong))


CHECKS: tuple[Callable[[str, MessageRequest, Mapping[str, Any]], Check], ...] = (
    _check_numbers, _check_promises, _check_banned, _check_length, _check_language, _check_injection)


def check(text: str, request: MessageRequest) -> tuple[Check, ...]:
    """Every guardrail's verdict on ``text`` as the message ``request`` asks for, in order."""
    facts = {name: fact_value(value) for name, value in request.facts.items()}
    return tuple(run(text, request, facts) for run in CHECKS)


def passed(checks: Iterable[Check]) -> bool:
    return all(c.passed for c in checks)
