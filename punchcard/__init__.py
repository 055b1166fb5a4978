"""punchcard: loyalty programs whose rules are data.

The front door::

    import punchcard
    compiled = punchcard.compile("rulesets/coffee-club.yaml")
    engine = punchcard.Engine(compiled)            # in-memory store
    decision = engine.process({"type": "purchase", "id": "o-1", "member": "masha",
                               "time": "2026-03-02T08:15:00", "amount": "150", "category": "coffee"})
"""

from punchcard.api import (
    Engine,
    check,
    check_many,
    check_text,
    compile,
    compose_message,
    load_checked,
    ruleset_json_schema,
    send_messages,
)
from punchcard.dsl.errors import Code, Diagnostic, PunchcardError
from punchcard.engine import (
                              Compiled,
                              Decision,
                              Effect,
                              Event,
                              EventError,
                              MemberState,
                              MemoryStore,
                              Outcome,
                              Preview,
                              evaluate,
                              new_member,
)
from punchcard.engine.store import StoreError

__version__ = "0.1.0"

__all__ = [
    "check",
    "check_many",
    "check_text",
    "load_checked",
    "ruleset_json_schema",
    "compile",
    "send_messages",
    "compose_message",
    "Compiled",
    "Engine",
    "evaluate",
    "new_member",
    "Decision",
    "Effect",
    "Event",
    "EventError",
    "MemberState",
    "MemoryStore",
    "StoreError",
    "Outcome",
    "Preview",
    "Code",
    "Diagnostic",
    "PunchcardError",
    "__version__",
]
