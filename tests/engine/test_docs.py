"""The python examples in docs/semantics.md run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs/semantics.md").read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS)
def test_semantics_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/semantics.md", "exec"), {})


def test_semantics_names_the_worked_example_files():
    text = (ROOT / "docs/semantics.md").read_text()
    for name in re.findall(r"`(tests/engine/rulesets/[\w-]+\.yaml|rulesets/[\w-]+\.yaml)`", text):
        assert (ROOT / name).is_file(), name


def test_readme_python_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.split() == ["applied", "300", "300"]


def test_performance_example_runs(monkeypatch, capsys):
    """The garbage-collector example runs as written; the thresholds it sets are put back."""
    import gc

    monkeypatch.chdir(ROOT)
    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "docs/performance.md").read_text(), re.S)
    thresholds = gc.get_threshold()
    try:
        exec(compile(code, "docs/performance.md", "exec"), {})
        assert gc.get_threshold() == (50_000, 20, 20)
    finally:
        gc.set_threshold(*thresholds)
    assert capsys.readouterr().out.split() == ["applied", "300"]


def test_performance_names_existing_benchmarks():
    text = (ROOT / "docs/performance.md").read_text()
    for name in re.findall(r"`(bench/[\w]+\.py)`", text):
        assert (ROOT / name).is_file(), name
