"""Store commands open every store through the storage hook, and ask the store itself
for what they need beyond the Store interface (an audit, its schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.engine import MemoryStore
from punchcard.plugins import hookimpl
from punchcard.plugins.manager import get_plugin_manager

RUNNER = CliRunner()
COFFEE = Path(__file__).resolve().parents[2] / "rulesets" / "coffee-club.yaml"
PURCHASE = {"type": "purchase", "id": "o-1", "member": "ann", "time": "2026-03-02T08:15:00", "amount": "150",
            "category": "coffee"}


@dataclass
class Report:
    members: int = 1
    entries: int = 2
    lots: int = 3
    differences: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict:
        return {"ok": self.ok}


class VaultStore(MemoryStore):
    """A store a third-party plugin might bring: it audits itself and has a schema."""

    revision = "v1"

    def audit(self) -> Report:
        return Report()

    def schema_revision(self) -> tuple[str | None, str]:
        return self.revision, "v2"

    def upgrade_schema(self, revision: str = "head") -> tuple[str | None, str | None]:
        before, self.revision = self.revision, "v2"
        return before, self.revision


@pytest.fixture
def opened() -> list[tuple[str, bool, bool]]:
    """Registers a plugin opening ``vault://`` (a VaultStore) and ``plain://`` (a MemoryStore
    with one member), and records how each store was opened."""
    calls: list[tuple[str, bool, bool]] = []
    stores = {"vault": VaultStore(), "plain": MemoryStore()}
    punchcard.Engine(punchcard.compile(COFFEE), stores["plain"]).process(PURCHASE)

    @hookimpl
    def punchcard_open_store(url, create, migrating):
        scheme = url.split("://")[0]
        if scheme not in stores:
            return None
        calls.append((url, create, migrating))
        return stores[scheme]

    get_plugin_manager().pm.register(SimpleNamespace(punchcard_open_store=punchcard_open_store), name="vault")
    return calls


def test_member_reads_a_store_a_plugin_opened_without_creating_one(opened):
    result = RUNNER.invoke(app, ["member", "ann", "--store", "plain://x"])
    assert result.exit_code == 0, result.output
    assert "member ann" in result.stdout and opened == [("plain://x", False, False)]


def test_audit_asks_the_store_for_its_audit(opened):
    result = RUNNER.invoke(app, ["audit", "--store", "vault://x"])
    assert result.exit_code == 0, result.output
    assert "audited 1 members, 2 ledger entries, 3 lots: no differences" in result.stdout
    assert opened == [("vault://x", False, False)]


def test_audit_refuses_a_store_that_cannot_audit(opened):
    result = RUNNER.invoke(app, ["audit", "--store", "plain://x"])
    assert result.exit_code == 2 and "'plain://x' cannot be audited" in result.stderr


def test_db_commands_ask_the_store_for_its_schema(opened):
    current = RUNNER.invoke(app, ["db", "current", "--store", "vault://x"])
    assert current.exit_code == 0 and "v1 (this punchcard needs v2)" in current.stdout
    upgraded = RUNNER.invoke(app, ["db", "upgrade", "--store", "vault://x"])
    assert upgraded.exit_code == 0 and "schema at v2 (was v1)" in upgraded.stderr
    assert opened == [("vault://x", False, True), ("vault://x", True, True)]


def test_db_refuses_a_store_without_a_schema(opened):
    result = RUNNER.invoke(app, ["db", "upgrade", "--store", "plain://x"])
    assert result.exit_code == 2 and "'plain://x' cannot be migrated" in result.stderr
