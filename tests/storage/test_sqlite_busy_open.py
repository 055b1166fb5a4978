"""A SQLite ledger another process holds (creating or migrating it) is busy, not corrupt:
the open-time check asks again a bounded number of times, and one held too long is a
transient error that says so, never "restore it from a backup"."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import OperationalError

from punchcard.engine.store import StoreError
from punchcard.plugins.sql.store import SqlStore


def _busy_for(store: SqlStore, times: int, monkeypatch) -> list[int]:
    """The store's reads fail as a held SQLite file fails, ``times`` times, then work."""
    real, calls = store.read, []

    @contextmanager
    def read():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("PRAGMA quick_check", {}, sqlite3.OperationalError("database is locked"))
        with real() as conn:
            yield conn

    monkeypatch.setattr(store, "read", read)
    return calls


def test_a_ledger_busy_for_a_moment_is_checked_once_it_is_let_go(tmp_path, monkeypatch):
    store = SqlStore(f"sqlite:///{tmp_path / 'points.db'}")
    calls = _busy_for(store, 3, monkeypatch)
    assert store._quick_check(attempts=5) == ["ok"] and len(calls) == 4
    store.close()


def test_a_ledger_busy_too_long_is_a_transient_error_never_called_corrupt(tmp_path, monkeypatch):
    store = SqlStore(f"sqlite:///{tmp_path / 'points.db'}")
    calls = _busy_for(store, 10, monkeypatch)
    with pytest.raises(StoreError) as refused:
        store._quick_check(attempts=3)
    assert len(calls) == 3 and refused.value.transient and "busy" in str(refused.value)
    assert "restore it from a backup" not in str(refused.value)
    store.close()
