"""The engine's ledger state machine, run against the SQL stores: SQLite and PostgreSQL.

Same operations and invariants as tests/engine/test_stateful.py (earn, redeem, refund,
reverse, adjust, advance the clock, replay), with numbers across their whole documented
range, and every step committed to a real database and read back, so each store's codec
and unit of work are held to the same rules as memory. Each example gets a new, empty,
migrated database from ``store_urls`` (a SQLite file; a PostgreSQL schema on the
session's throwaway cluster).
"""

import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from punchcard.plugins.sql import SqlStore

_spec = importlib.util.spec_from_file_location(
    "engine_stateful", Path(__file__).resolve().parents[1] / "engine" / "test_stateful.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

SETTINGS = {
    "sqlite": settings(max_examples=15, stateful_step_count=20, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow]),
    "postgresql": settings(max_examples=12, stateful_step_count=20, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow]),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_ledger_state_machine_holds_on_sql_stores(backend, store_urls):
    class SqlLedgerMachine(_module.LedgerMachine):
        store_factory = staticmethod(lambda: SqlStore(store_urls.new(backend)))

    run_state_machine_as_test(SqlLedgerMachine, settings=SETTINGS[backend])
