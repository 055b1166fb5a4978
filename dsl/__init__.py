"""punchcard.dsl."""
