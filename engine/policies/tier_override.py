"""The ``tier_override`` built-in event: an admin holds a member at a level until a date
(a status match, a challenge won), audited (docs/tiers.md).

The override is a floor: while it lasts the member holds its level, or a higher one if the
metrics give it. A new override replaces the one in force. It shows in the decision's
effects (``tier_override``, then a ``tier_change`` if the level moves) and trace, and in the
member's state (``tier_override``: level, until, the event that set it). Housekeeping ends it
at ``until`` (:func:`.tiers.housekeep`): a ``tier_override_end`` effect, and the member goes
back to the level their metrics give.
"""

from __future__ import annotations

import datetime as dt

from ..runtime.decision import Effect, Step
from ..runtime.run import Rejected, Run
from . import tiers
from .gates import gate_builtin
from .tier_windows import tier_plan

__all__ = ["HANDLERS", "MAX_OVERRIDE", "tier_override"]

MAX_OVERRIDE = dt.timedelta(days=366 * 5)  # the longest override: five years from the event


def tier_override(run: Run) -> None:
    gate_builtin(run)
    plan = tier_plan(run.compiled)
    fields = run.event.fields
    level, until, reason = fields["level"], fields["until"], fields["reason"]
    if level not in plan.rank:
        raise Rejected(f"level is not a tier of this ruleset; tiers are {', '.join(plan.names)}")
    if until <= run.now:
        raise Rejected("an override ends after the event that sets it: until must be later than the event's time")
    if until - run.now > MAX_OVERRIDE:
        raise Rejected("an override lasts at most five years: until is too far ahead")
    replaced = run.state.tier_override
    tiers.set_override(run.state, (level, until, run.event.id))
    run.state.schedule(until)
    detail = {"level": level, "until": until, "reason": reason}
    if replaced is not None and replaced[1] > run.now:
        detail["replaces"] = replaced[2]
    run.effects.append(Effect("tier_override", None, None, detail))
    run.effects += tiers.re_evaluate(run.compiled, run.state, run.now, f"override: {reason}")
    run.trace.append(Step("tiers", "tier_override", True,
                          f"{level} until {until.isoformat()} ({reason}); the member holds it, "
                          "or more if their metrics give more, and goes back to what the metrics give after"))


HANDLERS = {"tier_override": tier_override}
