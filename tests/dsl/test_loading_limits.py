"""Loading a ruleset is bounded before any work: the file's size is known before it is read,
and aliases cannot make a small file expand into a large document."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.dsl.check import check_path, check_text
from punchcard.dsl.errors import Code
from punchcard.dsl.yamlsrc import Limits


def diagnostics(text: str):
    return [(d.code, d.message) for d in check_text(text, "r.yaml").diagnostics]


def test_a_file_over_the_limit_is_refused_without_being_read(tmp_path, monkeypatch, ruleset_text):
    path = tmp_path / "huge.yaml"
    path.write_text(ruleset_text() + "description: " + "x" * 5_000_000 + "\n", encoding="utf-8")
    reads = []
    original = pathlib.Path.open

    def spy(self, *args, **kwargs):
        reads.append(self)
        return original(self, *args, **kwargs)

    for name in ("read_text", "read_bytes"):
        monkeypatch.setattr(pathlib.Path, name, lambda self, *a, **k: pytest.fail("the whole file was read"))
    monkeypatch.setattr(pathlib.Path, "open", spy)
    result = check_path(path)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (Code.LIMIT_ERROR, f"the file is larger than {Limits().max_bytes} bytes")]
    assert reads == []


def test_files_under_the_limit_still_load(tmp_path, ruleset_text):
    path = tmp_path / "ok.yaml"
    path.write_text(ruleset_text(), encoding="utf-8")
    assert check_path(path).ok


def test_each_alias_of_a_scalar_counts_against_the_alias_limit():
    limit = Limits().max_aliases
    text = "a: &a " + "x" * 1000 + "\n" + "".join(f"k{i}: *a\n" for i in range(limit + 1))
    assert diagnostics(text) == [(Code.LIMIT_ERROR, f"more than {limit} alias uses")]
    fewer = "a: &a x\n" + "".join(f"k{i}: *a\n" for i in range(limit))
    assert Code.LIMIT_ERROR not in [code for code, _ in diagnostics(fewer)]


def test_a_few_aliases_of_a_large_scalar_cannot_expand_the_document():
    limit = Limits().max_bytes
    text = "a: &a " + "x" * (limit // 3) + "\nb: [*a, *a, *a, *a]\n"
    assert diagnostics(text) == [(Code.LIMIT_ERROR, f"the document expands to more than {limit} bytes of text")]


def test_a_half_megabyte_ruleset_cannot_make_test_write_hundreds_of_megabytes(tmp_path, ruleset_text):
    scalar = "x" * 5000
    expected = ", ".join(["*big"] * 100)
    text = ruleset_text() + (
        f"description: &big {scalar}\n"
        "tests:\n"
        "  - name: echo\n"
        '    events: [{type: purchase, time: "2026-03-02T12:00:00", amount: 1, category: tea}]\n'
        f"    expect: {{effects: [{expected}], trace: [{expected}]}}\n")
    path = tmp_path / "ruleset.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["test", "--format", "json", str(path)])
    assert len(result.stdout) < 20 * len(text)
    checked = CliRunner().invoke(app, ["check", "--format", "json", str(path)])
    assert result.exit_code == checked.exit_code == 1
    # the ruleset does not load: test reports the diagnostics check reports, as JSON
    assert json.loads(result.stdout) == json.loads(checked.stdout) != []
