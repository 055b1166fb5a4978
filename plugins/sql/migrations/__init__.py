"""Alembic migrations for the SQL ledger (run through punchcard.plugins.sql.migrate)."""

__all__: list[str] = []
