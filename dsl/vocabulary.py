"""The fixed words and numbers of the ruleset language: built-in event types, currency
minor units, what a test may expect, names a fact may not take, and the limits the
document and the expressions share (docs/ruleset-format.md, docs/semantics.md)."""

from __future__ import annotations

from punchcard.grammar import reserved_words

__all__ = [
    "FORMAT_VERSION",
    "MINOR_UNITS",
    "MAX_DURATION",
    "MAX_STEP_PLACES",
    "BUILTIN_EVENTS",
    "TIER_EVENTS",
    "OPTIONAL",
    "field_base_type",
    "EXPECT_KEYS",
    "FACT_KEYWORDS",
    "STATED_KEYS",
]

FORMAT_VERSION = 1
# ISO 4217 minor units that are not 2 (docs/ruleset-format.md, "Header")
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

# The longest duration, in each unit: 100 years. Longer would reach past the dates the ledger
# holds. Expressions (``within:``, date arithmetic) and the document share this table.
MAX_DURATION = {"year": 100, "month": 1200, "week": 5218, "day": 36525, "hour": 876600, "minute": 52596000}

MAX_STEP_PLACES = 6  # decimals of a rounding step (docs/semantics.md, "Numbers and bounds")

BUILTIN_EVENTS: dict[str, dict[str, str]] = {
    "refund": {"order": "string", "amount": "money", "items": "optional returned_items"},
    "redeem": {"points": "number", "reward": "optional string"},
    "redeem_reversal": {"redemption": "string"},
    "tick": {},
    "adjust": {"points": "signed", "reason": "string"},
    "review_decision": {"target": "string", "verdict": "string"},
    # admin events of docs/operations.md: a legal hold, and one lot of a legacy program imported
    "freeze": {"reason": "string", "by": "optional string"},
    "unfreeze": {"reason": "string", "by": "optional string"},
    "import": {"points": "number", "earned_at": "datetime", "expires_at": "optional datetime",
               "pending_until": "optional datetime", "source": "optional string"},
}

# The built-in event a host (an admin) sends about tiers, only in rulesets with ``tiers:``: hold
# ``level`` (a status match, a challenge) until ``until``, whatever the metrics say (docs/tiers.md).
TIER_EVENTS: dict[str, dict[str, str]] = {
    "tier_override": {"level": "string", "until": "datetime", "reason": "string"},
}

OPTIONAL = "optional "


def field_base_type(value: str) -> str:
    """``optional date`` -> ``date``."""
    return value.removeprefix(OPTIONAL).strip()


# What a test may expect, after an event or after its last one (docs/ruleset-format.md#tests).
EXPECT_KEYS = ("points", "balance", "pending", "total", "tier", "outcome", "reason", "effects", "fired",
               "not_fired", "paid", "trace", "streak", "badges", "messages", "suppressed")

# Words a ``let:`` fact may not be named: the language's own, and the names expressions start from.
FACT_KEYWORDS = (*reserved_words(), "now", "event", "member", "streak")

# Keys with a default that check still wants written out, because they change what members get.
STATED_KEYS = ("rounding",)
