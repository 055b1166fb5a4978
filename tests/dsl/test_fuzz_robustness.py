"""Whatever text arrives, the checker answers with diagnostics, never with a crash.

Every run is bounded by hypothesis deadlines rather than timing assertions: a slow
example fails the test as surely as an exception does.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.dsl import ast
from punchcard.dsl.check import CheckedRuleset, check_text
from punchcard.dsl.errors import Code, Diagnostic, PunchcardError, render_all
from punchcard.dsl.parser import parse_expression
from punchcard.dsl.yamlsrc import load_yaml

FAST = settings(max_examples=200, deadline=timedelta(milliseconds=500),
                suppress_health_check=[HealthCheck.too_slow])
SLOWER = settings(max_examples=100, deadline=timedelta(seconds=2),
                  suppress_health_check=[HealthCheck.too_slow])

TOKENS = ["event", "member", ".", "amount", "category", "time", "tier", "(", ")", "[", "]", ",", ":", "+", "-",
          "*", "/", "==", "!=", "<", ">=", "and", "or", "not", "in", "if", "then", "else", "true", "false", "1",
          "0.5", "7 days", "10:00", "2026-03-02", '"coffee"', "'x'", "hour", "count", "sum", "within", "purchase",
          "max", "__class__", "now", "streak", "length", "&&", "=", "\n", " ", "\\", '"', "'"]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)
any_text = st.text(max_size=200)

TEMPLATE = """\
punchcard: 1
ruleset: fuzz
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  member: {birth_date: optional date}
  events:
    purchase: {amount: money, category: string}
let:
  big: %s
earning:
  base:
    on: purchase
    points: %s
    when: %s
  rules:
    - {id: r, on: purchase, when: %s, multiply: 2}
  stacking: {multipliers: add, groups: best}
"""


def assert_well_formed(result: CheckedRuleset) -> None:
    assert isinstance(result, CheckedRuleset)
    for diagnostic in result.diagnostics:
        assert isinstance(diagnostic, Diagnostic) and isinstance(diagnostic.code, Code)
        assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1, diagnostic
        assert diagnostic.message
    assert isinstance(render_all(result.diagnostics, result.sources), str)
    assert result.ok == (result.model is not None and not result.errors)


def parses_or_refuses(text: str) -> None:
    try:
        node = parse_expression(text)
    except PunchcardError as exc:
        assert exc.diagnostics and all(d.code in (Code.PARSE_ERROR, Code.LIMIT_ERROR) for d in exc.diagnostics)
    else:
        assert isinstance(node, ast.Node)


@FAST
@given(any_text)
def test_random_text_is_parsed_or_refused(text):
    parses_or_refuses(text)


@FAST
@given(token_soup)
def test_random_token_soup_is_parsed_or_refused(text):
    parses_or_refuses(text)


@SLOWER
@given(any_text)
def test_random_text_as_a_ruleset(text):
    assert_well_formed(check_text(text, "fuzz.yaml"))


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.decimals(allow_nan=False, allow_infinity=False).map(str), st.dates())
keys = st.sampled_from(["punchcard", "ruleset", "version", "earning", "base", "rules", "on", "points", "when",
                        "let", "schema", "events", "tiers", "levels", "min", "id", "bonus", "x"])
yaml_data = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner,
                                                                                             max_size=4),
                         max_leaves=20)


@SLOWER
@given(yaml_data)
def test_random_yaml_as_a_ruleset(data):
    text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)
    assert_well_formed(check_text(text, "fuzz.yaml"))


def _yaml_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@SLOWER
@given(st.lists(token_soup, min_size=4, max_size=4))
def test_random_expressions_in_a_valid_ruleset(expressions):
    text = TEMPLATE % tuple(_yaml_quote(e) for e in expressions)
    assert_well_formed(check_text(text, "fuzz.yaml"))


@SLOWER
@given(st.data())
def test_mutated_ruleset_text(data):
    text = TEMPLATE % ("event.amount > 100", "event.amount", "big", "true")
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 5))
        text = text[:at] + data.draw(st.text(max_size=3)) + text[at + cut:]
    assert_well_formed(check_text(text, "fuzz.yaml"))


def test_the_template_itself_is_clean():
    result = check_text(TEMPLATE % ("event.amount > 100", "event.amount", "big", "true"), "fuzz.yaml")
    assert result.ok and result.diagnostics == []
    assert result.model.earning.bases[0].points == "event.amount"
    assert isinstance(result.model.point_value, Decimal)


EVERYTHING = Path(__file__).parent / "good_rulesets" / "everything.yaml"
REPLACEMENTS = [None, True, 0, -1, 7, "x", "", "purchase", "refund", "7 days", "3 months", "event.amount",
                "1 > 2", "big", "streak.length", "count(purchase, within: 1 day)", "gold", Decimal("0.5"),
                Decimal("-2"), [], {}, ["purchase"], {"x": 1}, "never", "big-basket", "a.b.c", "__class__"]


class _Dumper(yaml.SafeDumper):
    """Writes Decimals back as YAML numbers, as an analyst would type them."""


_Dumper.add_representer(Decimal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:float", str(value)))


def _paths(node, prefix=()):
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def _mutate(document, data) -> None:
    path = data.draw(st.sampled_from(list(_paths(document))))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["delete", "replace", "duplicate"]))
    if action == "delete":
        del parent[path[-1]]
    elif action == "replace":
        parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(REPLACEMENTS)))
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[path[-1]]))


def test_the_everything_ruleset_is_clean():
    result = check_text(EVERYTHING.read_text(encoding="utf-8"), "everything.yaml")
    assert result.ok and result.diagnostics == []


@SLOWER
@given(st.data())
def test_structurally_mutated_rulesets(data):
    document = load_yaml(EVERYTHING.read_text(encoding="utf-8")).data
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(document, data)
    assert_well_formed(check_text(yaml.dump(document, Dumper=_Dumper, sort_keys=False), "mutated.yaml"))
