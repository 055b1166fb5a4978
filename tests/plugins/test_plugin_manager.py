"""The manager and its typed wrapper: built-ins, blocking, stores, scorers, messengers, listeners."""

from __future__ import annotations

import logging
import sys
import types
from decimal import Decimal
from types import SimpleNamespace

import pytest

import punchcard.plugins
from punchcard.plugins import Messenger, Scorer, hookimpl, hookspecs, manager
from punchcard.plugins.manager import DISABLE_ENV, PluginError, create_plugin_manager, get_plugin_manager


def test_hookimpl_is_exported_for_third_parties():
    assert punchcard.plugins.hookimpl is hookspecs.hookimpl
    assert {"hookimpl", "Scorer", "Messenger"} <= set(punchcard.plugins.__all__)


def test_builtins_are_registered_under_short_names(plugins):
    names = [info.name for info in plugins.describe()]
    assert {"store_memory", "functions_extra"} <= set(names)
    assert all(info.kind == "builtin" for info in plugins.describe())


def test_describe_lists_files_and_hooks(plugins):
    info = {i.name: i for i in plugins.describe()}["functions_extra"]
    assert info.where.endswith("functions_extra.py")
    assert info.hooks == ("punchcard_functions",)
    assert info.to_json()["hooks"] == ["punchcard_functions"]


def test_a_locally_registered_plugin_is_listed_as_local(plugins):
    plugins.pm.register(SimpleNamespace(punchcard_scorers=_scorer_hook(_Scorer("local"))), name="host")
    info = {i.name: i for i in plugins.describe()}["host"]
    assert (info.kind, info.hooks) == ("local", ("punchcard_scorers",))


def test_the_process_wide_manager_is_cached_and_resettable():
    first = get_plugin_manager()
    assert get_plugin_manager() is first
    manager.reset_plugin_manager()
    assert get_plugin_manager() is not first


# -- blocking ---------------------------------------------------------------------------------
def test_the_environment_blocks_a_builtin_by_name(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, " functions_extra , nonexistent")
    plugins = get_plugin_manager()
    assert plugins.pm.is_blocked("functions_extra")
    assert "functions_extra" not in [info.name for info in plugins.describe()]
    assert "clamp" not in [spec.name for spec in plugins.functions()]
    assert "store_memory" in [info.name for info in plugins.describe()]


def test_without_the_environment_the_builtin_is_there():
    assert "clamp" in [spec.name for spec in get_plugin_manager().functions()]


def test_a_missing_builtin_module_is_skipped(monkeypatch, caplog):
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ["punchcard.plugins.not_written_yet",
                                                     "punchcard.plugins.functions_extra"])
    with caplog.at_level(logging.DEBUG, logger=manager.__name__):
        plugins = create_plugin_manager(disabled=(), entry_points=False)
    assert [info.name for info in plugins.describe()] == ["functions_extra"]
    assert "not_written_yet" in caplog.text


# -- storage ----------------------------------------------------------------------------------
@pytest.fixture
def fake_engine_store(monkeypatch):
    module = types.ModuleType("punchcard.engine.store")

    class MemoryStore:
        pass

    module.MemoryStore = MemoryStore
    monkeypatch.setitem(sys.modules, "punchcard.engine.store", module)
    return module


def test_memory_urls_open_a_new_memory_store(plugins, fake_engine_store):
    first, second = plugins.open_store("memory://"), plugins.open_store("memory://")
    assert isinstance(first, fake_engine_store.MemoryStore)
    assert first is not second


def test_memory_urls_open_the_engine_memory_store(plugins):
    store_module = pytest.importorskip("punchcard.engine.store",
                                       reason="punchcard.engine.store is not in this checkout yet")
    assert isinstance(plugins.open_store("memory://"), store_module.MemoryStore)


def test_an_unknown_url_names_the_installed_storage_plugins(plugins):
    with pytest.raises(ValueError, match=r"no storage plugin understands URL 'redis://h/0'; installed: .*store_memory"):
        plugins.open_store("redis://h/0")


def test_the_error_never_shows_a_password(plugins):
    with pytest.raises(ValueError) as info:
        plugins.open_store("redis://loyalty:s3cret@h/0")
    assert "s3cret" not in str(info.value) and "loyalty:***@h" in str(info.value)


def test_the_first_store_plugin_that_answers_wins(plugins):
    @hookimpl
    def punchcard_open_store(url):
        return "a custom store" if url.startswith("custom://") else None

    plugins.pm.register(SimpleNamespace(punchcard_open_store=punchcard_open_store), name="custom")
    assert plugins.open_store("custom://x") == "a custom store"


# -- scorers and messengers -------------------------------------------------------------------
class _Scorer:
    version = "1"
    features = ("recency_days",)

    def __init__(self, name: str):
        self.name = name

    def score_many(self, rows):
        return [Decimal("0.25") for _ in rows]


class _Messenger:
    name = "plain"

    def compose(self, member, context):
        return f"hello {member['id']}"


def _scorer_hook(*items):
    @hookimpl
    def punchcard_scorers():
        return list(items)

    return punchcard_scorers


def test_scorers_and_messengers_are_keyed_by_name(plugins):
    @hookimpl
    def punchcard_messengers():
        return [_Messenger()]

    plugins.pm.register(SimpleNamespace(punchcard_scorers=_scorer_hook(_Scorer("churn")),
                                        punchcard_messengers=punchcard_messengers), name="acme")
    scorers, messengers = plugins.scorers(), plugins.messengers()
    assert list(scorers) == ["churn"] and isinstance(scorers["churn"], Scorer)
    assert scorers["churn"].score_many([{}, {}]) == [Decimal("0.25")] * 2
    assert messengers["plain"].compose({"id": "masha"}, {}) == "hello masha"
    assert isinstance(messengers["plain"], Messenger)


def test_two_scorers_with_one_name_name_both_plugins(plugins):
    plugins.pm.register(SimpleNamespace(punchcard_scorers=_scorer_hook(_Scorer("churn"))), name="one")
    plugins.pm.register(SimpleNamespace(punchcard_scorers=_scorer_hook(_Scorer("churn"))), name="two")
    with pytest.raises(PluginError, match=r"plugins '(one|two)' and '(one|two)' both provide a scorer named 'churn'"):
        plugins.scorers()


def test_an_object_that_is_not_a_scorer_is_named(plugins):
    plugins.pm.register(SimpleNamespace(punchcard_scorers=_scorer_hook(SimpleNamespace(name="half"))), name="half")
    with pytest.raises(PluginError, match=r"plugin 'half' returned .* not a Scorer"):
        plugins.scorers()


def test_a_hook_that_raises_is_named(plugins):
    @hookimpl
    def punchcard_messengers():
        raise RuntimeError("model file missing")

    plugins.pm.register(SimpleNamespace(punchcard_messengers=punchcard_messengers), name="llm")
    with pytest.raises(PluginError, match="plugin 'llm' failed in punchcard_messengers: model file missing"):
        plugins.messengers()


# -- listeners ----------------------------------------------------------------------------------
def test_a_failing_listener_is_logged_and_does_not_raise(plugins, caplog):
    seen = []

    @hookimpl
    def failing(decision):
        raise RuntimeError("webhook down")

    @hookimpl
    def recording(decision):
        seen.append(decision)

    plugins.pm.register(SimpleNamespace(punchcard_decision_committed=recording), name="metrics")
    plugins.pm.register(SimpleNamespace(punchcard_decision_committed=failing), name="webhook")
    decision = object()
    with caplog.at_level(logging.ERROR, logger=manager.__name__):
        assert plugins.decision_committed(decision) is None
    assert seen == [decision]  # the listener after the failing one still ran
    [record] = caplog.records
    assert "'webhook'" in record.getMessage() and record.exc_info[1].args == ("webhook down",)
