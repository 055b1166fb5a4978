"""punchcard: loyalty programs whose rules are data."""
