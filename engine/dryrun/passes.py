"""Running the partitions, pass after pass, until every budget plan is exact.

The first pass replays every partition. When a ruleset has budgets and one of them
ran out (:mod:`.budgets`), later passes replay only the members whose events called
on a budget, with the new plan; everyone else's figures are final after the first
pass. Partials merge in partition order.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .account import new_partial
from .budgets import MAX_PASSES, Plan, check_pass
from .partial import Partial
from .replay import Job, JobResult, run_job

__all__ = ["run_passes", "pool_runner", "observed"]

log = logging.getLogger("punchcard.dryrun")

Runner = Callable[[list[Job]], Iterator[JobResult]]  # the jobs' results, in job order, as each is done


def pool_runner(workers: int, progress) -> Runner:
    def run(jobs: list[Job]) -> Iterator[JobResult]:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                result = run_job(job)
                progress.advance(result.events)
                yield result
            return
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for result in pool.map(run_job, jobs):  # in job order, merged as each one arrives
                progress.advance(result.events)
                yield result

    return run


class _Observed:
    """An in-process runner that shows ``observe(member, run)`` each member's final replay,
    once every pass is done (:meth:`flush`): a later pass replays a member again."""

    def __init__(self, observe: Callable, progress) -> None:
        self.observe, self.progress = observe, progress
        self.final: dict = {}

    def __call__(self, jobs: list[Job]) -> Iterator[JobResult]:
        for job in jobs:
            result = run_job(job, self.final.__setitem__)
            self.progress.advance(result.events)
            yield result

    def flush(self) -> None:
        for member in sorted(self.final):
            self.observe(member, self.final[member])


def observed(observe: Callable, progress) -> Runner:
    """An in-process runner that shows ``observe(member, run)`` each member's final replay."""
    return _Observed(observe, progress)


def _merged(results, sides) -> tuple[Partial, Partial, dict]:
    """Merge results as they arrive: a worker's leaders carry traces, and holding every partition's
    result at once would make memory follow the number of partitions."""
    stable, touched, todo = new_partial(-1, sides), new_partial(-1, sides), {}
    for result in results:
        stable.merge(result.stable)
        touched.merge(result.touched)
        if result.touched_members:
            todo[result.index] = result.touched_members
    return stable, touched, todo


def run_passes(jobs: list[Job], sides, runner: Runner, progress, scratch: Path, rows: int,
               inline: bool = True) -> tuple[Partial, tuple, int]:
    """The merged partial of the exact pass, the sides with their final plans, and the passes run."""
    progress.phase("replaying", rows)
    stable, touched, todo = _merged(runner(jobs), sides)
    for number in range(1, MAX_PASSES + 1):
        plans, exact = _check_budgets(sides, touched)
        if exact:
            getattr(runner, "flush", lambda: None)()
            touched.merge(stable)
            return touched, sides, number
        log.info("a budget ran out in pass %d: replaying %d members with the budgets' running totals",
                 number, sum(len(m) for m in todo.values()))
        sides = tuple(side.with_plan(_plan_ref(plan, scratch, number, i, inline))
                      for i, (side, plan) in enumerate(zip(sides, plans, strict=True)))
        again = [Job(j.index, j.path, sides, j.start, j.end, j.rows, todo[j.index]) for j in jobs if j.index in todo]
        progress.phase(f"replaying (budget pass {number + 1})", None)
        again_stable, touched, _ = _merged(runner(again), sides)
        touched.merge(again_stable)
    raise RuntimeError(f"budgets did not settle after {MAX_PASSES} passes")


def _check_budgets(sides, partial: Partial) -> tuple[list, bool]:
    plans, exact = [], True
    for side, uses in zip(sides, partial.uses, strict=True):
        if not side.budgets:
            plans.append(side.plan)
            continue
        ok, plan, _wrong = check_pass(side.budgets, uses)
        plans.append(plan)
        exact &= ok
    return plans, exact


def _plan_ref(plan: Plan, scratch: Path, number: int, side: int, inline: bool) -> Plan | str:
    if inline:
        return plan
    path = scratch / f"plan-{number}-{side}.pickle"  # written once, loaded once per worker process
    with open(path, "wb") as handle:
        pickle.dump(plan, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path)
