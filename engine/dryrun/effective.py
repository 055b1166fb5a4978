"""``dry-run --ignore-effective``: replaying history under terms whose ``effective`` dates
would refuse it ("what if these terms had applied last year?"; docs/dry-run.md).

The engine refuses an event outside its ruleset's ``effective`` dates (``_check_effective``
in engine/evaluate.py) and the dry-run's closing ticks stop at them
(:func:`.member._in_effect`); both read ``compiled.model.effective``. A replay that ignores
them runs a copy of the compiled ruleset whose model has no effective dates, and nothing
else changed: the same plans, generated code, label and variants (each variant's program is
copied the same way). The ruleset file is never changed.
"""

from __future__ import annotations

import copy
import dataclasses

from punchcard.dsl.model import Effective
from punchcard.engine.program import Compiled

__all__ = ["without_effective", "limits_dates"]

_ALWAYS = Effective()


def limits_dates(compiled: Compiled) -> bool:
    """Does the ruleset (or a variant of it) have effective dates at all?"""
    programs = [compiled, *(compiled.split.programs.values() if compiled.split is not None else ())]
    return any(p.model.effective != _ALWAYS for p in programs)


def without_effective(compiled: Compiled) -> Compiled:
    """The compiled ruleset, in effect on every day; the ruleset itself when it always was."""
    if not limits_dates(compiled):
        return compiled
    program = _open(compiled)
    if compiled.split is not None:
        programs = {name: _open(variant) for name, variant in compiled.split.programs.items()}
        program.split = dataclasses.replace(compiled.split, programs=programs)
    return program


def _open(compiled: Compiled) -> Compiled:
    """A shallow copy whose model has no effective dates (the plans, functions and memo are
    shared: nothing in them reads the dates)."""
    program = copy.copy(compiled)
    program.model = compiled.model.model_copy(update={"effective": _ALWAYS})
    return program
