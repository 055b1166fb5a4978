"""Is a text in the member's language? Letters first, then a language detector.

The detector is lingua (``lingua-language-detector``): it is built for short texts, runs
offline from models shipped in its wheel, gives the same answer every time, and can be told
which languages to choose among. It is asked only to choose among the languages a loyalty
message could plausibly be in, which keeps short texts from being read as a rare language.

The guardrails hand over the text with the facts taken out (names, numbers, dates), so only
the words the writer chose are judged; with fewer than :data:`MIN_WORDS` of them there is
nothing to judge and the check passes: "Masha, 300" is in every language.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .templates import language_of

__all__ = ["MIN_WORDS", "MIN_CONFIDENCE", "PLAUSIBLE", "CYRILLIC", "language_verdict"]

MIN_WORDS = 3
MIN_CONFIDENCE = 0.25  # the member's language must be at least this likely among the plausible ones
PLAUSIBLE = ("en", "bg", "ru", "uk", "de", "fr", "es", "it")
CYRILLIC = frozenset({"bg", "ru", "uk", "sr", "mk", "be"})
_WORD = re.compile(r"[^\W\d_]{2,}")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def _lingua() -> Any:
    # Imported on the first check, not with punchcard: `import punchcard` and the command line stay quick.
    import lingua

    return lingua


def _language(code: str) -> Any:
    lingua = _lingua()
    return lingua.Language.from_iso_code_639_1(getattr(lingua.IsoCode639_1, code.upper()))


@functools.lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...]) -> Any:
    # lingua loads the models of the languages asked for only, once, when first built.
    return _lingua().LanguageDetectorBuilder.from_languages(*map(_language, languages)).build()


def _known(language: str) -> bool:
    return hasattr(_lingua().IsoCode639_1, language.upper())


def _script_verdict(text: str, language: str) -> str | None:
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if language in CYRILLIC and latin > cyrillic:
        return "written in Latin letters"
    if language not in CYRILLIC and cyrillic > latin:
        return "written in Cyrillic letters"
    return None


def language_verdict(text: str, locale: str) -> tuple[bool, str]:
    """(passed, why not) for ``text``, already stripped of facts, in ``locale``'s language."""
    language = language_of(locale)
    if len(_WORD.findall(text)) < MIN_WORDS:
        return True, ""
    script = _script_verdict(text, language)
    if script:
        return False, f"{script}, not {language!r}"
    if not _known(language):
        return True, ""  # no model for it: the letters were all there was to check
    languages = tuple(sorted({*PLAUSIBLE, language}))
    detector = _detector(languages)
    confidence = detector.compute_language_confidence(text, _language(language))
    if confidence >= MIN_CONFIDENCE:
        return True, ""
    found = detector.detect_language_of(text)
    shown = found.iso_code_639_1.name.lower() if found is not None else "no language"
    return False, f"reads as {shown!r}, not {language!r}"
