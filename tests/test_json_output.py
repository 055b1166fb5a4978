"""Every command's machine-readable output writes a figure (points, balances, amounts, money)
as one JSON type, a string of its exact decimal text (docs/semantics.md, "Machine-readable
output"); counts stay JSON numbers."""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from punchcard.cli import app

ROOT = Path(__file__).resolve().parents[1]
RETAIL, RETAIL_V2 = ROOT / "rulesets/retail-tiers.yaml", ROOT / "rulesets/changes/retail-tiers-v2.yaml"
RUNNER = CliRunner()
# A leaf is a figure when its key (or, for new/old/diff/expected/actual, its parent's key) names one.
FIGURE = re.compile(r"(^|[._])(points|balance|pending|total|amount|remaining|metric|money|breakage|liability|left|"
                    r"used|cut|before|after|value|issued|redeemed|expired|clawed_back|adjusted_down|voided|to_next|"
                    r"to_keep|cost|expected|actual)($|[._])")
WRAPPERS = {"new", "old", "diff"}
COUNTS = {"members_changed"}  # how many members changed, by what: counts, not figures


def _figures(value, key: str = "", parent: str = ""):
    """(path, value) of every figure leaf."""
    if isinstance(value, dict):
        if key in COUNTS:
            return
        for name, item in value.items():
            yield from _figures(item, str(name), key)
    elif isinstance(value, list):
        for item in value:
            yield from _figures(item, key, parent)
    elif value is not None and not isinstance(value, bool):
        name = parent if key in WRAPPERS else key
        if FIGURE.search(name) and (isinstance(value, (int, float)) or _numeric(value)):
            yield f"{parent}.{key}", value


def _numeric(value) -> bool:
    try:
        Decimal(value)
        return True
    except (ArithmeticError, ValueError, TypeError):
        return False


def _json(result, lines: bool = False):
    assert result.exit_code in (0, 1), result.output
    text = result.stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()] if lines else json.loads(text)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, store_urls) -> dict:
    """The JSON of every command that prints figures, on the retail-tiers sample."""
    tmp = tmp_path_factory.mktemp("json")
    events, url = tmp / "events.jsonl", store_urls.new("sqlite")
    RUNNER.invoke(app, ["sample-events", "-o", str(events), "--count", "1500", "--members", "40"])
    first = json.loads(events.read_text().splitlines()[0])
    out = {"sample-events": _json(RUNNER.invoke(app, ["sample-events", "-o", "-", "--count", "300", "--members",
                                                      "10"]), lines=True)}
    out["process"] = _json(RUNNER.invoke(app, ["process", str(RETAIL), "--store", url, "--events", str(events),
                                               "--format", "jsonl"]), lines=True)
    out["member"] = _json(RUNNER.invoke(app, ["member", first["member"], "--store", url, "--format", "json"]))
    _tamper(url)
    out["audit"] = _json(RUNNER.invoke(app, ["audit", "--store", url, "--format", "json"]))
    out["explain"] = _json(RUNNER.invoke(app, ["explain", str(RETAIL), "--event", json.dumps(first),
                                               "--format", "json"]))
    out["dry-run"] = _json(RUNNER.invoke(app, ["dry-run", str(RETAIL_V2), "--events", str(events), "--against",
                                               str(RETAIL), "--format", "json", "--no-progress"]))
    for name, args in {"check": ["check", str(ROOT / "rulesets")], "test": ["test", str(ROOT / "rulesets")],
                       "plugins": ["plugins"], "graph": ["graph", str(RETAIL)]}.items():
        out[name] = _json(RUNNER.invoke(app, [*args, "--format", "json"]))
    return out


def _tamper(url: str) -> None:
    """Give the audit something to report: one member's stored balance off by 100."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE members SET balance = balance + 100 WHERE rowid = (SELECT min(rowid) FROM members)")


def test_every_figure_is_a_string(outputs):
    wrong = {name: [(path, value) for path, value in _figures(doc) if not isinstance(value, str)]
             for name, doc in outputs.items()}
    assert {name: found[:5] for name, found in wrong.items() if found} == {}


def test_the_figures_are_there_to_check(outputs):
    # The walk must see figures in every command that prints them, or the check above proves nothing.
    seen = {name: len(list(_figures(doc))) for name, doc in outputs.items()}
    for name in ("sample-events", "process", "member", "audit", "explain", "dry-run"):
        assert seen[name] > 0, name
    assert outputs["audit"]["differences"], "the tampered balance is reported"


@pytest.mark.parametrize("figure", ["0", "0.5", "-13", "1234567890.123456789"])
def test_figures_are_exact_decimal_text(figure):
    from punchcard.engine.runtime.decision import to_jsonable

    assert Decimal(to_jsonable(Decimal(figure))) == Decimal(figure)


# -- the API's names say what they give --------------------------------------------------
def test_a_decision_gives_a_dict_and_json_text():
    import punchcard

    engine = punchcard.Engine(punchcard.compile(ROOT / "rulesets/coffee-club.yaml"))
    decision = engine.process({"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00",
                               "amount": "150", "category": "coffee"})
    as_dict, as_text = decision.to_dict(), decision.to_json()
    assert isinstance(as_dict, dict) and isinstance(as_text, str)
    assert json.loads(as_text) == as_dict and as_dict["points"] == "300"
    assert all(isinstance(v, str) for _, v in _figures(as_dict))


def test_the_engine_front_door_is_documented():
    from punchcard import Engine

    for what in (Engine, Engine.process, Engine.member):
        assert what.__doc__ and len(what.__doc__.split()) >= 20, what
    assert "StoreError" in Engine.process.__doc__ and "Decision" in Engine.process.__doc__


@pytest.mark.parametrize("command", [["test"], ["explain", "--event", "{}"]])
def test_a_ruleset_that_does_not_load_gives_json_diagnostics_as_check_does(tmp_path, command):
    broken = tmp_path / "broken.yaml"
    broken.write_text(RETAIL.read_text(encoding="utf-8").replace("rounding:", "rounding_typo:", 1), encoding="utf-8")
    checked = RUNNER.invoke(app, ["check", "--format", "json", str(broken)])
    result = RUNNER.invoke(app, [command[0], str(broken), *command[1:], "--format", "json"])
    assert result.exit_code == checked.exit_code == 1
    diagnostics = json.loads(result.stdout)
    assert diagnostics == json.loads(checked.stdout) and diagnostics
