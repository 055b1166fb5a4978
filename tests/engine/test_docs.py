"""The python examples in docs/semantics.md run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs/semantics.md").read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS)
def test_semantics_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/semantics.md", "exec"), {})  # noqa: S102 - our own documentation


def test_semantics_names_the_worked_example_files():
    text = (ROOT / "docs/semantics.md").read_text()
    for name in re.findall(r"`(tests/engine/rulesets/[\w-]+\.yaml|rulesets/[\w-]+\.yaml)`", text):
        assert (ROOT / name).is_file(), name


def test_readme_python_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.split() == ["applied", "300", "300"]
