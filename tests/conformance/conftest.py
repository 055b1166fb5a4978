"""Fixtures of the conformance suite: compiled rulesets built once per module, the reference
run of each case kept once per module, and stores opened on the session's shared servers.

Each case gets a store of its own: a store's event ids and budgets are shared by all its
members, and cases reuse both member ids and event ids (``e1``, ``e2``, ...), so cases
cannot share a store without changing one another's decisions. A SQLite store is a copy
of a migrated template file and a PostgreSQL one a new schema in the session's database
(tests/conftest.py), both cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conformance_cells import REFERENCE, run_cell

import punchcard
from punchcard.engine.testing import CaseResult


@pytest.fixture(scope="module")
def compiled() -> Callable:
    """``compiled(path, specialise)``: each ruleset compiled once per module and evaluator, by the
    front door, so a ruleset may use the installed plugins' functions."""
    cache: dict = {}

    def get(path: Path, specialise: bool):
        key = (path, specialise)
        if key not in cache:
            cache[key] = punchcard.compile(path, specialise=specialise)
        return cache[key]

    return get


@pytest.fixture(scope="module")
def reference(compiled) -> Callable:
    """``reference(path, index)``: the case run once by the reference cell (plain, memory)."""
    cache: dict = {}

    def get(path: Path, index: int) -> CaseResult:
        if (path, index) not in cache:
            ruleset = compiled(path, False)
            cache[path, index] = run_cell(ruleset, ruleset.model.tests[index], REFERENCE[1], None)
        return cache[path, index]

    return get
