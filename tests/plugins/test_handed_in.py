"""The engine uses the plugins it is handed and looks none up; the front door hands in
the installed ones unless told otherwise."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

import punchcard
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.engine import Engine as BareEngine
from punchcard.engine import MemoryStore, compile_ruleset
from punchcard.engine.hooks import EngineHooks
from punchcard.plugins import hookimpl
from punchcard.plugins.functions_extra import SPECS
from punchcard.plugins.manager import get_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
COFFEE = ROOT / "rulesets" / "coffee-club.yaml"
PURCHASE = {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00",
            "amount": "150", "category": "coffee"}
CLAMPED = """\
punchcard: 1
ruleset: clamped
version: 1.0.0
effective: {from: 2026-01-01}
timezone: UTC
currency: EUR
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
earning:
  base:
    on: purchase
    points: clamp(event.amount, 0, 100)
"""
FRONT_DOOR = ("punchcard.api", "punchcard.plugins", "punchcard.cli", "punchcard.commands")


def _listening(plugins) -> list:
    heard: list = []

    @hookimpl
    def punchcard_decision_committed(decision):
        heard.append(decision.event_id)

    plugins.pm.register(SimpleNamespace(punchcard_decision_committed=punchcard_decision_committed),
                        name="listener")
    return heard


def test_the_engine_alone_knows_only_the_built_in_functions():
    with pytest.raises(PunchcardError) as caught:
        compile_ruleset(CLAMPED)
    assert Code.UNKNOWN_NAME in [d.code for d in caught.value.diagnostics]


def test_the_engine_uses_the_functions_of_the_plugins_handed_in(plugins):
    compiled = compile_ruleset(CLAMPED, plugins=plugins)
    decision = BareEngine(compiled).process({**PURCHASE, "amount": "250"})
    assert decision.points == 100


def test_explicit_functions_win_over_the_plugins():
    empty = SimpleNamespace(functions=lambda: [], decision_committed=lambda decision: None,
                            store_retried=lambda reason, attempt: None)
    assert isinstance(empty, EngineHooks)
    assert compile_ruleset(CLAMPED, list(SPECS), plugins=empty).model.ruleset == "clamped"


def test_the_front_door_compiles_with_the_installed_plugins():
    assert punchcard.compile(CLAMPED).model.ruleset == "clamped"


def test_the_front_door_compiles_with_the_plugins_it_is_given(plugins):
    plugins.pm.unregister(name="functions_extra")
    with pytest.raises(PunchcardError):
        punchcard.compile(CLAMPED, plugins=plugins)


def test_an_engine_without_plugins_tells_no_listener():
    heard = _listening(get_plugin_manager())
    BareEngine(compile_ruleset(COFFEE), MemoryStore()).process(PURCHASE)
    assert heard == []


def test_an_engine_tells_the_listeners_of_the_plugins_handed_in(plugins):
    heard = _listening(plugins)
    BareEngine(compile_ruleset(COFFEE), plugins=plugins).process(PURCHASE)
    assert heard == ["o-1"]


def test_the_front_door_engine_tells_the_installed_listeners():
    heard = _listening(get_plugin_manager())
    engine = punchcard.Engine(punchcard.compile(COFFEE))
    assert isinstance(engine, BareEngine)
    engine.process(PURCHASE)
    assert heard == ["o-1"]


def test_the_front_door_engine_uses_the_plugins_it_is_given(plugins):
    installed, given = _listening(get_plugin_manager()), _listening(plugins)
    punchcard.Engine(punchcard.compile(COFFEE), "memory://", plugins=plugins).process(PURCHASE)
    assert (installed, given) == ([], ["o-1"])


def test_the_engine_takes_a_store_not_a_url():
    with pytest.raises(TypeError, match=r"punchcard\.Engine"):
        BareEngine(compile_ruleset(COFFEE), "memory://")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_nothing_in_the_engine_imports_the_front_door_or_the_plugins():
    offending = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        bad = sorted(name for name in _imports(path)
                     if name == "punchcard" or name.startswith(FRONT_DOOR))
        if bad:
            offending[str(path.relative_to(ROOT))] = bad
    assert offending == {}
