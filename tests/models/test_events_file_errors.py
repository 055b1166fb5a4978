"""A model command given an events file it cannot read says which line and why, exits 2, and
never echoes the line's content."""

from __future__ import annotations

import gzip

import pytest
from model_helpers import UNTIL
from typer.testing import CliRunner

from punchcard.cli import app

GOOD = '{"type": "purchase", "id": "a", "member": "m", "time": "2026-01-01T10:00:00+09:00", "amount": "1"}\n'


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_line_that_is_not_utf8_is_named_and_refused(tmp_path, suffix, monkeypatch):
    body = (GOOD + '{"type": "purchase", "category": "caf\xe9-secret"}\n').encode("latin-1")
    path = tmp_path / f"events{suffix}"
    path.write_bytes(gzip.compress(body) if suffix.endswith(".gz") else body)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["model", "train", "--target", "churn", "--until", UNTIL, "--out", "m.skops",
                                      "--events", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path.name} line 2: not UTF-8 text" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output
