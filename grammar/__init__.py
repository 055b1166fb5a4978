"""The expression grammar, shipped as package data (``expr.lark``)."""

from importlib.resources import files

__all__ = ["grammar_text"]


def grammar_text(name: str = "expr.lark") -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
