"""Statements of one PostgreSQL round trip, sent as one libpq pipeline of prepared statements.

A psycopg cursor in pipeline mode costs tens of microseconds of Python per statement
(a cursor object, its query converted, its generators stepped), and one event's unit of
work sends about ten statements: through cursors that was a third of the durable path's
CPU. Here each statement is prepared once per connection (server side, under a name of
our own) and then sent with ``PQsendQueryPrepared`` on the connection's own libpq handle.
Parameters are dumped as text, and rows loaded, by a psycopg ``Transformer`` on the
connection's adapters: the values are exactly those a psycopg cursor gives, converted by
psycopg's C code.

A pipeline is used as ``with Pipeline(raw, info) as pipe: result = pipe.send(sql, params)``
(``info``: a dictionary that lives as long as the connection, the pool's for it);
the results are filled in when the block ends, which syncs the pipeline and reads every
result in order. The first statement that failed is raised as psycopg's own exception
(errors.py turns it into a ``StoreError``), after the pipeline has been drained, so the
connection is left usable, or closed when it cannot be.
"""

from __future__ import annotations

import re
import select
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg
from psycopg import pq
from psycopg.abc import Transformer
from psycopg.adapt import PyFormat
from psycopg.adapt import Transformer as make_transformer

__all__ = ["Pipeline", "Result", "numbered"]

_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%s|%%")
# invalid_sql_statement_name; feature_not_supported, which "cached plan must not change
# result type" is after a column's type changed
_STALE_STATEMENTS = (b"26000", b"0A000")
_SKIPPED = object()  # a prepare's result: read and checked, not handed out
_TEXT = [[PyFormat.TEXT] * n for n in range(64)]  # every parameter as text: the formats of n of them


def numbered(sql: str) -> tuple[bytes, list[str | int]]:
    """``%(name)s`` or ``%s`` placeholders as libpq's ``$n``, and what each ``$n`` takes: a
    name (one ``$n`` for every use of it) or a position in the parameters."""
    order: list[str | int] = []

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        key: str | int = match.group(1) if match.group(1) is not None else len(order)
        if key not in order or isinstance(key, int):
            order.append(key)
        return f"${order.index(key) + 1}" if isinstance(key, str) else f"${len(order)}"

    return _PLACEHOLDER.sub(number, sql).encode(), order


class Column(NamedTuple):
    name: str
    type_code: int


class Result:
    """One statement's result, read as from a psycopg cursor: ``pgresult``,
    ``description``, ``fetchall()``, ``fetchone()``, ``rowcount``."""

    __slots__ = ("_next", "_tx", "pgresult")

    def __init__(self, tx: Transformer):
        self._tx, self.pgresult, self._next = tx, None, 0

    @property
    def description(self) -> list[Column]:
        result = self._done()
        return [Column(result.fname(i).decode(), result.ftype(i)) for i in range(result.nfields)]

    @property
    def rowcount(self) -> int:
        status = self._done().command_status or b""
        tail = status.rsplit(b" ", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    def fetchall(self) -> list[tuple]:
        result = self._done()
        start, self._next = self._next, result.ntuples
        if start >= result.ntuples:
            return []
        self._tx.set_pgresult(result)
        return self._tx.load_rows(start, result.ntuples, tuple)

    def fetchone(self) -> tuple | None:
        result = self._done()
        if self._next >= result.ntuples:
            return None
        self._tx.set_pgresult(result)
        self._next += 1
        return self._tx.load_row(self._next - 1, tuple)

    def _done(self) -> Any:
        if self.pgresult is None:
            raise RuntimeError("a pipelined statement's result is read after its pipeline")
        return self.pgresult


@dataclass
class _Session:
    """What one connection has: its transformer, the statements it has prepared, and a
    poller on its socket (``poll`` has no limit on descriptor numbers, as ``select`` has)."""

    tx: Transformer
    poller: Any
    names: dict[bytes, bytes] = field(default_factory=dict)  # SQL -> prepared statement's name
    made: int = 0

    def new_name(self) -> bytes:
        """A name never used on this connection: one this side has forgotten may still be
        taken on the server (where only some statements were deallocated, say)."""
        self.made += 1
        return b"punchcard_%d" % self.made


_SESSION = "punchcard_wire"


def _session(raw: psycopg.Connection[Any], info: dict[str, Any]) -> _Session:
    """The connection's session, kept in ``info``: the pool's dictionary for the driver
    connection, which goes with it (a module-level map would keep every connection alive:
    the transformer holds its connection)."""
    session = info.get(_SESSION)
    if session is None or session.tx.connection is not raw:  # none yet, or the pool has reconnected
        session = info[_SESSION] = _Session(make_transformer(raw), _Poller(raw.pgconn.socket))
    return session


class _Poller:
    """Waits for a socket to be readable (or writable): ``poll`` where there is one."""

    def __init__(self, fd: int):
        self.fd = fd
        self.poll = select.poll() if hasattr(select, "poll") else None
        if self.poll is not None:
            self.poll.register(fd, select.POLLIN)

    def readable(self) -> None:
        if self.poll is None:
            select.select([self.fd], [], [])
        else:
            self.poll.poll()

    def either(self) -> None:
        if self.poll is None:
            select.select([self.fd], [self.fd], [])
            return
        self.poll.modify(self.fd, select.POLLIN | select.POLLOUT)
        try:
            self.poll.poll()
        finally:
            self.poll.modify(self.fd, select.POLLIN)


class Pipeline:
    """Statements sent together, their results read when the block ends."""

    def __init__(self, raw: psycopg.Connection[Any], info: dict[str, Any]):
        self.raw, self.pgconn = raw, raw.pgconn
        self.session = _session(raw, info)
        self._waiting: list[tuple[Any, bytes | None]] = []  # (a Result or _SKIPPED, the SQL a prepare is for)

    def __enter__(self) -> Pipeline:
        self.pgconn.enter_pipeline_mode()
        return self

    def send(self, sql: bytes, params: Sequence[Any]) -> Result:
        """Send one statement with its parameters (in the order of its ``$n``)."""
        name = self.session.names.get(sql)
        if name is None:
            name = self.session.new_name()
            self.pgconn.send_prepare(name, sql)
            self.session.names[sql] = name
            self._waiting.append((_SKIPPED, sql))
        count = len(params)
        formats = _TEXT[count] if count < len(_TEXT) else [PyFormat.TEXT] * count
        values = self.session.tx.dump_sequence(params, formats) if count else None
        self.pgconn.send_query_prepared(name, values)
        result = Result(self.session.tx)
        self._waiting.append((result, None))
        return result

    def __exit__(self, kind, error, traceback) -> None:
        try:
            failure = self._finish()
        except BaseException as stopped:
            self._abandon()
            if kind is None or not isinstance(stopped, Exception):  # an interrupt stands over any error
                raise
            return  # a statement could not be sent: the caller's error stands
        if kind is None and failure is not None:
            raise failure

    def _finish(self) -> Exception | None:
        """Sync, read every result in order, leave pipeline mode; the first failure."""
        self.pgconn.pipeline_sync()
        failure: Exception | None = None
        for waiting, prepared_sql in self._waiting:
            result = self._result()
            if result.status == pq.ExecStatus.FATAL_ERROR and failure is None:
                failure = self._error(result)
            if prepared_sql is not None and result.status != pq.ExecStatus.COMMAND_OK:
                self.session.names.pop(prepared_sql, None)  # not prepared after all: prepare it next time
            if waiting is not _SKIPPED:
                waiting.pgresult = result
            self._end_of_statement()
        self._waiting.clear()
        while self._result().status != pq.ExecStatus.PIPELINE_SYNC:
            pass
        self.pgconn.exit_pipeline_mode()
        return failure

    def _result(self) -> Any:
        result = self._next()
        if result is None:
            raise self._lost()
        return result

    def _end_of_statement(self) -> None:
        """Each statement's results end with a null result; a statement has only one here."""
        while self._next() is not None:
            pass

    def _next(self) -> Any:
        """The next result, waiting for it in ``poll``: libpq would wait holding the
        interpreter's lock, and stop every other thread (one holding a lock this
        statement waits for, say)."""
        pgconn, poller = self.pgconn, self.session.poller
        while pgconn.flush():  # 1: some left to send
            poller.either()
            pgconn.consume_input()  # what the server sent meanwhile, so it never waits on us
        while pgconn.is_busy():
            poller.readable()
            pgconn.consume_input()
        return pgconn.get_result()

    def _error(self, result: Any) -> Exception:
        if self.pgconn.status == pq.ConnStatus.BAD:
            return self._lost()
        if result.error_field(pq.DiagnosticField.SQLSTATE) in _STALE_STATEMENTS:
            # dropped under us (DEALLOCATE ALL, DISCARD ALL, a pooler), or made for columns a
            # migration has changed: prepared again when the unit runs again, which a
            # connection-class failure asks for (errors.py)
            self.session.names.clear()
            return psycopg.OperationalError("the connection's prepared statements were dropped or are out of date")
        return psycopg.errors.error_from_result(result, encoding=self.raw.info.encoding)

    def _lost(self) -> psycopg.OperationalError:
        return psycopg.OperationalError("the connection to the server was lost")

    def _abandon(self) -> None:
        """A pipeline that cannot be read to its end: the connection is closed, and so
        never goes back to the pool in an unknown state (errors.release discards it)."""
        self._waiting.clear()
        self.session.names.clear()
        self.raw.close()
