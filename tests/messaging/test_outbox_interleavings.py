"""Hypothesis: senders killed at any step (before or after any claim, stored text, delivery,
sent mark or expiry), run again later, and stale senders whose lease ran out while another
took over, always end with each message marked sent once and delivered with one text, or
(one whose offer ends while the senders die) expired, never delivered after its end."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outbox_support import T0, CountingComposer, decided, message_effect, request, save

from punchcard.engine.messaging.send import Sending, drain
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.store import MemoryStore

MESSAGES = 6
SENDING = Sending(lease=dt.timedelta(minutes=5), backoff_base=dt.timedelta(seconds=1))
NOW = T0 + dt.timedelta(days=1)
EXPIRING = "e5:points"  # its offer ends between the second run and the third
ENDS = NOW + (SENDING.lease + dt.timedelta(seconds=1)) * 3 / 2


class Crash(BaseException):
    """The sender process dies here: nothing after this runs, nothing is cleaned up."""


class World:
    """One outbox, the channel's record of deliveries, and the plan of where senders die."""

    def __init__(self, crashes: dict[int, str], stale: set[int]) -> None:
        self.store = MemoryStore()
        for i in range(MESSAGES - 1):
            save(self.store, *decided(f"e{i}", f"m{i % 2}"))
        save(self.store, *decided("e5", "m1", Outcome.APPLIED, message_effect(request("e5", "m1", expires_at=ENDS))))
        self.crashes, self.stale = crashes, stale
        self.step = 0
        self.deliveries = 0
        self.delivered: list[dict] = []  # each with the sender's clock "at" it
        self.marks: Counter[str] = Counter()
        self.composer = CountingComposer()
        self.now = NOW
        self.crashed = self.nested = 0

    def point(self, call):
        """Run ``call`` at the next step, dying before or after it when the plan says so."""
        self.step += 1
        side = self.crashes.get(self.step)
        if side == "before":
            raise Crash(self.step)
        result = call()
        if side == "after":
            raise Crash(self.step)
        return result


class CrashingOutbox:
    def __init__(self, world: World, crashing: bool = True) -> None:
        self.world, self.crashing = world, crashing

    def _call(self, call):
        return self.world.point(call) if self.crashing else call()

    def outbox_claim(self, *args):
        return self._call(lambda: self.world.store.outbox_claim(*args))

    def outbox_compose(self, *args):
        return self._call(lambda: self.world.store.outbox_compose(*args))

    def outbox_sent(self, message_id, *args):
        def mark():
            marked = self.world.store.outbox_sent(message_id, *args)
            self.world.marks[message_id] += marked
            return marked
        return self._call(mark)

    def outbox_retry(self, *args):
        return self._call(lambda: self.world.store.outbox_retry(*args))

    def outbox_release(self, *args):
        return self._call(lambda: self.world.store.outbox_release(*args))

    def outbox_list(self, *args):
        return self.world.store.outbox_list(*args)

    def outbox_due(self, now):
        return self.world.store.outbox_due(now)


class Channel:
    """Records each delivery; at a planned delivery a stale-sender scenario runs first: the
    lease is over, and another sender drains everything before this one carries on."""

    name, channels = "test", ("push",)

    def __init__(self, world: World, at: dt.datetime, crashing: bool = True) -> None:
        self.world, self.at, self.crashing = world, at, crashing

    def deliver(self, message):
        world = self.world
        world.deliveries += 1
        if self.crashing and world.deliveries in world.stale:
            world.nested += 1
            later = world.now + SENDING.lease + dt.timedelta(seconds=1)
            drain(CrashingOutbox(world, False), {"push": Channel(world, later, False)}, {}, composer=world.composer,
                  sending=SENDING, clock=lambda: later)
        record = {**message, "at": self.at}
        return (world.point if self.crashing else lambda call: call())(lambda: world.delivered.append(record))


def run_until_done(world: World) -> None:
    for _ in range(len(world.crashes) + 3):
        try:
            drain(CrashingOutbox(world), {"push": Channel(world, world.now)}, {}, composer=world.composer,
                  sending=SENDING, clock=lambda: world.now)
        except Crash:
            world.crashed += 1
        world.now += SENDING.lease + dt.timedelta(seconds=1)  # the dead sender's leases are over
        if not world.store.outbox_list("pending"):
            return


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crashes=st.dictionaries(st.integers(1, 40), st.sampled_from(["before", "after"]), max_size=5),
       stale=st.sets(st.integers(1, 12), max_size=2))
def test_every_message_is_sent_once_whatever_dies_when(crashes, stale):
    world = World(crashes, stale)
    run_until_done(world)
    rows = {row.id: row for row in world.store.outbox_list()}
    ids = {row_id for row_id, row in rows.items() if row.status == "sent"}
    assert ids | {EXPIRING} == set(rows) and rows[EXPIRING].status in ("sent", "expired")
    assert world.marks == Counter({message_id: 1 for message_id in ids})  # marked sent exactly once each
    delivered = {m["id"] for m in world.delivered}
    assert ids <= delivered <= ids | {EXPIRING}  # the channel, deduplicated by id, has each sent one
    assert all(m["at"] <= ENDS for m in world.delivered if m["id"] == EXPIRING)  # never after its end
    for message in world.delivered:  # every delivery of a message carries the text stored for it
        assert message["text"] == rows[message["id"]].composed["text"]
    # a message is delivered again only after a sender died or lost its lease holding it
    assert len(world.delivered) - len(delivered) <= world.crashed + world.nested
