"""CLI command modules; each registers itself on ``punchcard.cli.app``."""
