"""docs/messages.md: its python examples run as written, and its tables say what the code does."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from punchcard.plugins import anthropic_messages

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs/messages.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS)
def test_messages_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/messages.md", "exec"), {})


def test_the_price_table_is_the_one_the_messenger_charges():
    rows = re.findall(r"^\| `(claude-[\w-]+)` \| ([\d.]+) \| ([\d.]+) \|$", TEXT, re.M)
    assert {model: (Decimal(i), Decimal(o)) for model, i, o in rows} == anthropic_messages.PRICES


def test_the_settings_table_names_every_setting_and_its_default():
    plugin = anthropic_messages
    for name in (plugin.API_KEY_ENV, plugin.MODEL_ENV, plugin.TIMEOUT_ENV, plugin.RETRIES_ENV, plugin.CACHE_ENV):
        assert f"| `{name}` |" in TEXT
    assert f"| `{plugin.MODEL_ENV}` | the model | `{plugin.DEFAULT_MODEL}` |" in TEXT
    assert f"| `{plugin.DEFAULT_TIMEOUT}` |" in TEXT and f"| `{plugin.DEFAULT_RETRIES}` |" in TEXT
    assert f"cut to {plugin.QUOTED_LIMIT} characters" in TEXT
    assert f"the {plugin.MEMORY_CACHE_SIZE} most recently used" in TEXT
