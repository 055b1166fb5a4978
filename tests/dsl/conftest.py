"""Shared helpers for the ruleset-language tests: a minimal valid ruleset to build on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from punchcard.dsl.check import CheckedRuleset, check_text

REPO = Path(__file__).resolve().parents[2]

HEADER = """\
punchcard: 1
ruleset: {name}
version: 1.0.0
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  member: {{birth_date: optional date, segment: optional string}}
  events:
    purchase: {{amount: money, category: string, channel: optional string}}
"""

BASE = """\
earning:
  base:
    on: purchase
    points: event.amount
"""


def ruleset_text(body: str = BASE, name: str = "sample") -> str:
    """A complete ruleset: a fixed header (purchase events with amount and category) plus ``body``."""
    return HEADER.format(name=name) + textwrap.dedent(body)


def codes(result: CheckedRuleset) -> list[str]:
    return [d.code.value for d in result.diagnostics]


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(name="ruleset_text")
def ruleset_text_fixture():
    """``ruleset_text(body, name)``: the header plus ``body``, as YAML text."""
    return ruleset_text


@pytest.fixture(name="codes")
def codes_fixture():
    """``codes(result)``: the diagnostic codes of a checked ruleset, in order."""
    return codes


@pytest.fixture
def check_body():
    """``check_body(yaml_body)`` checks the minimal header plus ``yaml_body``."""
    return lambda body=BASE, name="sample": check_text(ruleset_text(body, name), "ruleset.yaml")
