"""Composing: a messenger's text if it passes every guardrail, else the fallback template.

``compose`` never raises for a messenger: a missing messenger, one that is unavailable (no
key, a timeout, an API error), one that fails in any other way, and a draft that fails a
guardrail all give the template filled from the same facts, and the record says why. Only a
template that cannot be filled raises (:class:`~.templates.TemplateError`): that is the
ruleset's error, which its check reports before anything runs.

Nothing here logs a member's facts, the text, or a messenger's error message (which could
quote either): the log names the message id, the messenger and the kind of outcome.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Protocol

from punchcard.engine.runtime.message import Composed, Draft, MessageRequest, MessengerUnavailable

from .guardrails import check
from .templates import fill_request

__all__ = ["MESSENGER_ENV", "DEFAULT_MESSENGER", "Writer", "compose", "chosen_messenger"]

log = logging.getLogger(__name__)

MESSENGER_ENV = "PUNCHCARD_MESSENGER"
DEFAULT_MESSENGER = "claude"  # the built-in anthropic messenger; without a key it declines, offline


class Writer(Protocol):
    """What composing needs of a messenger (plugins.protocols.Messenger sits a layer above)."""

    def compose(self, request: MessageRequest) -> Any: ...


def chosen_messenger(messenger: str | None = None) -> str:
    """The messenger to ask: the one named, else ``PUNCHCARD_MESSENGER``, else claude."""
    return messenger or os.environ.get(MESSENGER_ENV, "").strip() or DEFAULT_MESSENGER


def _draft(request: MessageRequest, messengers: Mapping[str, Writer], name: str) -> Draft | str:
    """The messenger's draft, or why there is none."""
    found = messengers.get(name)
    if found is None:
        return f"no messenger named {name!r}"
    try:
        draft = found.compose(request)
    except MessengerUnavailable as exc:
        return f"unavailable: {exc}"
    except Exception as exc:  # a plugin's bug must not stop the outbox; its message may quote facts
        return f"error: {type(exc).__name__}"
    if not isinstance(draft, Draft):
        return f"error: messenger {name!r} returned {type(draft).__name__}, not a Draft"
    return draft


def compose(request: MessageRequest, messengers: Mapping[str, Writer], *, messenger: str | None = None) -> Composed:
    """The text to send for ``request``, where it came from, and every check on the way."""
    fallback = fill_request(request)
    if request.writer != "llm":
        return Composed(fallback, "template")
    name = chosen_messenger(messenger)
    draft = _draft(request, messengers, name)
    if isinstance(draft, str):
        log.info("message %s: template used, messenger %s gave no text", request.id, name)
        return Composed(fallback, "template", reason=draft)
    checks = check(draft.text, request)
    failed = [c.name for c in checks if not c.passed]
    if failed:
        log.info("message %s: template used, %s failed %s", request.id, name, ", ".join(failed))
        return Composed(fallback, "template", checks, f"failed: {', '.join(failed)}", draft)
    return Composed(draft.text, "llm", checks, None, draft)
