"""Run a function from inside SQLite's COMMIT, once the transaction is in the WAL.

Python's ``sqlite3`` module does not expose ``sqlite3_wal_hook``, so this calls it
through ``ctypes`` on the connection's own ``sqlite3*`` handle, in the SQLite library
the module is linked with. SQLite calls the hook while it executes COMMIT, after the
transaction's frames are written to the WAL and synced and the write lock is released,
before COMMIT returns to the caller. Only the crash tests use it (faults.py): the hook
replaces the connection's automatic checkpoints, and the process never lives on.

Every step is checked (the library is the one loaded, the handle names this
connection's database, which is inside a transaction); anything unexpected raises
instead of guessing.
"""

from __future__ import annotations

import ctypes
import sqlite3
from collections.abc import Callable

__all__ = ["on_wal_commit"]

_HOOK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int)
_KEEP: list = []  # callbacks must outlive the call that registers them


def _library() -> ctypes.CDLL:
    """The SQLite library this process has loaded (the one ``_sqlite3`` links to)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libsqlite3" in line and "/" in line}
    if len(paths) != 1:
        raise RuntimeError(f"expected one loaded libsqlite3, found {sorted(paths)}")
    lib = ctypes.CDLL(paths.pop())
    lib.sqlite3_libversion.restype = ctypes.c_char_p
    lib.sqlite3_db_filename.restype = ctypes.c_char_p
    lib.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.sqlite3_get_autocommit.argtypes = [ctypes.c_void_p]
    lib.sqlite3_wal_hook.argtypes = [ctypes.c_void_p, _HOOK, ctypes.c_void_p]
    lib.sqlite3_wal_hook.restype = ctypes.c_void_p
    if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        raise RuntimeError("the loaded libsqlite3 is not the one the sqlite3 module uses")
    return lib


def _handle(lib: ctypes.CDLL, connection: sqlite3.Connection) -> int:
    """The ``sqlite3*`` of ``connection``: CPython keeps it right after the object header."""
    handle = ctypes.c_void_p.from_address(id(connection) + object.__basicsize__).value
    main = [row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"]
    if not handle or not main or lib.sqlite3_db_filename(handle, b"main").decode() != main[0]:
        raise RuntimeError("could not find the SQLite handle of this connection")
    if lib.sqlite3_get_autocommit(handle):
        raise RuntimeError("the connection is not inside a transaction")
    return handle


def on_wal_commit(connection: sqlite3.Connection, action: Callable[[], None]) -> None:
    """Call ``action`` from inside the next COMMIT on ``connection`` (in WAL mode), after
    the transaction is durable in the WAL and before COMMIT returns."""
    lib = _library()
    handle = _handle(lib, connection)

    @_HOOK
    def hook(_arg, _db, _name, _pages) -> int:
        action()
        return 0

    _KEEP.append(hook)
    lib.sqlite3_wal_hook(handle, hook, None)
