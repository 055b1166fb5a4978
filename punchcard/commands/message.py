"""``punchcard message RULESET --event JSON [--member JSON] [--history FILE]``: the messages one
event would produce (docs/messages.md), each with its text, who wrote it (``llm`` or
``template``), the facts it states and every guardrail's verdict, and the messages the
policy suppressed with the reason. A read: nothing is stored, queued or delivered.

With ``writer: llm`` and ``ANTHROPIC_API_KEY`` set, the model is asked, exactly as the
outbox's sender would ask it; offline, the fallback template is shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from punchcard.cli import OutputFormat, app, format_option, stdout
from punchcard.engine.messaging.compose import compose
from punchcard.engine.messaging.guardrails import check
from punchcard.engine.runtime.decision import Decision, to_jsonable
from punchcard.engine.runtime.display import shown
from punchcard.engine.runtime.message import Composed, MessageRequest
from punchcard.plugins.manager import get_plugin_manager

from .engine import EVENT_HELP, HISTORY_HELP, MEMBER_HELP, compile_or_exit, decide_one
from .store_access import setup_logging

__all__ = ["message", "messages_of"]

_FORMAT = format_option()


@app.command()
def message(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset file or folder whose messages: to use."),
    event: str = typer.Option(..., "--event", metavar="JSON", help=EVENT_HELP),
    member: str | None = typer.Option(None, "--member", metavar="JSON", help=MEMBER_HELP),
    history: Path | None = typer.Option(None, "--history", metavar="FILE", help=HISTORY_HELP),
    messenger: str | None = typer.Option(None, "--messenger", metavar="NAME", help="The messenger to ask when the "
                                         "ruleset's writer is llm (default: PUNCHCARD_MESSENGER, else claude)."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Show the messages one event would send, with their text, source, facts and every guardrail
    check, and those suppressed with why. Exit 1 when the ruleset has errors or no messages:
    section, or the event is rejected; 2 on a usage error."""
    setup_logging()
    compiled = compile_or_exit(ruleset, format)
    if compiled.model.messages is None:
        stdout.out(f"{shown(ruleset)} has no messages: section")
        raise typer.Exit(1)
    decision = decide_one(compiled, event, member, history)
    view = messages_of(decision, get_plugin_manager().messengers(), messenger)
    if format is OutputFormat.json:
        stdout.out(json.dumps(to_jsonable(view), indent=2, ensure_ascii=False), highlight=False)
    else:
        _print(view)
    raise typer.Exit(1 if decision.outcome == "rejected" else 0)


def messages_of(decision: Decision, messengers: Any, messenger: str | None = None) -> dict[str, Any]:
    """Each message of ``decision`` composed as the sender would, and each suppressed one."""
    chosen, suppressed = [], []
    for effect in decision.effects:
        if effect.kind == "message":
            request = MessageRequest.from_detail(decision.member_id, decision.event_id, decision.ruleset,
                                                 effect.detail)
            chosen.append(_shown(request, compose(request, messengers, messenger=messenger)))
        elif effect.kind == "message_suppressed":
            suppressed.append(dict(effect.detail))
    return {"event_id": decision.event_id, "member_id": decision.member_id, "ruleset": decision.ruleset,
            "outcome": decision.outcome, "reason": decision.reason, "messages": chosen, "suppressed": suppressed}


def _shown(request: MessageRequest, composed: Composed) -> dict[str, Any]:
    """The composed message with every guardrail's verdict: the model's checks when one wrote a
    draft, else the same checks run on the template's text (which always passes them)."""
    checks = composed.checks or check(composed.text, request)
    return {"id": request.id, "message": request.message, "trigger": request.trigger, "channel": request.channel,
            "locale": request.locale, "send_at": request.send_at, "facts": dict(request.facts),
            **composed.to_json(), "checks": [c.to_json() for c in checks]}


def _print(view: dict[str, Any]) -> None:
    stdout.out(f"event {shown(view['event_id'])} for {shown(view['member_id'])} ({shown(view['ruleset'])}): "
               f"{view['outcome']}, {len(view['messages'])} message(s), {len(view['suppressed'])} suppressed")
    for item in view["messages"]:
        stdout.out(f"\n  {shown(item['message'])} by {item['channel']} ({item['locale']}), "
                   f"source: {item['source']}, at {item['send_at']:%Y-%m-%d %H:%M}")
        stdout.out(f"    text: {shown(item['text'])}")
        if item.get("reason"):
            stdout.out(f"    why the template: {shown(item['reason'])}")
        stdout.out("    facts: " + ", ".join(f"{k}={shown(to_jsonable(v))}" for k, v in item["facts"].items()))
        for c in item["checks"]:
            verdict = "pass" if c["passed"] else "FAIL"
            stdout.out(f"    {verdict:4} {c['name']}" + (f": {shown(c['detail'])}" if c["detail"] else ""))
    for item in view["suppressed"]:
        rule = f" ({shown(item['rule'])})" if item.get("rule") else ""
        stdout.out(f"\n  suppressed {shown(item['message'])} by {item['channel']}: {shown(item['reason'])}{rule}")
