"""Running the partitions, pass after pass, until every budget plan is exact.

The first pass replays every partition. When a ruleset has budgets and one of them
ran out (:mod:`.budgets`), later passes replay only the members whose events called
on a budget, with the new plan; everyone else's figures are final after the first
pass. Partials merge in partition order.
"""

from __future__ import annotations

import logging
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from .account import new_partial
from .budgets import MAX_PASSES, Plan, check_pass
from .partial import Partial
from .replay import Job, JobResult, run_job

__all__ = ["run_passes", "pool_runner", "observed"]

log = logging.getLogger("punchcard.dryrun")


def pool_runner(workers: int, progress) -> Callable[[list[Job]], list[JobResult]]:
    def run(jobs: list[Job]) -> list[JobResult]:
        if workers == 1 or len(jobs) <= 1:
            out = []
            for job in jobs:
                out.append(run_job(job))
                progress.advance(out[-1].events)
            return out
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            out = []
            for result in pool.map(run_job, jobs):
                out.append(result)
                progress.advance(result.events)
            return out

    return run


def observed(observe: Callable, progress) -> Callable:
    """An in-process runner that shows ``observe(member, run)`` each member's final replay."""
    final: dict = {}

    def run(jobs: list[Job]) -> list[JobResult]:
        out = []
        for job in jobs:
            out.append(run_job(job, lambda member, member_run: final.__setitem__(member, member_run)))
            progress.advance(out[-1].events)
        return out

    def flush() -> None:
        for member in sorted(final):
            observe(member, final[member])

    run.flush = flush
    return run


def _merge(partials: list[Partial], sides) -> Partial:
    merged = new_partial(-1, sides)
    for partial in sorted(partials, key=lambda p: p.index):
        merged.merge(partial)
    return merged


def run_passes(jobs: list[Job], sides, runner: Callable, progress, scratch: Path, rows: int,
               inline: bool = True) -> tuple[Partial, tuple, int]:
    """The merged partial of the exact pass, the sides with their final plans, and the passes run."""
    progress.phase("replaying", rows)
    results = runner(jobs)
    stable = _merge([r.stable for r in results], sides)
    touched = _merge([r.touched for r in results], sides)
    todo = {r.index: r.touched_members for r in results if r.touched_members}
    for number in range(1, MAX_PASSES + 1):
        plans, exact = _check_budgets(sides, touched)
        if exact:
            getattr(runner, "flush", lambda: None)()
            touched.merge(stable)
            return touched, sides, number
        log.info("a budget ran out in pass %d: replaying %d members with the budgets' running totals",
                 number, sum(len(m) for m in todo.values()))
        sides = tuple(side.with_plan(_plan_ref(plan, scratch, number, i, inline))
                      for i, (side, plan) in enumerate(zip(sides, plans)))
        again = [Job(j.index, j.path, sides, j.start, j.end, j.rows, todo[j.index]) for j in jobs if j.index in todo]
        progress.phase(f"replaying (budget pass {number + 1})", None)
        results = runner(again)
        touched = _merge([r.stable for r in results] + [r.touched for r in results], sides)
    raise RuntimeError(f"budgets did not settle after {MAX_PASSES} passes")


def _check_budgets(sides, partial: Partial) -> tuple[list, bool]:
    plans, exact = [], True
    for side, uses in zip(sides, partial.uses):
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
