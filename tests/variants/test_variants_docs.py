"""docs/variants.md runs as written: its Python, its check output and its commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.dsl.split import VariantArm, Variants

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs/variants.md").read_text(encoding="utf-8")
runner = CliRunner()


@pytest.mark.parametrize("code", re.findall(r"```python\n(.*?)```", DOC, re.S))
def test_python_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/variants.md", "exec"), {})


def test_the_yaml_examples_are_the_bundled_ruleset():
    bundled = (ROOT / "rulesets/coffee-ab.yaml").read_text(encoding="utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", DOC, re.S):
        lines = [line.split("  #")[0].rstrip() for line in block.splitlines()]
        for line in lines:
            assert line.strip() in bundled, line


def test_the_check_output_is_what_check_prints(tmp_path, monkeypatch):
    (shown,) = re.findall(r"```text\n(coffee-ab.yaml:.*?)```", DOC, re.S)
    bad = (ROOT / "rulesets/coffee-ab.yaml").read_text(encoding="utf-8").replace(
        "              multiply: 3", "              multiply: event.amountt * 0 + 3")
    (tmp_path / "coffee-ab.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "coffee-ab.yaml"])
    assert result.exit_code == 1
    assert shown.strip() in result.output


def test_every_key_of_the_section_is_in_the_table():
    for key in {*Variants.model_fields, *VariantArm.model_fields}:
        assert f"| `{key}` |" in DOC or f"`{key}`" in DOC, key


def test_the_commands_run(tmp_path, monkeypatch):
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", DOC, re.S) if "sample-events" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rulesets").symlink_to(ROOT / "rulesets")
    for command in block.replace("\\\n", " ").strip().splitlines():
        args = shlex.split(command)
        assert args[0] == "punchcard"
        if args[1] == "sample-events":
            args += ["--count", "3000", "--members", "300"]
        result = runner.invoke(app, args[1:])
        assert result.exit_code == 0, result.output
    assert "Uplift" in (tmp_path / "ab.html").read_text(encoding="utf-8")
    assert len((tmp_path / "members.jsonl").read_text().splitlines()) == 300
    assert json.loads((tmp_path / "members.jsonl").read_text().splitlines()[0]) == {"member": "m000000"}
