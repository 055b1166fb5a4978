"""The referrers' side of referrals in the dry-run: derived events replayed like read rows
(docs/referrals.md, "The dry-run").

A friend's qualifying decision queues, in the engine, a ``referral_bonus`` event for the
referrer (engine/runtime/referral.py), settled after the commit. The dry-run replays members
one by one, so it cannot hand that event to the referrer as it goes: it collects each side's
derived events as members are counted (:func:`derived_rows`, into the partial), adds them to
their referrers' partitions as rows at the friend's event's time, and replays again, until a
replay derives exactly the events it was given (:func:`settle_referrals`). A derived row is
tagged with the side (ruleset) that derived it, and only that side decides it
(:func:`engine.dryrun.member.replay_member`). Rulesets without ``referrals:`` never get here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from punchcard.engine.runtime.events import EventError
from punchcard.engine.runtime.referral import derived_requests

from .partial import Partial
from .rows import event_row

__all__ = ["SIDE", "has_referrals", "derived_rows", "settle_referrals", "MAX_ROUNDS"]

log = logging.getLogger("punchcard.dryrun")

SIDE = 8  # a derived row is an event row with the index of the side that derived it after it
_LINE = 10 ** 12  # derived rows sort after every line read at the same instant, one block per side
MAX_ROUNDS = 8


def has_referrals(sides: Iterable) -> bool:
    """Does any side (or any of its variants) reward referrals?"""
    for side in sides:
        split = side.compiled.split
        if any(program.model.referrals is not None
               for program in (side.compiled, *(split.programs.values() if split else ()))):
            return True
    return False


def derived_rows(runs: list) -> list[tuple]:
    """The referrers' derived event rows of one member's replay, every side's, from the
    decisions still kept on each side (before they are counted)."""
    rows = []
    for number, run in enumerate(runs):
        for decision, line, _at, tick in run.kept:
            if tick:
                continue
            for request in derived_requests(decision):
                try:
                    event = run.compiled.schema.parse(request["event"])
                except EventError:  # never for an event the engine derived itself
                    continue
                rows.append((*event_row(event, _LINE * (number + 1) + line), number))
    return rows


def _key(rows: Iterable[tuple]) -> frozenset:
    return frozenset((row[3], row[SIDE]) for row in rows)


def settle_referrals(jobs: list, replay: Callable[[list], Partial], index: Callable[[str], int], make_job: Callable,
                     progress) -> list:
    """The jobs with every derived row in its referrer's partition: replayed (``replay(jobs)``
    returns the merged partial) until a replay derives exactly the rows it was given."""
    given: frozenset = frozenset()
    current = jobs
    for number in range(1, MAX_ROUNDS + 1):
        partial = replay(current)
        derived = partial.derived
        if _key(derived) == given:
            return current
        log.info("referrals: replaying with %d derived events (round %d)", len(derived), number)
        progress.phase(f"replaying (referrals, round {number + 1})", None)
        given = _key(derived)
        current = _with_rows(jobs, derived, index, make_job)
    raise RuntimeError(f"referrals did not settle after {MAX_ROUNDS} replays")


def _with_rows(jobs: list, derived: list[tuple], index: Callable[[str], int], make_job: Callable) -> list:
    by_partition: dict[int, list[tuple]] = {}
    for row in derived:
        by_partition.setdefault(index(row[0]), []).append(row)
    out = [dataclasses.replace(job, rows=job.rows + tuple(by_partition.pop(job.index, ()))) for job in jobs]
    return out + [make_job(number, tuple(rows)) for number, rows in sorted(by_partition.items())]
