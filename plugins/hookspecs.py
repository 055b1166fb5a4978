"""Every hook punchcard calls, in one place.

A plugin is any module or object with functions decorated ``@hookimpl`` and named
after a hook below. Built-in plugins and third-party plugins (found through the
``punchcard`` entry-point group) are registered the same way, so a built-in is
also the reference example of its hook. docs/plugins.md documents each hook with
a runnable example; a test keeps the two in step.

Engine code never calls these through ``pm.hook`` directly: it goes through the
typed wrapper :class:`punchcard.plugins.manager.Plugins`.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = [
    "hookspec",
    "hookimpl",
    "punchcard_open_store",
    "punchcard_functions",
    "punchcard_scorers",
    "punchcard_messengers",
    "punchcard_deliveries",
    "punchcard_decision_committed",
    "punchcard_store_retried",
]

hookspec = pluggy.HookspecMarker("punchcard")
hookimpl = pluggy.HookimplMarker("punchcard")


@hookspec(firstresult=True)
def punchcard_open_store(url: str, create: bool, migrating: bool) -> Any | None:
    """Open the store for a storage URL.

    Called when a host or a command opens storage, e.g. ``memory://``,
    ``sqlite:///points.db`` or ``postgresql+psycopg://host/db``.

    :param url: the storage URL exactly as the host gave it.
    :param create: whether opening may create a ledger that is not there yet (a
        new SQLite file); reading commands pass ``False``, and then a missing
        ledger is an error. An implementation may leave this argument out.
    :param migrating: opened to read or migrate its schema (``punchcard db``):
        the schema is neither checked nor created, and only the store's schema
        methods (:class:`punchcard.plugins.protocols.MigratableStore`) and
        ``close()`` are called. An implementation may leave this argument out.
    :returns: a store object for URLs this plugin understands, else ``None``.
        The first plugin that returns something wins; when none does,
        ``Plugins.open_store`` raises ``ValueError`` naming the installed
        storage plugins.
    """


@hookspec
def punchcard_functions() -> list:
    """Add functions to the expression language.

    Called whenever rulesets are checked or compiled, once per check or compile.

    :returns: a list of :class:`punchcard.dsl.functions.FunctionSpec` (name,
        accepted argument types, result type, ``impl(ctx, *args)``). The checker
        types plugin functions exactly like built-ins. A plugin cannot replace a
        built-in or another plugin's function: that is an error naming the plugin.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations


@hookspec
def punchcard_scorers(models: Any) -> list:
    """Load the models a ruleset names, as scorers (churn, engagement, anomaly models).

    Called when a ruleset with a ``models:`` section is checked or compiled, and by
    ``punchcard model`` commands, with the models still to load.

    :param models: a mapping of model name to its file (a :class:`pathlib.Path`, resolved
        against the ruleset's folder). A plugin loads the files it recognises (the built-in
        ``sklearn`` plugin: skops files) and leaves the others alone. Loading checks the
        file: a changed or mismatched file raises, naming the model.
    :returns: a list of objects following :class:`punchcard.plugins.protocols.Scorer`:
        ``name`` (the model's name in the ruleset), ``version``, ``features`` (the feature
        names it reads, from :mod:`punchcard.engine.policies.features`) and
        ``score_many(rows) -> list[Decimal]``, each between 0 and 1. Two scorers with the same
        name are an error naming both plugins; a named model no plugin loads is an error too.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations


@hookspec
def punchcard_messengers() -> list:
    """Contribute messengers that write member-facing text.

    Called when the outbox is drained (``punchcard messages send``) or a message is shown
    (``punchcard message``), to build the table of messengers, keyed by messenger name.

    :returns: a list of objects following :class:`punchcard.plugins.protocols.Messenger`:
        ``name: str`` and ``compose(request) -> Draft``, where ``request`` is a
        :class:`punchcard.engine.runtime.message.MessageRequest` (the facts the text may
        state, the tone, the channel's length limit, the fallback template) and the
        :class:`~punchcard.engine.runtime.message.Draft` holds the text and what it cost.
        A messenger that cannot write raises
        :class:`~punchcard.engine.runtime.message.MessengerUnavailable`; every draft passes
        the guardrails before it is used, and the fallback template is used otherwise.
        Two messengers with the same name are an error naming both plugins.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations


@hookspec
def punchcard_deliveries() -> list:
    """Contribute delivery channels: the host's SMS gateway, push service or mail sender.

    Called when the outbox is drained (``punchcard messages send``), to find who delivers
    each channel (``sms``, ``push``, ``email``).

    :returns: a list of objects following :class:`punchcard.plugins.protocols.Delivery`:
        ``name: str``, ``channels`` (the channels it delivers) and ``deliver(message)``, called
        with the composed message and its id. Delivery is at least once: a sender killed after
        ``deliver`` returned and before the message was marked sent delivers it again with the
        same id, so a channel drops an id it has seen. ``deliver`` raises to have the message
        tried again later. Two deliveries for the same channel are an error naming both plugins.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations


@hookspec
def punchcard_decision_committed(decision: Any) -> None:
    """Listen for decisions after they are durably committed (metrics, webhooks).

    Called once per decision, after the store has committed it, with every
    listener called on its own. An exception in a listener is logged (logging,
    stderr) and never undoes or fails the decision, nor stops other listeners.

    :param decision: the committed decision, as the engine returns it to the host.
    :returns: nothing; a return value is ignored.
    """


@hookspec
def punchcard_store_retried(reason: str, attempt: int) -> None:
    """Listen for the store work the engine runs again (metrics, alerts).

    Called before each retry, whatever the log level: ``reason`` is ``"race"`` (a unit of
    work lost a race with another writer and runs again at once) or ``"transient"`` (the
    store failed in a way worth trying again, after a short pause). An exception in a
    listener is logged and never fails the work.

    :param reason: ``"race"`` or ``"transient"``.
    :param attempt: the attempt about to run, 2 for the first retry.
    :returns: nothing; a return value is ignored.
    """
