"""``SqlStore``: the durable ledger behind ``sqlite:///...`` and ``postgresql+psycopg://...``.

Every event runs in one transaction: idempotency check, evaluation, postings and
stored decision commit together or not at all (see unit.py); ``process_batch``
commits many events per transaction with the same guarantees (see batch.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import Connection

from punchcard.engine.runtime.decision import Decision
from punchcard.engine.runtime.state import MemberState
from punchcard.engine.store import BaseStore, OutboxRow, StoreError
from punchcard.engine.store_deployments import Deployment, NewDeployment

from . import api_keys, deployments, outbox
from .audit import AuditReport, audit
from .cache import MemberCache
from .connect import backend_of, create_sql_engine, is_retryable, redact
from .errors import describe, driver_errors, failures, is_transient, translated
from .migrate import current, ensure_schema, head, upgrade
from .models import Budget, ProcessedEventRow
from .preview import SqlPreview
from .repository import Dialect, read_member, to_processed
from .unit import SqlUnit

__all__ = ["SqlStore", "CrashPoints", "NoFaults", "BEGIN_ATTEMPTS", "DEFAULT_BATCH"]

log = logging.getLogger("punchcard.store.sql")

BEGIN_ATTEMPTS = 5  # a busy SQLite database is waited on (busy_timeout) this many times
DEFAULT_BATCH = 1000  # events per transaction in process_batch; more amortise the commit


class CrashPoints(Protocol):
    """Named points in every transaction a test may stop the process at: ``locked``,
    ``flushed``, ``commit`` (``commit(conn)`` commits) and ``committed``."""

    def at(self, point: str) -> None: ...

    def commit(self, conn: Connection) -> None: ...


class NoFaults:
    """The crash points of a store nobody is testing: none stops anything (the crash tests
    put armed ones in ``SqlStore.faults``)."""

    def at(self, point: str) -> None:
        pass

    def commit(self, conn: Connection) -> None:
        conn.commit()


class SqlStore(BaseStore):
    """A Store on SQLAlchemy. ``auto_upgrade`` (default: SQLite only) creates the schema
    in an empty database; PostgreSQL is never migrated implicitly. ``cache_size``
    members are kept decoded between transactions (see cache.py; 0 turns it off);
    ``busy_timeout`` (seconds, SQLite) is how long to wait for the write lock.
    ``create=False`` refuses a SQLite file that does not exist yet, rather than
    creating it (what reading commands want). ``migrating=True`` opens the database to
    read or migrate its schema (:meth:`schema_revision`, :meth:`upgrade_schema`): the
    schema is neither checked nor created.

    Opening checks a SQLite file with ``PRAGMA quick_check`` and refuses a corrupt one
    before anything is written to it. Every failure of the database raises
    :class:`~punchcard.engine.store.StoreError` (see errors.py)."""

    def __init__(self, url: str, *, batch_size: int = DEFAULT_BATCH, auto_upgrade: bool | None = None,
                 cache_size: int = 5000, create: bool = True, migrating: bool = False, **engine_options):
        backend = backend_of(url)
        if backend is None:
            raise ValueError(f"not a SQL ledger URL: {redact(url)}")
        self.url, self.shown_url, self.batch_size = url, redact(url), batch_size
        with failures("opening it", self.shown_url):
            self.engine = create_sql_engine(url, **engine_options)
        self.dialect = Dialect(self.engine.dialect.name)
        self.faults: CrashPoints = NoFaults()
        self.cache = MemberCache(cache_size)
        auto = (backend == "sqlite" and create) if auto_upgrade is None else auto_upgrade
        try:
            with failures("opening it", self.shown_url):
                if backend == "sqlite":
                    self._check_file(create, migrating)
                if not migrating:
                    ensure_schema(self.engine, auto and backend == "sqlite", self.shown_url)
        except BaseException:
            self.engine.dispose()
            raise

    def _check_file(self, create: bool, migrating: bool = False) -> None:
        """A missing file (unless ``create``) or a corrupt one is refused before any write;
        a migration reports a corrupt file in the database's own words, so it is not read here."""
        path = self.engine.url.database
        if not create and not (path and os.path.exists(path)):
            raise StoreError(f"no ledger at {self.shown_url}: {path} does not exist")
        if migrating:
            return
        problems = self._quick_check()
        if problems != ["ok"]:
            lines = [line.strip() for problem in problems for line in str(problem).splitlines()]
            found = "; ".join(line for line in lines if line and not line.startswith("***"))
            raise StoreError(f"{self.shown_url} is corrupt (PRAGMA quick_check: {found}); "
                             "it was left as it is: restore it from a backup")

    def _quick_check(self, attempts: int = 20) -> list[str]:
        """SQLite's own check of the file. A file another process holds (creating or migrating it)
        is busy, not corrupt: asked again, a bounded number of times, before it is refused."""
        for attempt in range(attempts):
            try:
                with self.read() as conn, conn.begin():
                    return [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(5)")]
            except driver_errors() as exc:
                if not is_transient(exc):
                    raise StoreError(f"{self.shown_url} is not a usable SQLite ledger ({describe(exc)}); "
                                     "it was left as it is: restore it from a backup") from None
                if attempt + 1 == attempts:
                    raise StoreError(f"{self.shown_url} is busy ({describe(exc)}); try again", transient=True) from None
                time.sleep(0.05 * (attempt + 1))
        return []  # not reached: the last attempt returns or raises

    def __repr__(self) -> str:
        return f"SqlStore({self.shown_url!r})"

    # -- transactions -----------------------------------------------------------------
    def begin(self, attempts: int = BEGIN_ATTEMPTS) -> Connection:
        """A connection inside a new write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        for attempt in range(1, attempts + 1):
            conn = self.engine.connect()
            try:
                conn.begin()
                return conn
            except Exception as exc:
                conn.close()
                if not is_retryable(exc):
                    raise
                if attempt == attempts:  # waited and tried enough: callers must not multiply the waits
                    raise StoreError(f"the ledger at {self.shown_url} stayed unavailable after {attempts} "
                                     f"attempts: {describe(exc)}") from None
                log.warning("%s: %s, trying again (%d of %d)", self.shown_url, describe(exc), attempt + 1, attempts)
                time.sleep(random.uniform(0.01, 0.05) * attempt)  # backoff with jitter, not synchronisation
        raise AssertionError("unreachable")

    def read(self) -> Connection:
        """A connection for reading: no write lock (``BEGIN DEFERRED`` on SQLite)."""
        return self.engine.connect().execution_options(sqlite_begin="DEFERRED")

    # -- the Store interface -----------------------------------------------------------
    def unit_of_work(self, member_id: str, *, contended: bool = False, event_id: str | None = None,
                     budgets: Mapping[str, Decimal] | None = None) -> SqlUnit:
        """A unit for one event; ``contended`` (after a lost race) locks budgets before reading
        them. Given ``event_id`` and ``budgets``, PostgreSQL reads them with the member (unit.py)."""
        return SqlUnit(self, member_id, contended, event_id, budgets)

    def preview(self, member_id: str, *, event_id: str | None = None,
                budgets: Mapping[str, Decimal] | None = None) -> SqlPreview:
        """A unit for a preview: no lock, no claim, one read-only snapshot (preview.py)."""
        return SqlPreview(self, member_id)

    def process_batch(self, engine, events: list) -> list[Decision]:
        from .batch import process_batch

        return process_batch(self, engine, events, self.batch_size)

    @translated("reading a member")
    def member(self, member_id: str) -> MemberState | None:
        """The member as stored (read afresh, never from the cache: callers may keep it)."""
        with self.read() as conn, conn.begin():
            return read_member(conn, member_id)

    @translated("reading decisions")
    def decisions(self, member_id: str, limit: int = 20, before: str | None = None) -> list[Decision]:
        """The member's stored decisions, newest first: the latest, or those stored before the
        event ``before`` (the member's events are stored in order: the member's lock orders them)."""
        table = ProcessedEventRow.__table__
        query = (select(table).where(table.c.member_id == member_id, table.c.decision.is_not(None))
                 .order_by(table.c.id.desc()).limit(limit))
        if before is not None:  # an id that is not the member's compares with NULL: no rows
            query = query.where(table.c.id < select(table.c.id).where(
                table.c.event_id == before, table.c.member_id == member_id).scalar_subquery())
        with self.read() as conn, conn.begin():
            return [to_processed(row).decision for row in conn.execute(query)]

    @translated("reading budgets")
    def budgets(self) -> dict[str, Decimal]:
        with self.read() as conn, conn.begin():
            return {row.rule: row.used for row in conn.execute(select(Budget.__table__))}

    # -- the outbox (punchcard.engine.store.Outbox; the queries are in outbox.py) --------
    def outbox_claim(self, now: dt.datetime, limit: int, until: dt.datetime, owner: str,
                     channels: Collection[str]) -> list[OutboxRow]:
        return outbox.claim(self, now, limit, until, owner, channels)

    def outbox_compose(self, message_id: str, owner: str, composed: Mapping[str, Any]) -> bool:
        return outbox.compose(self, message_id, owner, composed)

    def outbox_sent(self, message_id: str, at: dt.datetime, receipt: str | None) -> bool:
        return outbox.sent(self, message_id, at, receipt)

    def outbox_retry(self, message_id: str, owner: str, error: str, retry_at: dt.datetime | None,
                     at: dt.datetime | None = None) -> bool:
        return outbox.retry(self, message_id, owner, error, retry_at, at)

    def outbox_release(self, message_id: str, owner: str, until: dt.datetime | None) -> bool:
        return outbox.release(self, message_id, owner, until)

    def outbox_list(self, status: str | None = None, limit: int | None = None) -> list[OutboxRow]:
        return outbox.rows(self, status, limit)

    def outbox_due(self, now: dt.datetime) -> dict[str, int]:
        return outbox.due(self, now)

    def outbox_prune(self, before: dt.datetime, statuses: Collection[str] = ("sent",)) -> dict[str, int]:
        return outbox.prune(self, before, statuses)

    # -- the service's API keys (queries in api_keys.py) ---------------------------------
    def api_key_add(self, key: Mapping[str, Any]) -> None:
        api_keys.add(self, key)

    def api_key_get(self, key_id: str) -> dict[str, Any] | None:
        return api_keys.get(self, key_id)

    def api_key_list(self) -> list[dict[str, Any]]:
        return api_keys.listing(self)

    def api_key_revoke(self, key_id: str, at: dt.datetime) -> bool:
        return api_keys.revoke(self, key_id, at)

    # -- ruleset deployments (punchcard.engine.store_deployments; queries in deployments.py) --
    def deployments_mark(self) -> int:
        return deployments.mark(self)

    def deployments_live(self) -> list[Deployment]:
        return deployments.live(self)

    def deployments_history(self, ruleset: str | None = None, limit: int = 20,
                            before: int | None = None) -> list[Deployment]:
        return deployments.history(self, ruleset, limit, before)

    def deployment(self, deployment_id: int) -> Deployment | None:
        return deployments.get(self, deployment_id)

    def deployments_record(self, new: NewDeployment, replaces: int | None) -> Deployment:
        return deployments.record(self, new, replaces)

    def audit(self) -> AuditReport:
        with failures("auditing it", self.shown_url):
            return audit(self)

    # -- the schema (punchcard db) ----------------------------------------------------
    def schema_revision(self) -> tuple[str | None, str]:
        """(the database's schema revision, None when empty; the one this punchcard needs)."""
        with failures("reading its schema revision", self.shown_url), self.read() as conn:
            return current(conn), head()

    def upgrade_schema(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Run the migrations up to ``revision`` in one transaction: (from, to). A database
        it cannot account for raises :class:`~punchcard.plugins.sql.migrate.SchemaError`."""
        with failures("upgrading its schema", self.shown_url):
            return upgrade(self.engine, revision, self.shown_url)

    def close(self) -> None:
        self.engine.dispose()

