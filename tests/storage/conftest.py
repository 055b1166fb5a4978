"""Storage-test fixtures: SQL backends only (``sql_url``), compiled test rulesets, and
helpers for running worker processes."""

from __future__ import annotations

import multiprocessing

import pytest
from ledger_scenarios import COFFEE, EVERYTHING, HERE

import punchcard

SQL_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request, store_urls):
    """``sql_url()`` -> the URL of a new, empty, migrated database of this backend."""
    return lambda: store_urls.new(request.param)


@pytest.fixture(scope="session")
def everything():
    return punchcard.compile(str(EVERYTHING))


@pytest.fixture(scope="session")
def coffee():
    return punchcard.compile(str(COFFEE))


@pytest.fixture(scope="session")
def budget_race():
    return punchcard.compile(str(HERE / "rulesets" / "budget-race.yaml"))


@pytest.fixture(scope="session")
def plain():
    return punchcard.compile(str(HERE / "rulesets" / "plain.yaml"))


@pytest.fixture(scope="session")
def fork():
    """The fork start method: workers inherit compiled rulesets instead of rebuilding them,
    and open their own database connections."""
    return multiprocessing.get_context("fork")
