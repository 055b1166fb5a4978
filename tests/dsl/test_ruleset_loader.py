"""Rulesets split over files with include: fragments merge, and errors name the right file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from punchcard.dsl.check import check_path
from punchcard.dsl.errors import Code
from punchcard.dsl.loader import MAX_INCLUDES, read_ruleset

MAIN = """\
punchcard: 1
ruleset: split
version: 1.0.0
include: {includes}
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money, category: string}}
earning:
  base: {{on: purchase, points: event.amount}}
  stacking: {{multipliers: add, groups: best}}
"""

RULES = """\
let:
  coffee: event.category == "coffee"
earning:
  rules:
    - {id: coffee-double, on: purchase, when: coffee, multiply: 2}
tests:
  - name: coffee doubles
    events:
      - {type: purchase, id: o-1, time: "2026-03-02T08:00:00", amount: 10, category: coffee}
    expect: {points: 20}
"""

MORE_RULES = """\
earning:
  rules:
    - {id: big-basket, on: purchase, when: event.amount >= 1000, bonus: 50}
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def split_ruleset(folder: Path, includes: str, **fragments: str) -> Path:
    files = {"ruleset.yaml": MAIN.format(includes=includes)}
    files.update({name.replace("__", "/") + ".yaml": text for name, text in fragments.items()})
    return write(folder, files)


def only_diagnostic(path: Path):
    result = check_path(path)
    assert len(result.diagnostics) == 1, result.diagnostics
    return result.diagnostics[0]


def test_fragments_add_rules_lets_and_tests(tmp_path):
    folder = split_ruleset(tmp_path, "[rules.yaml, more.yaml]", rules=RULES, more=MORE_RULES)
    result = check_path(folder)
    assert result.ok and result.diagnostics == []
    assert [r.id for r in result.model.earning.rules] == ["coffee-double", "big-basket"]
    assert list(result.model.let) == ["coffee"]
    assert [t.name for t in result.model.tests] == ["coffee doubles"]
    assert set(result.sources) == {str(folder / n) for n in ("ruleset.yaml", "rules.yaml", "more.yaml")}


def test_globs_expand_in_sorted_order(tmp_path):
    folder = split_ruleset(tmp_path, "[rules/*.yaml]", rules__b=MORE_RULES, rules__a=RULES)
    assert [r.id for r in check_path(folder).model.earning.rules] == ["coffee-double", "big-basket"]


def test_errors_in_a_fragment_point_into_the_fragment(tmp_path):
    broken = MORE_RULES.replace("event.amount >= 1000", "event.amonut >= 1000")
    folder = split_ruleset(tmp_path, "[rules.yaml, more.yaml]", rules=RULES, more=broken)
    diagnostic = only_diagnostic(folder)
    assert diagnostic.code is Code.UNKNOWN_NAME
    assert diagnostic.span.file == str(folder / "more.yaml") and diagnostic.span.line == 3
    line = broken.splitlines()[2]
    assert line[diagnostic.span.column - 1:].startswith("amonut")


def test_a_scalar_set_twice_names_both_places(tmp_path):
    folder = split_ruleset(tmp_path, "[zone.yaml]", zone="timezone: Asia/Tokyo\n")
    (folder / "ruleset.yaml").write_text(MAIN.format(includes="[zone.yaml]") + "timezone: Europe/Moscow\n")
    diagnostic = only_diagnostic(folder)
    assert diagnostic.code is Code.INCLUDE_ERROR
    assert diagnostic.span.file == str(folder / "zone.yaml") and diagnostic.span.line == 1
    assert diagnostic.message == f"timezone is set twice (first at {folder / 'ruleset.yaml'}:12)"


def test_nested_scalars_set_twice_are_reported_with_their_path(tmp_path):
    fragment = "earning:\n  stacking: {multipliers: multiply}\n"
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "[stack.yaml]", stack=fragment))
    assert diagnostic.code is Code.INCLUDE_ERROR
    assert diagnostic.message.startswith("earning.stacking.multipliers is set twice")


@pytest.mark.parametrize("pattern", ["../outside.yaml", "rules/../../outside.yaml", "/etc/passwd"])
def test_paths_must_stay_inside_the_folder(tmp_path, pattern):
    (tmp_path / "outside.yaml").write_text("let: {x: 1}\n")
    folder = split_ruleset(tmp_path / "r", f"['{pattern}']")
    diagnostic = only_diagnostic(folder)
    assert diagnostic.code is Code.INCLUDE_ERROR
    assert diagnostic.message == f"include {pattern!r} must stay inside the ruleset folder"
    assert diagnostic.span.line == 4


def test_a_pattern_that_matches_nothing(tmp_path):
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "[missing-*.yaml]"))
    assert (diagnostic.code, diagnostic.message) == (Code.INCLUDE_ERROR, "include 'missing-*.yaml' matches no file")


def test_header_keys_belong_in_the_main_file(tmp_path):
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "[x.yaml]", x="version: 2.0.0\n"))
    assert (diagnostic.code, diagnostic.message) == (Code.INCLUDE_ERROR, "version: belongs in ruleset.yaml only")


def test_a_fragment_must_be_a_mapping(tmp_path):
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "[x.yaml]", x="- 1\n- 2\n"))
    assert diagnostic.code is Code.SCHEMA_ERROR and diagnostic.span.file == str(tmp_path / "x.yaml")


def test_yaml_errors_in_fragments_are_reported_in_the_fragment(tmp_path):
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "[x.yaml]", x="let:\n  a: 1\n  a: 2\n"))
    assert diagnostic.code is Code.YAML_ERROR and diagnostic.span.file == str(tmp_path / "x.yaml")
    assert diagnostic.span.line == 3


def test_include_takes_a_list_of_names(tmp_path):
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "rules.yaml"))
    assert (diagnostic.code, diagnostic.message) == (Code.SCHEMA_ERROR, "include: takes a list of file names")


def test_too_many_includes(tmp_path):
    fragments = {f"part{i:03}": f"let:\n  v{i}: {i}\n" for i in range(MAX_INCLUDES + 1)}
    diagnostic = only_diagnostic(split_ruleset(tmp_path, "['part*.yaml']", **fragments))
    assert diagnostic.code is Code.LIMIT_ERROR


def test_a_folder_without_a_main_file(tmp_path):
    diagnostic = only_diagnostic(tmp_path)
    assert (diagnostic.code, diagnostic.message) == (Code.NOT_FOUND, "the folder has no ruleset.yaml")
    assert (diagnostic.span.file, diagnostic.span.line, diagnostic.span.column) == (str(tmp_path), 0, 0)


def test_a_missing_file(tmp_path):
    diagnostic = only_diagnostic(tmp_path / "nope.yaml")
    assert (diagnostic.code, diagnostic.message) == (Code.NOT_FOUND, "file not found")
    assert (diagnostic.span.line, diagnostic.span.column) == (0, 0)  # no position inside a file that is not there


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("description: café".encode("latin-1"))
    assert only_diagnostic(path).code is Code.YAML_ERROR


def test_a_single_file_needs_no_folder(tmp_path, ruleset_text):
    path = tmp_path / "one.yaml"
    path.write_text(ruleset_text())
    raw = read_ruleset(path)
    assert raw.data["ruleset"] == "sample" and raw.path == str(path)
