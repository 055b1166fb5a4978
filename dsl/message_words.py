"""The words a member message may not use on its own: promises, money, instructions and numbers.

Two readers share these lists. The guardrails (engine/messaging/guardrails.py) read a model's
text with them before it can be sent; :func:`literal_problems` reads a ruleset's fallback
template with them when the ruleset is checked, so a template's own words state nothing a fact
does not (the facts come in through its ``{placeholders}``, and only those are data).

Each list holds regular expressions, matched in any case as whole words. Pure data and
functions: nothing here knows of the engine.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from decimal import Decimal

__all__ = [
    "PROMISES", "CURRENCIES", "INSTRUCTIONS", "NUMBER_WORDS", "MULTIPLIER_WORDS",
    "PROMISE", "CURRENCY", "INSTRUCTION", "LINK", "NUMBER_WORD", "MULTIPLIER_WORD", "literal_problems",
]

_NOT = r"(?:not|n['\u2019]t)"
PROMISES: tuple[str, ...] = (
    # something for nothing
    r"free", r"for\s+nothing", r"at\s+no\s+(?:cost|charge|extra\s+cost)", r"no\s+charge", r"complimentary",
    r"on\s+the\s+house", r"on\s+us", r"gratis", r"zero\s+cost", r"costs?\s+(?:you\s+)?nothing", r"gifts?",
    r"gifted", r"cash\s*-?\s*back", r"безплатн\w*", r"подар\w*", r"даром", r"за\s+наша\s+сметка",
    r"за\s+наш\s+сч[её]т", r"кешбе[кц]\w*", r"к[эе]шб[эе]к\w*", r"бесплатн\w*",
    # certainty and cash
    r"guarantee[ds]?", r"cash", r"money\s+back", r"refund\w*", r"гарант\w*", r"в\s+брой", r"пари",
    r"възстановява\w*", r"наличны\w*",
    # no end
    r"never\s+expire[sd]?", r"no\s+expiry", r"no\s+expiration", r"(?:does|do|will|shall)\s*" + _NOT + r"\s+expire",
    r"won['\u2019]?t\s+(?:ever\s+)?expire", r"(?:don|doesn)['\u2019]t\s+expire", r"forever", r"lifetime", r"unlimited",
    r"(?:никога\s+)?не\s+изтича\w*", r"няма\s+да\s+изтек\w*", r"безсрочн\w*", r"завинаги", r"неограничен\w*",
    r"(?:никогда\s+)?не\s+(?:сгорают|сгорят|сгорит|сгорает|истекает|истечёт|истечет)", r"навсегда",
    r"бессрочн\w*", r"неограниченн\w*",
)
# A currency's word or sign: with or without an amount, it states a cash value. (The rouble's
# abbreviation is escaped: its letters all look like Latin ones, which the linter refuses.)
CURRENCIES: tuple[str, ...] = (
    r"€", r"\$", r"£", r"₽", r"₴", r"лв\.?", r"лева?", r"стотинк\w*", r"\u0440\u0443\u0431(?:\.|л\w*)?", r"копе\w*",
    r"гривн\w*", r"евро", r"roubles?", r"rubles?", r"dollars?", r"euros?", r"pounds?", r"pence", r"cents?",
    r"usd", r"eur", r"bgn", r"rub", r"gbp",
)
INSTRUCTIONS: tuple[str, ...] = (
    r"<\s*/?\s*[a-z!][^>]*>",  # an HTML tag or comment
    r"!?\[[^\]]*\]\([^)]*\)",  # a markdown link or image
    r"`|\*\*|__|^\s*#+\s",  # code, emphasis, a heading
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|rules|above|previous)\b",
    r"\b(?:system\s+prompt|you\s+are\s+now|act\s+as|pretend\s+to\s+be|new\s+instructions?)\b",
    r"^\s*(?:system|assistant|user|human)\s*:",
    r"(?:игнорир|пренебрегн|забрав|забудь)\w*[^.!?\n]{0,40}(?:инструкци|указани|правила)\w*",
)

# Words that state a number. "one" and its forms are left out: far more often a pronoun or an
# article than a claim.
NUMBER_WORDS: dict[str, Decimal] = {
    **dict.fromkeys(("two", "два", "две", "двама"), Decimal(2)),
    **dict.fromkeys(("three", "три", "трима"), Decimal(3)),
    **dict.fromkeys(("four", "четири"), Decimal(4)),
    "five": Decimal(5), "six": Decimal(6), "seven": Decimal(7), "eight": Decimal(8), "nine": Decimal(9),
    "ten": Decimal(10), "eleven": Decimal(11), "twelve": Decimal(12), "twenty": Decimal(20),
    "thirty": Decimal(30), "forty": Decimal(40), "fifty": Decimal(50), "hundred": Decimal(100),
    "thousand": Decimal(1000), "пет": Decimal(5), "шест": Decimal(6), "седем": Decimal(7),
    "осем": Decimal(8), "девет": Decimal(9), "десет": Decimal(10), "двадесет": Decimal(20),
    "тридесет": Decimal(30), "петдесет": Decimal(50), "сто": Decimal(100), "хиляда": Decimal(1000),
    **dict.fromkeys(("half", "halved", "половин", "половината", "половина", "половину"), Decimal("0.5")),
    "пять": Decimal(5), "десять": Decimal(10), "двадцать": Decimal(20), "пятьдесят": Decimal(50),
}
# Words that state a multiplier ("double points"): they must equal a multiplier fact.
MULTIPLIER_WORDS: dict[str, Decimal] = {
    **dict.fromkeys(("double", "doubled", "twice", "twofold", "two-fold", "двойно", "двойни", "двоен", "двойна",
                     "удвоени", "удвоено", "двукратно", "двукратни", "двойные", "двойных", "двойной", "двойная",
                     "удвоенные", "дважды", "вдвое", "двукратный", "двукратные", "подвійні", "подвійна",
                     "подвійних", "подвійний"), Decimal(2)),
    **dict.fromkeys(("triple", "tripled", "treble", "thrice", "threefold", "three-fold", "тройно", "тройни",
                     "троен", "тройна", "утроени", "утроено", "трикратно", "трикратни", "тройные", "тройных",
                     "тройной", "тройная", "утроенные", "трижды", "втрое", "трехкратно", "трёхкратно",
                     "трикратный", "потрійні", "потрійних", "потрійна"), Decimal(3)),
    **dict.fromkeys(("quadruple", "fourfold", "four-fold", "четворни", "вчетверо", "четырехкратно"), Decimal(4)),
    **dict.fromkeys(("fivefold", "five-fold", "впятеро"), Decimal(5)),
    **dict.fromkeys(("tenfold", "ten-fold", "вдесятеро"), Decimal(10)),
}


def _words(words: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?!\w)",
                      re.I)


PROMISE = re.compile(r"(?<!\w)(?:" + "|".join(PROMISES) + r")(?!\w)", re.I)
# A sign stands anywhere; a word only on its own.
_SIGNS = frozenset({r"€", r"\$", r"£", r"₽", r"₴"})
CURRENCY = re.compile(r"[€$£₽₴]|(?<!\w)(?:" + "|".join(c for c in CURRENCIES if c not in _SIGNS) + r")(?!\w)", re.I)
INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in INSTRUCTIONS), re.I | re.M)
LINK = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.\w+|\b[\w-]+\.(?:com|net|org|io|ly|co|info|biz|bg|ru"
                  r"|eu|app|link|xyz|me)\b", re.I)
NUMBER_WORD = _words(tuple(NUMBER_WORDS))
MULTIPLIER_WORD = _words(tuple(MULTIPLIER_WORDS))
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _literal(template: str) -> str:
    """The template's own words, each placeholder made a space (an unparsable template: as written)."""
    try:
        parts = [literal for literal, *_rest in string.Formatter().parse(template)]
    except ValueError:
        return re.sub(r"\{[^{}]*\}", " ", template)
    return " ".join(parts)


def _banned(text: str, banned: Sequence[str]) -> list[str]:
    found = []
    for words in banned:
        if words.strip() and re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, words.split())) + r"(?!\w)", text,
                                       re.I):
            found.append(f"uses the banned word {words.strip()!r}")
    return found


def literal_problems(template: str, banned: Sequence[str]) -> list[str]:
    """What a template's own words (its ``{placeholders}`` removed) state that only a fact may:
    each problem one sentence naming the words found. Empty: the template states facts only."""
    text = _literal(template)
    problems = [f"states the number {m[0]!r} in its own words; a number must come from a fact"
                for m in _DIGITS.finditer(text)]
    problems += [f"states the number {m[0]!r} in its own words; a number must come from a fact"
                 for pattern in (NUMBER_WORD, MULTIPLIER_WORD) for m in pattern.finditer(text)]
    problems += [f"promises {m[0]!r}, which only a fact may hold" for m in PROMISE.finditer(text)]
    problems += [f"names money ({m[0]!r}), which only a fact may state" for m in CURRENCY.finditer(text)]
    problems += _banned(text, banned)
    problems += [f"holds markup, a link or an instruction: {m[0]!r}"
                 for pattern in (INSTRUCTION, LINK) for m in pattern.finditer(text)]
    return problems
