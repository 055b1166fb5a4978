"""Code the tests and benchmarks share and the ledger never runs: a throwaway PostgreSQL
cluster (pgtemp), crash points armed in a store (faults), and the SQLite WAL hook a crash
inside COMMIT needs (walhook).

``tests/`` is on the import path of every test (its conftest.py sits there), so this is
imported as ``support``; a benchmark puts ``tests/`` on its path first.
"""

__all__: list[str] = []
