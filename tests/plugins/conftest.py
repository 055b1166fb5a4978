"""Shared fixtures: every test starts from a clean process-wide plugin manager."""

from __future__ import annotations

import sys
import textwrap
import types

import pluggy
import pytest

from punchcard.plugins import hookspecs
from punchcard.plugins.manager import DISABLE_ENV, Plugins, create_plugin_manager, reset_plugin_manager


@pytest.fixture(autouse=True)
def clean_plugins(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def bare_pm() -> pluggy.PluginManager:
    """A fresh pluggy manager with the real hookspecs and no plugins."""
    pm = pluggy.PluginManager("punchcard")
    pm.add_hookspecs(hookspecs)
    return pm


@pytest.fixture
def plugins() -> Plugins:
    """The built-ins only: installed entry points cannot change the outcome."""
    return create_plugin_manager(disabled=(), entry_points=False)


@pytest.fixture
def make_module():
    """``make_module(name, source)`` executes ``source`` as a fresh module."""
    return module_from_source


def module_from_source(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        exec(compile(textwrap.dedent(source), module.__file__, "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module
