"""A plugin cannot define a function the language already has: ``score`` (a model's score, read by
the checker before any function table), ``count`` and ``sum`` (history), or any built-in. The
refusal names the plugin, so the host knows which one to fix or disable."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from punchcard.dsl.check import check_text
from punchcard.dsl.functions import BUILTINS, FunctionSpec
from punchcard.dsl.types import NUMBER
from punchcard.plugins import hookimpl
from punchcard.plugins.manager import PluginError, create_plugin_manager

PLAIN = """\
punchcard: 1
ruleset: plain
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
"""


def _spec(name: str) -> FunctionSpec:
    return FunctionSpec(name, ((NUMBER,),), NUMBER, lambda ctx, x: Decimal(1), "always one")


def _plugins_with(name: str):
    @hookimpl
    def punchcard_functions():
        return [_spec(name)]

    plugins = create_plugin_manager(disabled=[], entry_points=False)
    plugins.pm.register(SimpleNamespace(punchcard_functions=punchcard_functions), name="acme-scores")
    return plugins


@pytest.mark.parametrize("name", ["score", "count", "sum", "round", sorted(BUILTINS)[0]])
def test_a_plugin_function_with_a_built_in_name_is_refused_naming_the_plugin(name):
    with pytest.raises(PluginError) as caught:
        _plugins_with(name).functions()
    message = str(caught.value)
    assert "'acme-scores'" in message and f"function {name!r}" in message and "built-in" in message


def test_a_plugin_function_with_a_new_name_is_accepted_and_checks():
    specs = _plugins_with("lucky").functions()
    assert [s.name for s in specs if s.name == "lucky"] == ["lucky"]
    result = check_text(PLAIN.replace("event.amount}", "event.amount * lucky(1)}"), "r.yaml", specs)
    assert result.errors == []


def test_the_function_table_itself_refuses_score():
    from punchcard.dsl.functions import function_table

    with pytest.raises(ValueError, match="'score' is already defined"):
        function_table([_spec("score")])
