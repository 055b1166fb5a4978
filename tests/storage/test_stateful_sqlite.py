"""The engine's ledger state machine, run against the SQLite store.

Same operations and invariants as tests/engine/test_stateful.py (earn, redeem, refund,
reverse, adjust, advance the clock, replay), with every step committed to a real
SQLite file and read back, so the store's codec and unit of work are held to the
same rules as memory.
"""

import atexit
import importlib.util
import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from punchcard.plugins.sql import SqlStore

_spec = importlib.util.spec_from_file_location(
    "engine_stateful", Path(__file__).resolve().parents[1] / "engine" / "test_stateful.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

_FOLDER = Path(tempfile.mkdtemp(prefix="punchcard-stateful-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
_COUNTER = itertools.count()


def fresh_sqlite_store():
    return SqlStore(f"sqlite:///{_FOLDER / f'ledger-{next(_COUNTER)}.db'}")


class SqliteLedgerMachine(_module.LedgerMachine):
    store_factory = staticmethod(fresh_sqlite_store)


SqliteLedgerMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=20, deadline=None,
                                                 suppress_health_check=[HealthCheck.too_slow])
TestSqliteLedgerMachine = SqliteLedgerMachine.TestCase
