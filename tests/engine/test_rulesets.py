"""Golden tests: every ruleset's own tests:, through every storage backend.

Each ruleset in rulesets/ and tests/engine/rulesets/ carries its cases. They run
through ``Engine`` on each store that ``store_factory`` yields (memory, SQLite,
PostgreSQL), so one file checks the semantics and the storage together.
"""

from pathlib import Path

import pytest

from punchcard import compile as compile_ruleset  # with the installed plugins: a ruleset may name models
from punchcard.engine.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml")) + sorted((ROOT / "tests/engine/rulesets").glob("*.yaml"))


def test_every_ruleset_carries_tests():
    assert RULESETS, "no rulesets found"
    for path in RULESETS:
        assert compile_ruleset(path).model.tests, f"{path.name} has no tests:"


@pytest.mark.parametrize("path", RULESETS, ids=lambda p: p.stem)
def test_ruleset_examples_pass(path, store_factory):
    results = run_tests(compile_ruleset(path), store_factory)
    failures = [f"{r.name}: {f}" for r in results for f in r.failures]
    assert not failures, "\n".join(failures)


def test_a_broken_example_fails():
    text = (ROOT / "rulesets/coffee-club.yaml").read_text().replace("expect: {points: 300}", "expect: {points: 301}")
    results = run_tests(compile_ruleset(text))
    assert [r.passed for r in results] == [False]
    assert "points: expected 301, got 300" in results[0].failures[0]
    assert results[0].decision is not None and results[0].decision.points == 300
