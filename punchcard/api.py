"""The public, in-process API (re-exported from ``punchcard``).

The engine itself looks no plugins up: these are where the installed ones (the
process-wide plugin manager) are handed in, unless the caller hands in its own.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from punchcard.dsl.check import CheckedRuleset, check_path, check_text, load_checked
from punchcard.dsl.functions import FunctionSpec
from punchcard.dsl.model import Ruleset
from punchcard.engine import Compiled, Store, compile_ruleset
from punchcard.engine import Engine as _BareEngine
from punchcard.engine.evaluate import Clock
from punchcard.engine.messaging.compose import compose
from punchcard.engine.messaging.send import Sending, SendReport, drain
from punchcard.engine.runtime.message import Composed, MessageRequest
from punchcard.engine.store import Outbox
from punchcard.plugins.manager import Plugins, get_plugin_manager

__all__ = ["check", "check_text", "check_many", "load_checked", "ruleset_json_schema", "plugin_functions",
           "compile", "Engine", "send_messages", "compose_message"]


def plugin_functions() -> list[FunctionSpec]:
    """DSL functions contributed by the installed plugins."""
    return get_plugin_manager().functions()


def compile(ruleset: str | os.PathLike | CheckedRuleset, functions: Sequence[FunctionSpec] | None = None, *,
            plugins: Plugins | None = None, specialise: bool = True) -> Compiled:
    """Compile a ruleset (a path, YAML text, or a checked ruleset) with the functions of
    ``plugins``, by default the installed plugins. See
    :func:`punchcard.engine.compile_ruleset`, which knows only the built-in functions."""
    return compile_ruleset(ruleset, functions, plugins=plugins if plugins is not None else get_plugin_manager(),
                           specialise=specialise)


class Engine(_BareEngine):
    """:class:`punchcard.engine.Engine` with plugins handed in: by default the installed
    ones, whose decision listeners hear of each committed decision. ``store`` may also be
    a storage URL (``memory://``, ``sqlite:///points.db``, ``postgresql+psycopg://...``),
    opened by the first storage plugin that understands it."""

    def __init__(self, compiled: Compiled, store: Store | str | None = None, *, plugins: Plugins | None = None,
                 clock: Clock = None, trace: bool = False):
        plugins = plugins if plugins is not None else get_plugin_manager()
        opened = plugins.open_store(store) if isinstance(store, str) else store
        super().__init__(compiled, opened, plugins=plugins, clock=clock, trace=trace)


def check(path: str | os.PathLike) -> CheckedRuleset:
    """Load and check one ruleset file or folder; never raises for problems in it."""
    return check_path(path, plugin_functions())


def check_many(paths: Iterable[str | os.PathLike]) -> list[CheckedRuleset]:
    functions = plugin_functions()
    return [check_path(Path(p), functions) for p in paths]


def ruleset_json_schema() -> dict:
    schema = Ruleset.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "punchcard ruleset"
    return schema


def send_messages(store: Outbox | str, *, limit: int | None = None, messenger: str | None = None,
                  plugins: Plugins | None = None, at: dt.datetime | None = None) -> SendReport:
    """Drain a store's outbox, as ``punchcard messages send`` does: compose each due message
    with the messenger plugins under the guardrails (else its template), deliver it through
    the delivery plugin of its channel, and mark it sent once. ``store`` is a store with an
    outbox or its URL (opened, and closed after); ``at`` sends as of that time (default: now),
    as ``--at`` does."""
    plugins = plugins if plugins is not None else get_plugin_manager()
    sending = Sending(messenger=messenger)
    clock = (lambda: at) if at is not None else (lambda: dt.datetime.now(dt.UTC))
    if not isinstance(store, str):
        return drain(store, plugins.deliveries(), plugins.messengers(), limit=limit, sending=sending, clock=clock)
    opened = plugins.open_store(store, create=False)
    try:
        return drain(opened, plugins.deliveries(), plugins.messengers(), limit=limit, sending=sending, clock=clock)
    finally:
        opened.close()


def compose_message(request: MessageRequest, *, messenger: str | None = None,
                    plugins: Plugins | None = None) -> Composed:
    """The text one chosen message would be sent with (a decision's ``message`` effect, as
    :meth:`MessageRequest.from_detail` reads it), composed as the outbox's sender would."""
    plugins = plugins if plugins is not None else get_plugin_manager()
    return compose(request, plugins.messengers(), messenger=messenger)
