"""Fixtures for every test folder: a real PostgreSQL, and fresh stores on each backend.

``postgres_url`` (session): a throwaway cluster started with initdb/pg_ctl in a
temporary directory (unix socket only), or ``PUNCHCARD_TEST_POSTGRES_URL`` when set.
Without PostgreSQL the tests that need it fail, locally as in CI: they never pass by
being skipped, and the failure says how to get a server (``scripts/ensure-postgres``).

``store_urls`` (session): ``store_urls.new("sqlite" | "postgresql")`` is the URL of a
new, empty, migrated store (a SQLite file copied from a migrated template; a new
migrated schema in a test database, selected by ``search_path`` in the URL);
``store_urls.empty(backend)`` the URL of one with no schema at all.

``store_factory`` (parametrised memory / sqlite / postgresql): a zero-argument
callable returning a fresh, empty, migrated store on each call; stores it made are
closed after the test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
from typing import NoReturn

import pytest

POSTGRES_ENV = "PUNCHCARD_TEST_POSTGRES_URL"
BACKENDS = ["memory", "sqlite", "postgresql"]


def postgres_unavailable(why: str) -> NoReturn:
    """Fail, saying how to get PostgreSQL: a skipped storage test would pass untested."""
    pytest.fail(f"PostgreSQL is not available: {why}\nInstall the server binaries with scripts/ensure-postgres, "
                f"or set {POSTGRES_ENV} to an existing server's URL.", pytrace=False)


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a PostgreSQL database for the session (its ``postgres`` database)."""
    if os.environ.get(POSTGRES_ENV):
        yield os.environ[POSTGRES_ENV]
        return
    from support.pgtemp import FAST, ClusterUnavailable, TempCluster

    try:
        cluster = TempCluster(settings=FAST).start()
    except ClusterUnavailable as exc:
        postgres_unavailable(str(exc))
    previous = _stop_on_sigterm()
    try:
        yield cluster.url()
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """A terminated run (``timeout``, CI cancelling) still stops the cluster: SIGTERM
    becomes KeyboardInterrupt, which pytest answers by tearing fixtures down."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return signal.getsignal(signal.SIGTERM)
    return signal.signal(signal.SIGTERM, interrupt)


class StoreUrls:
    """New empty, migrated stores: SQLite files and PostgreSQL schemas."""

    def __init__(self, request, tmp_path_factory):
        self._request, self._tmp = request, tmp_path_factory
        self._count = itertools.count(1)
        self._sqlite_template = None
        self._pg_admin = None

    def new(self, backend: str) -> str:
        return self.sqlite() if backend == "sqlite" else self.postgresql()

    def empty(self, backend: str) -> str:
        """An empty, unmigrated database (a new SQLite path; a new PostgreSQL schema)."""
        if backend == "sqlite":
            return f"sqlite:///{self._tmp.mktemp('sqlite-empty') / 'ledger.db'}"
        return self.postgresql(migrated=False)

    def sqlite(self) -> str:
        from punchcard.plugins.sql.store import SqlStore

        if self._sqlite_template is None:
            template = self._tmp.mktemp("sqlite-template") / "template.db"
            SqlStore(f"sqlite:///{template}").close()  # auto-migrates the empty file
            self._sqlite_template = template
        path = self._tmp.mktemp("sqlite") / "ledger.db"
        shutil.copyfile(self._sqlite_template, path)
        return f"sqlite:///{path}"

    def postgresql(self, migrated: bool = True) -> str:
        """A new schema in the session's test database, migrated with the migrations'
        SQL (rendered once by alembic): much quicker than a database per call. The URL
        sets ``search_path``, so the store sees only its schema."""
        from sqlalchemy import text

        if self._pg_admin is None:
            self._start_postgres()
        schema = f"store_{next(self._count)}"
        with self._pg_admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            if migrated:
                conn.exec_driver_sql(f'SET search_path TO "{schema}";\n{self._pg_ddl}')
        return self._pg_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)

    def _start_postgres(self) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        server = make_url(self._request.getfixturevalue("postgres_url"))
        admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT",
                              poolclass=_null_pool())
        self._pg_database = f"punchcard_test_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self._pg_database}"'))
        self._pg_server_admin = admin
        self._pg_url = server.set(drivername="postgresql+psycopg", database=self._pg_database)
        self._pg_admin = create_engine(self._pg_url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())
        self._pg_ddl = _migrations_sql("postgresql+psycopg://")

    def close(self) -> None:
        """Drop the test database on an external server; a throwaway cluster is already
        gone (it was started after this fixture, so it stops first)."""
        if self._pg_admin is None:
            return
        self._pg_admin.dispose()
        if os.environ.get(POSTGRES_ENV):
            from sqlalchemy import text

            with self._pg_server_admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)'))
        self._pg_server_admin.dispose()


def _migrations_sql(url: str) -> str:
    """The migrations up to head as one SQL script (alembic's offline mode)."""
    import io

    from alembic import command

    from punchcard.plugins.sql.migrate import alembic_config

    config = alembic_config()
    config.output_buffer = io.StringIO()
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head", sql=True)
    return config.output_buffer.getvalue()



def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


@pytest.fixture(scope="session")
def store_urls(request, tmp_path_factory):
    urls = StoreUrls(request, tmp_path_factory)
    yield urls
    urls.close()


@pytest.fixture(params=BACKENDS)
def store_factory(request, store_urls):
    """``store_factory()`` -> a fresh, empty, migrated store of this backend."""
    from punchcard.engine.store import MemoryStore
    from punchcard.plugins.sql.store import SqlStore

    opened = []

    def make():
        store = MemoryStore() if request.param == "memory" else SqlStore(store_urls.new(request.param))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
