"""Shared helpers for engine tests."""

from pathlib import Path

import pytest

from punchcard.engine.compiler.stages import compile_ruleset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def coffee():
    return compile_ruleset(ROOT / "rulesets/coffee-club.yaml")


@pytest.fixture(scope="session")
def retail():
    return compile_ruleset(ROOT / "rulesets/retail-tiers.yaml")

