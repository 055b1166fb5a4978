"""From a ruleset's ``messages:`` section to the channel: ``Engine.process`` (and batches)
queue what the policy chose with the decision, and the sender delivers it, composed by
the real pipeline from the facts as the store kept them."""

from __future__ import annotations

import datetime as dt

from outbox_support import RecordingDelivery
from policy_rulesets import compiled, purchase

from punchcard.engine import Engine
from punchcard.engine.messaging.send import drain
from punchcard.engine.runtime.message import MessageRequest

ADULT = {"first_name": "Vera", "opt_in": True, "birth_date": "1990-05-01"}
LATER = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)


def _profile(member: str) -> dict:
    return {"type": "profile", "id": f"{member}-profile", "member": member, "time": "2026-01-01T00:00:00", **ADULT}


def test_chosen_messages_are_queued_with_their_decision_and_sent_once(store_factory):
    store = store_factory()
    engine = Engine(compiled(), store=store)
    engine.process(_profile("vera"))
    decision = engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00", "150"))
    chosen = sorted(e.detail["id"] for e in decision.effects if e.kind == "message")
    assert chosen == ["p-1/gold", "p-1/thanks"]
    engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00", "150"))  # a replay queues nothing
    engine.process_many([_profile("ivan"), purchase("ivan", "p-2", "2026-03-02T11:00:00", "20")])
    assert sorted(row.id for row in store.outbox_list()) == ["p-1/gold", "p-1/thanks", "p-2/thanks"]

    channel = RecordingDelivery()
    report = drain(store, {"push": channel, "email": channel}, {}, clock=lambda: LATER)
    assert (report.sent, report.by_source, report.left_pending) == (3, {"template": 3}, 0)
    assert sorted((m["id"], m["channel"], m["text"]) for m in channel.delivered) == [
        ("p-1/gold", "email", "Vera, welcome to gold."),
        ("p-1/thanks", "push", "Vera, 150 points are yours. Balance: 150."),
        ("p-2/thanks", "push", "Vera, 20 points are yours. Balance: 20."),
    ]
    assert drain(store, {"push": channel, "email": channel}, {}, clock=lambda: LATER).sent == 0


def test_the_front_door_sends_a_stores_outbox_through_the_plugins_handed_in(tmp_path):
    import punchcard
    from punchcard.plugins import hookimpl
    from punchcard.plugins.manager import create_plugin_manager

    channel = RecordingDelivery()

    class Plugin:
        @hookimpl
        def punchcard_deliveries(self):
            return [channel]

    plugins = create_plugin_manager(disabled=["deliver_file"], entry_points=False)
    plugins.pm.register(Plugin(), name="recording")
    url = f"sqlite:///{tmp_path / 'points.db'}"
    engine = punchcard.Engine(compiled(), url, plugins=plugins)
    engine.process(_profile("vera"))
    # bought a minute ago: the front door sends as of now, and a message two days stale would be expired
    bought = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    decision = engine.process(purchase("vera", "p-1", bought, "20"))
    engine.store.close()
    (effect,) = [e for e in decision.effects if e.kind == "message"]
    request = MessageRequest.from_detail(decision.member_id, decision.event_id, decision.ruleset, effect.detail)
    shown = punchcard.compose_message(request, plugins=plugins)
    report = punchcard.send_messages(url, plugins=plugins)
    assert report.sent == 1 and [m["text"] for m in channel.delivered] == [shown.text]
    assert shown.text == "Vera, 20 points are yours. Balance: 20." and shown.source == "template"
    assert punchcard.send_messages(url, plugins=plugins).sent == 0
