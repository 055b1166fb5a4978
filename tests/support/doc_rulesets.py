"""The complete rulesets a page of docs/ shows: its ```yaml blocks that start as a ruleset does,
for the tests that hold each page's worked examples to their own ``tests:``."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["page_rulesets", "ruleset_id"]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def page_rulesets(page: str) -> list[str]:
    """The complete rulesets of ``docs/<page>``, in the page's order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if block.startswith("punchcard: 1")]


def ruleset_id(body: str) -> str:
    """The ``ruleset:`` id of a ruleset's text (a test id)."""
    found = re.search(r"ruleset: (\S+)", body)
    return found[1] if found else "?"
