"""Shared by the outbox tests: decisions that chose a message, an engine that adds one to
every decision it makes, a composer that counts its calls, and deliveries that record."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import punchcard
from punchcard.engine.engine import Engine, budget_uses
from punchcard.engine.evaluate import evaluate, new_member
from punchcard.engine.messaging.templates import fill_request
from punchcard.engine.runtime.decision import Decision, Effect, Outcome
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.message import Composed, Draft, MessageRequest

HERE = Path(__file__).resolve().parent
PLAIN = HERE.parent / "storage" / "rulesets" / "plain.yaml"
T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
TEMPLATE = "{first_name}, {points} points are yours until {until}."


def request(event_id: str, member: str, *, channel: str = "push", send_at: dt.datetime = T0,
            points: Decimal = Decimal("300.50"), writer: str = "template", expires_at: dt.datetime | None = None,
            quiet: tuple[str, str] | None = None) -> MessageRequest:
    return MessageRequest(f"{event_id}:points", member, event_id, "plain@1.0.0", "points", "offer_selected",
                          channel, "en", send_at, {"first_name": "Masha", "points": points,
                                                   "until": dt.date(2026, 3, 31)}, TEMPLATE, writer=writer,
                          expires_at=expires_at, quiet=quiet)


def message_effect(req: MessageRequest) -> Effect:
    return Effect("message", None, None, req.to_detail())


def decided(event_id: str, member: str, outcome: str = Outcome.APPLIED, *effects: Effect) -> tuple[Event, Decision]:
    """An event and a decision of it carrying ``effects`` (default: one message)."""
    event = Event(event_id, "purchase", member, T0, {"amount": Decimal(5)})
    chosen = effects or (message_effect(request(event_id, member)),)
    return event, Decision(event_id, member, "plain@1.0.0", outcome, effects=chosen, time=T0, event_type="purchase")


def save(store, event: Event, decision: Decision, commit: bool = True) -> None:
    """Through the store's unit of work, as the engine saves a decision."""
    with store.unit_of_work(event.member) as unit:
        assert unit.processed(event.id) is None
        unit.load_member(event.member)
        unit.save(event, decision, None, {})
        if commit:
            unit.commit()


def purchase(i: int, member: str) -> dict:
    return {"type": "purchase", "id": f"p{i}", "member": member, "time": (T0 + dt.timedelta(minutes=i)).isoformat(),
            "amount": str(10 + i)}


class MessagingEngine(Engine):
    """The engine deciding as usual, then choosing one message for every decision, whatever
    its outcome: the store alone must keep a rejected or blocked one out of the outbox."""

    def decide(self, uow, event: Event) -> Decision:
        state = uow.load_member(event.member) or new_member(event.member)
        decision, new_state = evaluate(self.compiled, state, event, self.clock, {}, owned=uow.private_states)
        points = decision.points if decision.points else Decimal(0)
        decision.effects = (*decision.effects, message_effect(request(event.id, event.member, points=points)))
        changed = None if decision.outcome in (Outcome.REJECTED, Outcome.BLOCKED) else new_state
        uow.save(event, decision, changed, budget_uses(decision))
        return decision


def messaging_engine(store) -> MessagingEngine:
    return MessagingEngine(punchcard.compile(str(PLAIN)), store=store)


class CountingComposer:
    """Fills the template, and numbers each call in the text: a second call for one message
    would send a different text, which the tests would see."""

    def __init__(self, model: bool = False) -> None:
        self.calls: dict[str, int] = {}
        self.model = model

    def __call__(self, req: MessageRequest, messengers: Any, *, messenger: str | None = None) -> Composed:
        self.calls[req.id] = self.calls.get(req.id, 0) + 1
        text = f"{fill_request(req)} #{self.calls[req.id]}"
        if not self.model:
            return Composed(text, "template")
        draft = Draft(text, "fake", "fake-model", 100, 20, Decimal("0.0012"))
        return Composed(text, "llm", (), None, draft)


class RecordingDelivery:
    """Keeps every message handed to it; ``fail`` (a set of ids) raises for those."""

    name = "recording"
    channels = ("sms", "push", "email")

    def __init__(self, fail: set[str] | None = None) -> None:
        self.delivered: list[dict] = []
        self.fail = fail or set()

    def deliver(self, message) -> str | None:
        if message["id"] in self.fail:
            raise ConnectionError(f"gateway refused {message['text']} for Masha")
        self.delivered.append(dict(message))
        return f"r-{len(self.delivered)}"


def sink_lines(path: Path) -> list[dict]:
    """Every whole line of a sink file (a line cut short by a kill is not one)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def env_without_delivery() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PUNCHCARD_DELIVERY_FILE"}
