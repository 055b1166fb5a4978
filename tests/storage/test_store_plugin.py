"""The built-in store_sql plugin: which URLs it opens, and that it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from punchcard.engine import MemoryStore
from punchcard.plugins.manager import create_plugin_manager
from punchcard.plugins.sql.store import SqlStore


@pytest.fixture
def plugins():
    return create_plugin_manager(disabled=(), entry_points=False)


def test_sql_urls_open_a_sql_store(plugins, store_urls):
    store = plugins.open_store(store_urls.new("sqlite"))
    assert isinstance(store, SqlStore)
    store.close()
    assert isinstance(plugins.open_store("memory://"), MemoryStore)


@pytest.mark.parametrize("url", ["memory://", "redis://h/0", "mysql://h/db", "not a url"])
def test_other_urls_are_left_to_other_plugins(url):
    from punchcard.plugins import store_sql

    assert store_sql.punchcard_open_store(url, create=True, migrating=False) is None


def test_unknown_urls_name_the_sql_plugin(plugins):
    with pytest.raises(ValueError, match=r"installed: .*store_sql"):
        plugins.open_store("redis://h/0")


def test_a_sqlite_url_without_a_file_is_refused(plugins):
    with pytest.raises(ValueError, match="needs a file"):
        plugins.open_store("sqlite://")


def test_listing_plugins_does_not_load_sqlalchemy():
    code = ("import sys; from punchcard.plugins.manager import create_plugin_manager; "
            "create_plugin_manager().describe(); print('sqlalchemy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
