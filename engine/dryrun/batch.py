"""Scoring many members' rows in one model call: members replayed side by side.

A decision that reads ``score("NAME")`` scores rows of features: the member's as its event
left them, and an offer's (engine/policies/scoring.py). One member's rows depend on each
other (a score can change the points, so the tier, so the next row), different members' do
not. So the dry-run replays up to :data:`WIDTH` members of a partition side by side, each on
a thread of its own, and when every one of them is waiting for scores, scores all their rows
in one ``score_many`` call per model.

The threads take turns: exactly one of them runs at any moment (the coordinating thread
included), handed the turn by a lock, so nothing runs concurrently and the replay is as
deterministic as one member after another. Each member's replay is the engine's own code on
the engine's own rows; only where ``score_many`` is called changes. A model scores each row on
its own (the scorer protocol), so a row's score does not depend on the batch it joins, and the
decisions are the engine's, Decimal for Decimal. Should a batch call fail, each member's rows
are scored by the call the engine would have made, so a row that fails fails the decision that
asked for it, as in the engine. Results come back in the order the members went in.

Starting a thread costs about a millisecond, so the threads outlive a partition: idle ones
wait in a pool of the process for the next partition (they hold nothing of the last one). A
process forked from this one (a worker) has none of these threads, so starts with the pool
empty.
"""

from __future__ import annotations

import decimal
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

from punchcard.engine.policies.scoring import ModelScorer, scoring_in_batches

__all__ = ["WIDTH", "ScoreBatches"]

WIDTH = 256  # members replayed side by side: the most rows of one model a batch gathers per round
HELD = 4  # finished members held back (in order) at most this many times WIDTH, bounding memory

_POOL: list[_Slot] = []  # idle threads, each waiting for its next member
_POOL_LOCK = threading.Lock()
os.register_at_fork(after_in_child=_POOL.clear)  # the child has only the thread that forked it

T = TypeVar("T")
R = TypeVar("R")
Rows = Sequence[Mapping[str, Decimal]]


class _Stop(BaseException):
    """Unwinds a member's replay when the dry-run stops early (another member's failed). A
    BaseException, as the engine lets those through (putting the member's state back)."""


class _Slot:
    """One thread replaying one member at a time, waiting for its turn between scores."""

    def __init__(self) -> None:
        self.go, self.back = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.back.acquire()
        self.work: tuple[int, Callable[[Any], Any], Any] | None = None
        self.asked: tuple[ModelScorer, Rows] | None = None  # the rows it waits to have scored
        self.answer: list[Decimal] | BaseException | None = None
        self.outcome: tuple[int, Any, Any, BaseException | None] | None = None  # index, item, result, error
        self.stopping = False
        self.context = decimal.getcontext()
        self.thread = threading.Thread(target=self._serve, name="punchcard-score-batch", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        scoring_in_batches(self.ask)
        while True:
            self.go.acquire()
            if self.stopping or self.work is None:
                self.back.release()
                return
            index, fn, item = self.work
            decimal.setcontext(self.context.copy())  # the arithmetic of the thread that asked, not a default
            try:
                self.outcome = (index, item, fn(item), None)
            except _Stop:
                self.back.release()
                return
            except BaseException as exc:  # handed to the coordinating thread, which raises it
                self.outcome = (index, item, None, exc)
            self.work = None
            self.back.release()

    def ask(self, scorer: ModelScorer, rows: Rows) -> list[Decimal]:
        """Wait (letting the others run) until the coordinating thread has scored ``rows``."""
        self.asked = (scorer, rows)
        self.back.release()
        self.go.acquire()
        if self.stopping:
            raise _Stop
        answer, self.answer = self.answer, None
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None  # the coordinating thread answers every request before the turn
        return answer

    def turn(self) -> None:
        """Let the thread run until it waits for scores or is done with its member."""
        self.go.release()
        self.back.acquire()

    def stop(self) -> None:
        self.stopping = True
        self.go.release()
        self.thread.join()


class ScoreBatches(Generic[T, R]):
    """``map(fn, items)``: ``fn(item)`` for each item, up to ``width`` side by side with their
    scores batched; yields (item, result) in the items' order. Use it in a ``with`` block,
    which stops the threads."""

    def __init__(self, width: int = WIDTH) -> None:
        self.width = max(1, width)
        self.slots: list[_Slot] = []  # the threads taken from the pool (or started) for this map
        self.free: list[_Slot] = []

    def __enter__(self) -> ScoreBatches[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Idle threads go back to the pool; one still replaying a member is stopped."""
        slots, free, self.slots, self.free = self.slots, {id(slot) for slot in self.free}, [], []
        idle = [slot for slot in slots if id(slot) in free]
        for slot in slots:
            if id(slot) not in free:
                slot.stop()
        with _POOL_LOCK:
            _POOL.extend(idle)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        todo = iter(enumerate(items))
        done: dict[int, tuple[Any, Any]] = {}  # index -> (item, result), until those before it are out
        waiting: list[_Slot] = []
        busy, following, more = 0, 0, True
        while True:
            while more and busy < self.width and busy + len(done) < HELD * self.width:
                entry = next(todo, None)
                if entry is None:
                    more = False
                    break
                slot = self._slot()
                slot.work, busy = (entry[0], fn, entry[1]), busy + 1
                busy -= self._turn(slot, waiting, done)
            while following in done:
                yield done.pop(following)
                following += 1
            if not waiting:
                if not more:
                    return
                continue
            self._score(waiting)
            asking, waiting = waiting, []
            for slot in asking:
                busy -= self._turn(slot, waiting, done)

    def _slot(self) -> _Slot:
        if self.free:
            return self.free.pop()
        with _POOL_LOCK:
            slot = _POOL.pop() if _POOL else None
        slot = slot or _Slot()
        slot.context = decimal.getcontext()
        self.slots.append(slot)
        return slot

    def _turn(self, slot: _Slot, waiting: list[_Slot], done: dict[int, tuple[Any, Any]]) -> int:
        """One turn of ``slot``; 1 when its member is done (then it is free for the next)."""
        slot.turn()
        if slot.asked is not None:
            waiting.append(slot)
            return 0
        assert slot.outcome is not None  # a turn ends asking for scores, or with the member done
        index, item, result, error = slot.outcome
        slot.outcome = None
        if error is not None:
            self.close()
            raise error
        done[index] = (item, result)
        self.free.append(slot)
        return 1

    def _score(self, waiting: list[_Slot]) -> None:
        """Every waiting slot's rows, one ``score_many`` call per model (scorer object)."""
        by_model: dict[int, tuple[ModelScorer, list[_Slot]]] = {}
        for slot in waiting:
            assert slot.asked is not None
            by_model.setdefault(id(slot.asked[0]), (slot.asked[0], []))[1].append(slot)
        for scorer, slots in by_model.values():
            requests = [slot.asked[1] for slot in slots if slot.asked is not None]
            for slot, answer in zip(slots, self._answers(scorer, requests), strict=True):
                slot.asked, slot.answer = None, answer

    def _answers(self, scorer: ModelScorer, requests: list[Rows]) -> list[list[Decimal] | BaseException]:
        rows = [row for request in requests for row in request]
        try:
            values = scorer.score_many(rows)
            if len(values) != len(rows):
                raise ValueError("a scorer gave a score count other than its row count")
        except Exception:  # each request as the engine makes it, so a failure fails its own decision
            return [_one_call(scorer, request) for request in requests]
        answers: list[list[Decimal] | BaseException] = []
        start = 0
        for request in requests:
            answers.append(list(values[start:start + len(request)]))
            start += len(request)
        return answers


def _one_call(scorer: ModelScorer, rows: Rows) -> list[Decimal] | BaseException:
    try:
        return scorer.score_many(rows)
    except Exception as exc:  # raised again in the thread that asked, where the engine would meet it
        return exc
