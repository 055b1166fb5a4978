"""The plugin manager, and :class:`Plugins`, the typed wrapper engine code calls.

Built-in plugins and third-party plugins take the same path: each is a module
registered with ``pm.register``; third-party ones are found through the
``punchcard`` entry-point group. ``PUNCHCARD_DISABLE_PLUGINS`` (comma-separated
plugin names) blocks any of them before it is imported or registered.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from punchcard.dsl.functions import FunctionSpec, function_table

from . import hookspecs
from .protocols import Delivery, Messenger, Scorer
from .sql.urls import redact  # plain text work: no SQLAlchemy behind it

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "create_plugin_manager",
    "get_plugin_manager",
    "reset_plugin_manager",
    "builtin_name",
    "disabled_from_env",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "punchcard"
DISABLE_ENV = "PUNCHCARD_DISABLE_PLUGINS"
BUILTIN_PLUGINS = [
    "punchcard.plugins.store_memory",
    "punchcard.plugins.store_sql",
    "punchcard.plugins.functions_extra",
    "punchcard.plugins.sklearn",
    "punchcard.plugins.anthropic_messages",
    "punchcard.plugins.deliver_file",
]


class PluginError(ValueError):
    """A plugin failed or contributed something punchcard cannot accept.
    The message always names the plugin."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, as ``punchcard plugins`` lists it."""

    name: str
    kind: str  # "builtin", "entrypoint", or "local" (registered in-process by a host)
    where: str  # the module file, or "distribution version" for an entry point
    hooks: tuple[str, ...]
    distribution: str | None = None
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "where": self.where, "hooks": list(self.hooks),
                "distribution": self.distribution, "version": self.version}


def builtin_name(module_name: str) -> str:
    """``punchcard.plugins.store_memory`` -> ``store_memory``: the name to disable it by."""
    return module_name.rsplit(".", 1)[-1]


class Plugins:
    """The only way engine code reaches plugins. ``pm`` is the pluggy manager."""

    def __init__(self, pm: pluggy.PluginManager, builtins: Iterable[str] = ()) -> None:
        self.pm = pm
        self._builtins = frozenset(builtins)

    # -- hooks ------------------------------------------------------------------------
    def functions(self) -> list[FunctionSpec]:
        """Plugin functions for the expression language, checked against the built-ins."""
        specs: list[FunctionSpec] = []
        owners: dict[str, str] = {}
        for plugin, spec in self._collect("punchcard_functions"):
            if not isinstance(spec, FunctionSpec):
                raise PluginError(f"plugin {plugin!r} returned {spec!r} from punchcard_functions; "
                                  "expected a punchcard.dsl.functions.FunctionSpec")
            if spec.name in owners:
                raise PluginError(f"plugins {owners[spec.name]!r} and {plugin!r} both define "
                                  f"function {spec.name!r}")
            try:
                function_table([spec])
            except ValueError as exc:
                raise PluginError(f"plugin {plugin!r} cannot define function {spec.name!r}: it is a "
                                  "built-in function, and plugins cannot replace built-ins") from exc
            owners[spec.name] = plugin
            specs.append(spec)
        return specs

    def open_store(self, url: str, *, create: bool = True, migrating: bool = False) -> Any:
        """The store for ``url`` from the first storage plugin that understands it.
        ``create=False``: a ledger that is not there is an error, not a new one;
        ``migrating``: opened to read or migrate its schema (see the hookspec)."""
        store = self.pm.hook.punchcard_open_store(url=url, create=create, migrating=migrating)
        if store is None:
            installed = sorted({impl.plugin_name for impl in self._impls("punchcard_open_store")})
            raise ValueError(f"no storage plugin understands URL {redact(url)!r}; "
                             f"installed: {', '.join(installed) or 'none'}")
        return store

    def scorers(self, models: Mapping[str, Path] | None = None) -> dict[str, Scorer]:
        """The scorers the plugins load for ``models`` (model name -> file). A named model no
        plugin loads is an error naming it."""
        wanted = dict(models or {})
        found: dict[str, Scorer] = self._named("punchcard_scorers", Scorer, "scorer", {"models": wanted})
        for name, path in wanted.items():
            if name not in found:
                raise PluginError(f"no plugin could load model {name!r} from {path.name}; installed scorer plugins: "
                                  f"{', '.join(sorted({i.plugin_name for i in self._impls('punchcard_scorers')}))}")
        return found

    def messengers(self) -> dict[str, Messenger]:
        return self._named("punchcard_messengers", Messenger, "messenger")

    def deliveries(self) -> dict[str, Delivery]:
        """Who delivers each channel: channel name -> delivery. Two for one channel is an error."""
        by_channel: dict[str, Delivery] = {}
        owners: dict[str, str] = {}
        for plugin, item in self._collect("punchcard_deliveries"):
            if not isinstance(item, Delivery):
                raise PluginError(f"plugin {plugin!r} returned {item!r} from punchcard_deliveries, "
                                  "which is not a Delivery")
            for channel in item.channels:
                if channel in by_channel:
                    raise PluginError(f"plugins {owners[channel]!r} and {plugin!r} both deliver {channel!r}")
                by_channel[channel], owners[channel] = item, plugin
        return by_channel

    def decision_committed(self, decision: Any) -> None:
        """Tell every listener; a failing listener is logged and never fails the decision."""
        for impl in self._impls("punchcard_decision_committed"):
            try:
                _call(impl, {"decision": decision})
            except Exception:  # a listener must never undo or fail a committed decision
                log.exception("plugin %r failed in punchcard_decision_committed; the decision stands",
                              impl.plugin_name)

    def store_retried(self, reason: str, attempt: int) -> None:
        """Tell every listener of a retry; a failing listener is logged and never fails the work."""
        for impl in self._impls("punchcard_store_retried"):
            try:
                _call(impl, {"reason": reason, "attempt": attempt})
            except Exception:  # counting a retry must never stop it
                log.exception("plugin %r failed in punchcard_store_retried; the work goes on", impl.plugin_name)

    # -- introspection ------------------------------------------------------------------
    def describe(self) -> list[PluginInfo]:
        """Every registered plugin, in registration order: built-ins first."""
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # pluggy keeps blocked names with a None plugin
                continue
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
            dist = dists.get(id(plugin))
            if dist is not None:
                infos.append(PluginInfo(name, "entrypoint", f"{dist.project_name} {dist.version}", hooks,
                                        dist.project_name, dist.version))
            else:
                kind = "builtin" if name in self._builtins else "local"
                infos.append(PluginInfo(name, kind, _location(plugin), hooks))
        return infos

    # -- helpers ------------------------------------------------------------------------
    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        """Implementations in pluggy's call order (last registered and tryfirst first)."""
        caller = getattr(self.pm.hook, hook_name)
        return [impl for impl in reversed(caller.get_hookimpls()) if not (impl.wrapper or impl.hookwrapper)]

    def _collect(self, hook_name: str, kwargs: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
        """(plugin name, item) for each item each plugin returns. Implementations are
        called one at a time so every item, and every failure, names its plugin."""
        for impl in self._impls(hook_name):
            try:
                items = _call(impl, kwargs or {})
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc}") from exc
            for item in items or ():
                yield impl.plugin_name, item

    def _named(self, hook_name: str, protocol: type[Any], what: str,
               kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        # type[Any]: a runtime-checkable Protocol, which mypy refuses where a type[P] is expected
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin, item in self._collect(hook_name, kwargs):
            if not isinstance(item, protocol):
                raise PluginError(f"plugin {plugin!r} returned {item!r} from {hook_name}, "
                                  f"which is not a {protocol.__name__}")
            if item.name in found:
                raise PluginError(f"plugins {owners[item.name]!r} and {plugin!r} both provide "
                                  f"a {what} named {item.name!r}")
            found[item.name], owners[item.name] = item, plugin
        return found


def _call(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    # pluggy lets an implementation take fewer arguments than the spec declares.
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _location(plugin: object) -> str:
    return getattr(plugin, "__file__", None) or getattr(plugin, "__name__", None) or type(plugin).__module__


# -- building the manager ---------------------------------------------------------------
def disabled_from_env() -> list[str]:
    return [name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()]


def create_plugin_manager(disabled: Iterable[str] | None = None, entry_points: bool = True) -> Plugins:
    """A fresh manager: hookspecs, built-ins, then entry points; ``disabled`` names
    (default: ``PUNCHCARD_DISABLE_PLUGINS``) are blocked before anything loads."""
    pm = pluggy.PluginManager("punchcard")
    pm.add_hookspecs(hookspecs)
    for name in disabled_from_env() if disabled is None else disabled:
        pm.set_blocked(name)
    builtins = _register_builtins(pm)
    pm.check_pending()  # a built-in implementing an unknown hook is a bug in punchcard itself
    if entry_points:
        _load_entry_points(pm)
    return Plugins(pm, builtins)


def _register_builtins(pm: pluggy.PluginManager) -> list[str]:
    registered = []
    for module_name in BUILTIN_PLUGINS:
        name = builtin_name(module_name)
        if pm.is_blocked(name):
            log.debug("built-in plugin %s is disabled by %s", name, DISABLE_ENV)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the module exists but is broken: that is a bug to see
                raise
            log.debug("built-in plugin %s is not available", module_name)
            continue
        pm.register(module, name=name)
        registered.append(name)
    return registered


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    # One name at a time, so a plugin that fails to import is named in the error.
    names = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
    for name in names:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            pm.check_pending()  # refuse hooks punchcard does not have (usually a misspelling)
        except Exception as exc:
            raise PluginError(f"plugin {name!r} from the {ENTRY_POINT_GROUP!r} entry-point group failed "
                              f"to load: {exc}; disable it with {DISABLE_ENV}={name}") from exc


_lock = threading.Lock()
_current: dict[str, Plugins] = {}  # "plugins": the process-wide plugins, once built


def get_plugin_manager() -> Plugins:
    """The process-wide plugins, built on first use."""
    with _lock:
        if "plugins" not in _current:
            _current["plugins"] = create_plugin_manager()
        return _current["plugins"]


def reset_plugin_manager() -> None:
    """Forget the process-wide plugins; the next call rebuilds them (for tests, or
    after changing ``PUNCHCARD_DISABLE_PLUGINS``)."""
    with _lock:
        _current.clear()
