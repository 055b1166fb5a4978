"""docs/ruleset.schema.json is the current `punchcard schema`, and bundled rulesets point editors at it.

After a change to the document model, regenerate it with
``.venv/bin/punchcard schema > docs/ruleset.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from punchcard.api import check
from punchcard.cli import app
from punchcard.discovery import bundled_rulesets_dir

MODELINE = "# yaml-language-server: $schema="
REPO = Path(__file__).resolve().parents[2]


def test_the_schema_file_is_up_to_date(repo):
    printed = CliRunner().invoke(app, ["schema"])
    assert printed.exit_code == 0
    committed = (repo / "docs" / "ruleset.schema.json").read_text(encoding="utf-8")
    assert committed == printed.stdout, "regenerate: .venv/bin/punchcard schema > docs/ruleset.schema.json"


def test_the_schema_describes_rulesets(repo):
    schema = json.loads((repo / "docs" / "ruleset.schema.json").read_text(encoding="utf-8"))
    assert schema["title"] == "punchcard ruleset"
    assert set(schema["required"]) == {"punchcard", "ruleset", "version", "rounding"}
    assert "rounding" in schema["properties"] and schema["additionalProperties"] is False


def ruleset_files(repo: Path = REPO) -> list[Path]:
    """Every YAML file under rulesets/, fragments and rulesets in subfolders included."""
    folder = repo / "rulesets"
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def complete_rulesets(repo: Path = REPO) -> list[Path]:
    return [p for p in ruleset_files(repo) if "punchcard: 1" in p.read_text(encoding="utf-8").splitlines()]


def test_there_are_bundled_rulesets(repo):
    assert complete_rulesets(repo) and bundled_rulesets_dir().resolve() == (repo / "rulesets").resolve()


@pytest.mark.parametrize("path", ruleset_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_bundled_ruleset_has_the_modeline(repo, path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path}: start it with {MODELINE}<path to docs/ruleset.schema.json>"
    target = (path.parent / first.removeprefix(MODELINE).strip()).resolve()
    assert target == (repo / "docs" / "ruleset.schema.json").resolve()


@pytest.mark.parametrize("path", complete_rulesets(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_bundled_ruleset_checks_clean(path):
    result = check(path)  # with plugin functions, as `punchcard check` does
    assert result.ok and result.errors == []
