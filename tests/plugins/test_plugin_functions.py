"""Plugin functions in the expression language: typed like built-ins, never replacing one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code
from punchcard.dsl.functions import FunctionSpec
from punchcard.dsl.types import BOOL, NUMBER
from punchcard.plugins import hookimpl
from punchcard.plugins.functions_extra import clamp, days_until_birthday
from punchcard.plugins.manager import PluginError

RULESET = """\
punchcard: 1
ruleset: plugin-functions
version: 1.0.0
effective: {{from: 2026-01-01}}
timezone: UTC
currency: EUR
point_value: 0.01
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  member: {{birth_date: optional date}}
  events:
    purchase: {{amount: money, category: string}}
earning:
  base:
    on: purchase
    points: {points}
  rules:
    - id: birthday-week
      on: purchase
      when: days_until_birthday(member.birth_date) <= 7
      bonus: 100
  stacking: {{multipliers: add, groups: best}}
"""


def codes(result) -> list[Code]:
    return [d.code for d in result.errors]


def test_plugin_functions_type_check_in_a_ruleset(plugins):
    result = check_text(RULESET.format(points="clamp(event.amount, 0, 1000)"), "r.yaml",
                        functions=plugins.functions())
    assert result.ok, [d.message for d in result.diagnostics]


def test_without_the_plugin_the_same_ruleset_fails():
    result = check_text(RULESET.format(points="clamp(event.amount, 0, 1000)"), "r.yaml")
    assert Code.UNKNOWN_NAME in codes(result)


def test_a_wrong_argument_type_is_a_type_error(plugins):
    result = check_text(RULESET.format(points="clamp(event.category, 0, 1000)"), "r.yaml",
                        functions=plugins.functions())
    assert codes(result) == [Code.TYPE_ERROR]
    assert "argument 1 of clamp()" in result.errors[0].message


def test_a_plugin_function_from_a_third_party_type_checks(plugins):
    @hookimpl
    def punchcard_functions():
        return [FunctionSpec("is_big", ((NUMBER,),), BOOL, lambda ctx, x: x > 100, "whether x is above 100")]

    plugins.pm.register(SimpleNamespace(punchcard_functions=punchcard_functions), name="acme")
    text = RULESET.format(points="if is_big(event.amount) then 2 else 1")
    assert check_text(text, "r.yaml", functions=plugins.functions()).ok
    bad = RULESET.format(points='if is_big("many") then 2 else 1')
    assert codes(check_text(bad, "r.yaml", functions=plugins.functions())) == [Code.TYPE_ERROR]


def _plugin_defining(name: str):
    @hookimpl
    def punchcard_functions():
        return [FunctionSpec(name, ((NUMBER,),), NUMBER, lambda ctx, x: x)]

    return SimpleNamespace(punchcard_functions=punchcard_functions)


@pytest.mark.parametrize("builtin", ["age", "round", "count"])
def test_redefining_a_builtin_is_a_clear_error_naming_the_plugin(plugins, builtin):
    plugins.pm.register(_plugin_defining(builtin), name="sneaky")
    with pytest.raises(PluginError, match=rf"plugin 'sneaky' cannot define function '{builtin}': it is a built-in"):
        plugins.functions()


def test_two_plugins_defining_one_function_are_both_named(plugins):
    plugins.pm.register(_plugin_defining("bonus_rate"), name="first")
    plugins.pm.register(_plugin_defining("bonus_rate"), name="second")
    with pytest.raises(PluginError, match=r"plugins '\w+' and '\w+' both define function 'bonus_rate'") as info:
        plugins.functions()
    assert "first" in str(info.value) and "second" in str(info.value)


def test_a_plugin_returning_something_else_is_named(plugins):
    @hookimpl
    def punchcard_functions():
        return [lambda ctx: 1]

    plugins.pm.register(SimpleNamespace(punchcard_functions=punchcard_functions), name="loose")
    with pytest.raises(PluginError, match=r"plugin 'loose' returned .* expected a .*FunctionSpec"):
        plugins.functions()


def test_the_public_api_surfaces_the_error(monkeypatch):
    from punchcard import api
    from punchcard.plugins.manager import get_plugin_manager

    get_plugin_manager().pm.register(_plugin_defining("age"), name="sneaky")
    with pytest.raises(PluginError, match="sneaky"):
        api.plugin_functions()


# -- the built-in extra functions ------------------------------------------------------------
@pytest.mark.parametrize("x, expected", [("5", "10"), ("10", "10"), ("12.50", "12.50"), ("20", "20"), ("99", "20")])
def test_clamp(x, expected):
    result = clamp(None, Decimal(x), Decimal(10), Decimal(20))
    assert result == Decimal(expected) and isinstance(result, Decimal)


def test_clamp_with_low_above_high_gives_high():
    assert clamp(None, Decimal(5), Decimal(30), Decimal(20)) == Decimal(20)


def _at(day: str):
    return SimpleNamespace(now=dt.datetime.fromisoformat(day + "T12:00:00+03:00"))


@pytest.mark.parametrize("today, born, days", [
    ("2026-03-02", "1990-03-02", 0),
    ("2026-03-02", "1990-03-09", 7),
    ("2026-03-02", "1990-03-01", 364),
    ("2026-12-31", "1985-01-01", 1),
    ("2026-02-27", "2000-02-29", 1),   # common year: 28 February
    ("2028-02-27", "2000-02-29", 2),   # leap year: 29 February
    ("2026-03-01", "2000-02-29", 364),  # next one falls on 28 February 2027
])
def test_days_until_birthday(today, born, days):
    result = days_until_birthday(_at(today), dt.date.fromisoformat(born))
    assert result == Decimal(days) and isinstance(result, Decimal)


def test_days_until_birthday_accepts_a_date_as_now():
    assert days_until_birthday(SimpleNamespace(now=dt.date(2026, 5, 1)), dt.date(1999, 5, 3)) == Decimal(2)
