"""The JSON Schema editors use and `punchcard check` agree: what check requires, the schema requires.

An editor showing green where `check` shows red sends the analyst to the command line
for nothing; every ruleset that checks clean must also validate against the schema.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from punchcard.api import check, ruleset_json_schema
from punchcard.dsl.check import check_text
from punchcard.dsl.loader import read_ruleset, read_ruleset_text
from punchcard.dsl.vocabulary import EXPECT_KEYS, STATED_KEYS
from tests.dsl.conftest import ruleset_text
from tests.dsl.test_schema_file import REPO, complete_rulesets

GOOD = sorted((REPO / "tests" / "dsl" / "good_rulesets").glob("*.yaml"))
FOLDERS = sorted(p.parent for p in (REPO / "rulesets").rglob("ruleset.yaml"))
MULTIPLIERS = """\
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - {id: double, on: purchase, when: event.category == "coffee", multiply: 2}
    - {id: triple, on: purchase, when: event.channel == "app", multiply: 3}
  stacking: {multipliers: add, groups: best}
"""


def as_json(value):
    """YAML data as an editor sees it: numbers are numbers, dates are text."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def schema_errors(data) -> list[str]:
    validator = jsonschema.Draft202012Validator(ruleset_json_schema())
    return [e.message for e in validator.iter_errors(as_json(data))]


def check_errors(data) -> list[str]:
    import yaml

    text = yaml.safe_dump(as_json(data), sort_keys=False)
    return [d.message for d in check_text(text, "ruleset.yaml").errors]


@pytest.mark.parametrize("path", complete_rulesets() + GOOD + FOLDERS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_good_ruleset_validates_against_the_schema(path: Path):
    assert check(path).ok
    assert schema_errors(read_ruleset(path).data) == []


def test_the_schema_requires_what_check_requires():
    schema = ruleset_json_schema()
    assert set(STATED_KEYS) <= set(schema["required"])
    assert {"punchcard", "ruleset", "version"} <= set(schema["required"])


@pytest.mark.parametrize("body", [MULTIPLIERS, "earning:\n  base: {on: purchase, points: event.amount}\n"])
def test_removing_any_key_fails_the_schema_wherever_check_fails(body):
    """For each top-level and earning key: check red on its removal means schema red too."""
    data = read_ruleset_text(ruleset_text(body)).data
    paths = [(key,) for key in data] + [("earning", key) for key in data.get("earning", {})]
    assert check_errors(data) == [] and schema_errors(data) == []
    for path in paths:
        pruned = copy.deepcopy(data)
        parent = pruned
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
        if any("does not say" in m or "needs the key" in m for m in check_errors(pruned)):
            assert schema_errors(pruned), f"check requires {'.'.join(path)}, the schema does not"


def test_expect_keys_are_listed_in_the_schema():
    schema = ruleset_json_schema()
    text = json.dumps(schema)
    assert all(f'"{key}"' in text for key in EXPECT_KEYS)
    data = read_ruleset_text(ruleset_text() + "tests:\n  - name: t\n    events: [{type: purchase}]\n"
                             "    expect: {balanse: 1}\n").data
    assert schema_errors(data)


@pytest.mark.parametrize("word", ["in", "and", "true"])
def test_reserved_names_are_refused_by_both(word):
    for old, new in [("channel: optional string", f"{word}: optional string"),
                     ("segment: optional string", f"{word}: optional string")]:
        data = read_ruleset_text(ruleset_text().replace(old, new)).data
        assert check_errors(data) and schema_errors(data)
    data = read_ruleset_text(ruleset_text() + f"let:\n  {word}: 1\n").data
    assert check_errors(data) and schema_errors(data)
