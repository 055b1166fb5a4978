"""The expression grammar, shipped as package data (``expr.lark``)."""

import re
from functools import lru_cache
from importlib.resources import files

__all__ = ["grammar_text", "reserved_words"]


def grammar_text(name: str = "expr.lark") -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=4)
def reserved_words(name: str = "expr.lark") -> tuple[str, ...]:
    """The grammar's keywords (its quoted words), in the order they first appear.
    The ``NAME`` terminal excludes exactly these; a test keeps the two lists equal."""
    text = "\n".join(line for line in grammar_text(name).splitlines() if not line.lstrip().startswith("//"))
    return tuple(dict.fromkeys(re.findall(r'"([a-z]+)"', text)))
