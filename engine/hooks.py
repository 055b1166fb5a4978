"""What the engine asks of the plugins it is handed.

The engine never looks plugins up on its own: a host (or the front door,
:func:`punchcard.compile` and :class:`punchcard.Engine`) hands in an object with these
methods. The typed wrapper around the plugin manager, ``punchcard.plugins.manager.Plugins``,
is one; a test may hand in anything shaped the same. Without one, a ruleset may use only
the language's built-in functions, and nobody hears of committed decisions.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from punchcard.dsl.functions import FunctionSpec

from .runtime.decision import Decision

__all__ = ["EngineHooks"]


@runtime_checkable
class EngineHooks(Protocol):
    """The plugin calls the engine makes: the functions a ruleset may use, and the
    listeners told of each committed decision and of each store retry."""

    def functions(self) -> list[FunctionSpec]:
        """Functions plugins add to the expression language (never a built-in's name)."""
        ...

    def decision_committed(self, decision: Decision) -> None:
        """Tell the listeners of a decision after its commit; a failing listener must
        not raise here, since the decision stands."""
        ...

    def store_retried(self, reason: str, attempt: int) -> None:
        """Tell the listeners that store work runs again: ``reason`` ``"race"`` or
        ``"transient"``, ``attempt`` the one about to run. Must not raise."""
        ...
