"""punchcard.plugins."""
