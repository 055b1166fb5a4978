"""punchcard.engine."""
