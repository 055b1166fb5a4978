"""A sender process for the kill test: drains the outbox at URL through a slow delivery.

    python outbox_sender.py URL SINK PAUSE SKEW

Each message is appended to SINK as a JSON line, flushed and fsynced, and then the sender
sleeps PAUSE seconds before marking it sent: the window a kill lands in. SKEW seconds are
added to the clock (a second run sees the killed run's leases as over). The delivery is a
plugin registered with the plugin manager, and messages are composed by the real
composing pipeline (the fallback template: no messenger is asked)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time

from punchcard.engine.messaging.send import Sending, drain
from punchcard.plugins import hookimpl
from punchcard.plugins.manager import create_plugin_manager


class SlowDelivery:
    name = "slow-sink"
    channels = ("sms", "push", "email")

    def __init__(self, path: str, pause: float) -> None:
        self.path, self.pause = path, pause

    def deliver(self, message):
        with open(self.path, "a", encoding="utf-8") as sink:
            sink.write(json.dumps(dict(message)) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
        time.sleep(self.pause)  # delivered, not yet marked sent


class SlowSinkPlugin:
    def __init__(self, path: str, pause: float) -> None:
        self.delivery = SlowDelivery(path, pause)

    @hookimpl
    def punchcard_deliveries(self):
        return [self.delivery]


def main(url: str, sink: str, pause: str, skew: str) -> int:
    os.environ.pop("PUNCHCARD_DELIVERY_FILE", None)
    plugins = create_plugin_manager(entry_points=False)
    plugins.pm.register(SlowSinkPlugin(sink, float(pause)), name="slow_sink")
    store = plugins.open_store(url, create=False)
    shift = dt.timedelta(seconds=float(skew))
    report = drain(store, plugins.deliveries(), plugins.messengers(), sending=Sending(lease=dt.timedelta(
        seconds=60)), clock=lambda: dt.datetime.now(dt.UTC) + shift)
    store.close()
    print(json.dumps(report.to_json()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
