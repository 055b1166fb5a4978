"""punchcard.rulesets."""
