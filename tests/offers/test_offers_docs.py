"""The python examples in docs/offers.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "offers.md").read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples():
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS)
def test_python_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/offers.md", "exec"), {})


def test_the_trace_shown_is_what_explain_prints(monkeypatch):
    from typer.testing import CliRunner

    from punchcard.cli import _register_commands, app

    _register_commands()
    monkeypatch.chdir(ROOT)
    page = (ROOT / "docs" / "offers.md").read_text(encoding="utf-8")
    (shown,) = re.findall(r"```text\n(offer_choose c-1 .*?)```", page, re.S)
    event = '{"type": "offer_choose", "id": "c-1", "member": "masha", "time": "2026-03-02T12:00:00"}'
    result = CliRunner().invoke(app, ["explain", "rulesets/coffee-offers.yaml", "--event", event])
    assert result.exit_code == 0, result.output
    assert result.output == shown
