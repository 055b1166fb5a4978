"""punchcard.engine: compile checked rulesets and evaluate events against member state."""

from .compile import Compiled, compile_ruleset
from .decision import Decision, Effect, Outcome, Step, TierView
from .engine import Engine
from .evaluate import evaluate, new_member
from .events import Event, EventError
from .state import Lot, MemberState
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
