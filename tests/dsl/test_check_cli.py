"""`punchcard check` and `punchcard schema` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from punchcard.api import ruleset_json_schema
from punchcard.cli import app

KEYS = {"file", "line", "column", "code", "severity", "message", "hint"}

# Found by different stages (warnings come last), reported by position.
SEVERAL_ERRORS = """\
let:
  unused: 1
earning:
  base:
    on: purchase
    points: event.amont
    when: event.category > 1
  rules:
    - {id: late, on: purchase, when: hour(event.time) > 20, bonus: 5}
    - {id: early, on: purchase, when: 'hour(event.time, 1) < 8', bonus: 5}
  stacking: {multipliers: add, groups: best}
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def write(tmp_path, ruleset_text):
    def write(name: str, body: str | None = None):
        path = tmp_path / name
        path.write_text(ruleset_text(body) if body is not None else ruleset_text(), encoding="utf-8")
        return path
    return write


def test_a_clean_ruleset_exits_0(repo):
    result = invoke("check", str(repo / "rulesets" / "coffee-club.yaml"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "checked 1 ruleset: 0 errors, 0 warnings" in result.stderr


def test_errors_exit_1_with_positions_and_carets(write):
    path = write("bad.yaml", "earning:\n  base: {on: purchase, points: event.amont}\n")
    result = invoke("check", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}:10:38: error[unknown_name]: event.amont is not a field on purchase"
    assert lines[1] == "      base: {on: purchase, points: event.amont}"
    assert lines[2] == " " * 41 + "^"
    assert lines[3] == "    hint: did you mean `event.amount`?"
    assert "1 error, 0 warnings" in result.stderr


def test_warnings_alone_exit_0(write):
    path = write("warn.yaml", "let:\n  unused: 1\nearning:\n  base: {on: purchase, points: 1}\n")
    result = invoke("check", str(path))
    assert result.exit_code == 0
    assert "warning[unused_let]" in result.stdout and "0 errors, 1 warning" in result.stderr


@pytest.mark.parametrize("args", [["check", "--no-such-option", "x.yaml"], ["check"],
                                  ["check", "--format", "xml", "x.yaml"], ["no-such-command"]])
def test_usage_errors_exit_2(args):
    assert invoke(*args).exit_code == 2


def test_json_is_a_list_of_diagnostics(write):
    path = write("bad.yaml", SEVERAL_ERRORS)
    result = invoke("check", "--format", "json", str(path))
    assert result.exit_code == 1
    diagnostics = json.loads(result.stdout)
    assert isinstance(diagnostics, list) and all(set(d) == KEYS for d in diagnostics)
    assert [(d["code"], d["severity"]) for d in diagnostics] == [
        ("unused_let", "warning"), ("unknown_name", "error"), ("type_error", "error"), ("arity_error", "error")]
    assert all(d["file"] == str(path) for d in diagnostics)
    assert diagnostics[1]["hint"] == "did you mean `event.amount`?" and diagnostics[2]["hint"] is not None


def test_json_of_a_clean_ruleset_is_an_empty_list(write):
    result = invoke("check", "--format", "json", str(write("good.yaml")))
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_diagnostics_are_sorted_by_position(write):
    text = SEVERAL_ERRORS + "points:\n  pending: 3 dayz\n"  # a schema error, found first, placed last
    diagnostics = json.loads(invoke("check", "--format", "json", str(write("bad.yaml", text))).stdout)
    positions = [(d["line"], d["column"]) for d in diagnostics]
    assert positions == sorted(positions) and len(positions) == 4  # no unused_let beside a schema error
    assert diagnostics[-1]["code"] == "schema_error"


def test_several_rulesets_at_once(write, tmp_path):
    write("a.yaml")
    write("b.yaml", "earning:\n  base: {on: purchase, points: event.amont}\n")
    result = invoke("check", "--format", "json", str(tmp_path))
    assert result.exit_code == 1
    assert [d["file"] for d in json.loads(result.stdout)] == [str(tmp_path / "b.yaml")]
    text = invoke("check", str(tmp_path))
    assert "checked 2 rulesets: 1 error, 0 warnings" in text.stderr


def test_a_missing_path_is_not_found_without_a_position(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = invoke("check", "--format", "json", str(missing))
    assert result.exit_code == 1
    [diagnostic] = json.loads(result.stdout)
    assert (diagnostic["code"], diagnostic["message"]) == ("not_found", "file not found")
    assert (diagnostic["file"], diagnostic["line"], diagnostic["column"]) == (str(missing), None, None)
    text = invoke("check", str(missing))
    assert text.stdout.splitlines()[0] == f"{missing}: error[not_found]: file not found"


def test_check_and_test_look_into_every_sub_folder(write, tmp_path, ruleset_text):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.yaml").write_text(ruleset_text(
        "earning:\n  base: {on: purchase, points: event.amont}\n"), encoding="utf-8")
    (tmp_path / "a" / "folder").mkdir()
    (tmp_path / "a" / "folder" / "ruleset.yaml").write_text(ruleset_text(), encoding="utf-8")
    (tmp_path / "a" / "folder" / "fragment.yaml").write_text("description: not a ruleset\n", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("not: a ruleset\n", encoding="utf-8")
    write("top.yaml")
    result = invoke("check", "--format", "json", str(tmp_path))
    assert [d["file"] for d in json.loads(result.stdout)] == [str(tmp_path / "a" / "b" / "deep.yaml")]
    assert "checked 3 rulesets: 1 error" in invoke("check", str(tmp_path)).stderr
    tested = invoke("test", str(tmp_path / "a" / "folder"), str(tmp_path / "top.yaml"))
    assert tested.exit_code == 5  # neither carries tests:


@pytest.mark.parametrize("command", ["check", "test"])
def test_a_folder_without_rulesets_exits_5(tmp_path, command):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here", encoding="utf-8")
    result = invoke(command, str(tmp_path / "empty"))
    assert result.exit_code == 5
    assert f"no rulesets found in {tmp_path / 'empty'}" in result.stderr
    as_json = invoke(command, "--format", "json", str(tmp_path / "empty"))
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (5, [])


def test_schema_prints_the_json_schema():
    result = invoke("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == ruleset_json_schema()


def test_a_let_read_only_by_a_rule_with_a_schema_error_is_not_called_unused(tmp_path):
    """The rule with the typo is dropped; its let is not "never used", the typo is the news."""
    path = tmp_path / "typo.yaml"
    path.write_text("""punchcard: 1
ruleset: demo
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
let:
  morning: hour(event.time) < 10
earning:
  base: {on: purchase, points: event.amount}
  rules:
    - {id: early, on: purchase, when: morning, multipyl: 2}
""")
    diagnostics = json.loads(invoke("check", "--format", "json", str(path)).stdout)
    assert [d["code"] for d in diagnostics] == ["schema_error"]
    assert "multipyl" in diagnostics[0]["message"]
