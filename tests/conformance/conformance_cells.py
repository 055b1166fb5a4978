"""The conformance matrix: which rulesets carry tests, and one case run in one cell.

A cell is an evaluator (``plain``: ``specialise=False``, the reference; ``specialised``:
the code generated per event type) and a place the case runs: ``memory``, ``sqlite``
and ``postgresql`` run it through ``Engine`` on that store; ``dryrun`` replays its
events through the dry-run's own replay (conformance_dryrun).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conformance_dryrun import replay_case

import punchcard
from punchcard.engine import MemoryStore
from punchcard.engine.testing import CaseResult, run_case

__all__ = ["ROOT", "Found", "found_rulesets", "EVALUATORS", "STORES", "REFERENCE", "slug", "open_store",
           "run_cell"]

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = ("rulesets", "tests")
LEFT_OUT = ("tests/dsl/bad_rulesets",)  # broken on purpose: their tests never run
EVALUATORS = {"plain": False, "specialised": True}  # name -> specialise
STORES = ("memory", "sqlite", "postgresql", "dryrun")
REFERENCE = ("plain", "memory")
_TESTS = re.compile(r"^tests\s*:", re.MULTILINE)


@dataclass
class Found:
    """A ruleset (file or folder) that carries tests, with its cases' names."""

    path: Path
    name: str
    cases: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def found_rulesets() -> list[Found]:
    """Every ruleset under rulesets/ and tests/ whose ``tests:`` hold at least one case (or
    that looks like it does but does not check: that is reported, not passed over)."""
    found = []
    for path in _candidates():
        checked = punchcard.check(path)
        if not checked.ok:
            found.append(Found(path, _name(path), errors=[d.message for d in checked.errors]))
        elif checked.model.tests:
            found.append(Found(path, _name(path), [test.name for test in checked.model.tests]))
    names = [f.name for f in found]
    for item in found:
        if names.count(item.name) > 1:  # the same stem in two folders: say which
            item.name = f"{item.path.parent.name}/{item.name}"
    return found


def _candidates() -> list[Path]:
    """Ruleset files with a top-level ``tests:``, and ruleset folders (``ruleset.yaml``), whose
    tests may sit in any included fragment; never a fragment of a folder on its own."""
    files = sorted(p for root in SEARCHED for ext in ("yaml", "yml") for p in (ROOT / root).rglob(f"*.{ext}"))
    files = [p for p in files if not any(p.is_relative_to(ROOT / left) for left in LEFT_OUT)]
    folders = sorted({p.parent for p in files if p.name == "ruleset.yaml"})
    loose = [p for p in files if not any(p.is_relative_to(folder) for folder in folders)]
    return folders + [p for p in loose if _TESTS.search(p.read_text(encoding="utf-8"))]


def _name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def slug(text: str, limit: int = 60) -> str:
    """A case name as a readable test id part: lowercase words joined by dashes."""
    text = "-".join(re.findall(r"[a-z0-9.]+", text.lower()))
    if len(text) > limit:  # cut at a word's end, so no word is left half
        text = text[:limit + 1].rsplit("-", 1)[0]
    return text or "case"


def open_store(kind: str, store_urls) -> object:
    """A new, empty store of ``kind``. PostgreSQL that cannot be started fails the cell: this
    suite never passes by leaving a store out. A SQL store keeps no members between events
    (``cache_size=0``): its cache would hand the engine back the very state it saved, as the
    memory store does, where each event here decides from the member as decoded from rows."""
    from punchcard.plugins.sql.store import SqlStore  # SQLAlchemy, only once a SQL cell runs

    if kind == "memory":
        return MemoryStore()
    try:
        url = store_urls.new(kind)
    except pytest.skip.Exception as exc:
        pytest.fail(f"{kind} is required by the conformance suite but unavailable: {exc.msg}", pytrace=False)
    return SqlStore(url, cache_size=0)


def run_cell(compiled, test, kind: str, store_urls) -> CaseResult:
    """One case in one cell: through ``Engine`` on a new store, or through the dry-run."""
    if kind == "dryrun":
        return replay_case(compiled, test)
    store = open_store(kind, store_urls)
    try:
        return run_case(compiled, test, store, every_state=True)
    finally:
        store.close()
