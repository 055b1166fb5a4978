"""punchcard.engine: compile checked rulesets and evaluate events against member state."""

from .answers import Preview
from .compiler.stages import Compiled, compile_ruleset
from .engine import Engine
from .evaluate import evaluate, new_member
from .runtime.decision import Decision, Effect, Outcome, Step, TierView
from .runtime.events import Event, EventError
from .runtime.state import Lot, MemberState
from .store import MemoryStore, Store, UnitOfWork

__all__ = [
    "Compiled",
    "compile_ruleset",
    "Decision",
    "Effect",
    "Outcome",
    "Step",
    "TierView",
    "Engine",
    "Preview",
    "evaluate",
    "new_member",
    "Event",
    "EventError",
    "Lot",
    "MemberState",
    "MemoryStore",
    "Store",
    "UnitOfWork",
]
