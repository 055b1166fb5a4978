"""The variants: section: checking with positions, the patch's merge, file variants."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.check import check_path, check_text
from punchcard.dsl.errors import Code

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "rulesets/coffee-ab.yaml").read_text(encoding="utf-8")


def _with(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _errors(text: str, file: str = "coffee-ab.yaml"):
    return check_text(text, file).errors


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_bundled_ruleset_checks_clean_with_each_variant_checked():
    checked = check_text(BASE, "coffee-ab.yaml")
    assert checked.ok
    assert sorted(checked.variants) == ["control", "triple-mornings"]
    rules = {r.id: r for r in checked.variants["triple-mornings"].valid_model.earning.rules}
    assert rules["coffee-mornings"].multiply == "3"
    assert rules["coffee-mornings"].when == "event.category == \"coffee\" and morning and weekday"  # kept
    assert checked.variants["control"].valid_model.earning == checked.valid_model.earning


def test_shares_must_add_to_exactly_100_percent_in_decimals():
    text = _with("      share: 50%\n      description: the program as it is", "      share: 33.33%\n"
                 "      description: the program as it is")
    (error,) = _errors(text)
    assert error.code == Code.SCHEMA_ERROR and "83.33%, not 100%" in error.message
    assert error.span.line == _line_of(text, "arms:") and error.hint


def test_thirds_written_as_decimals_that_do_not_add_up_are_refused():
    arms = "".join(f"    - name: v{i}\n      share: 33.33%\n" for i in range(3))
    text = BASE[:BASE.index("  arms:")] + "  arms:\n" + arms + "\n" + BASE[BASE.index("tests:"):]
    text = text.replace("    variant: triple-mornings\n", "    variant: v1\n").replace("    variant: control\n",
                                                                                       "    variant: v0\n")
    (error,) = _errors(text)
    assert "99.99%, not 100%" in error.message


def test_a_patch_error_points_into_the_patch_and_names_the_variant():
    text = _with("              multiply: 3", "              multiply: event.amountt * 0 + 3")
    (error,) = _errors(text)
    assert error.code == Code.UNKNOWN_NAME
    assert error.message.startswith("in variant 'triple-mornings': ")
    assert (error.span.line, error.span.column) == (_line_of(text, "amountt"), 31)
    assert error.hint == "did you mean `event.amount`?"


def test_a_patch_may_not_change_the_schema_or_the_clock():
    text = _with("      patch:\n        earning:", "      patch:\n        timezone: UTC\n        earning:")
    (error,) = _errors(text)
    assert error.code == Code.SCHEMA_ERROR and "cannot change timezone" in error.message
    assert error.span.line == _line_of(text, "timezone: UTC")


def test_a_test_pinned_to_an_unknown_variant_and_a_name_used_twice():
    text = _with("    variant: control\n", "    variant: contorl\n").replace("name: triple-mornings",
                                                                              "name: control")
    codes = sorted(e.code for e in _errors(text))
    assert Code.DUPLICATE_ID in codes and Code.UNKNOWN_NAME in codes


def test_a_removed_rule_is_gone_and_what_refers_to_it_is_told(tmp_path):
    text = _with("            - id: coffee-mornings\n              multiply: 3",
                 "            - id: big-basket\n              remove: true")
    checked = check_text(text, "coffee-ab.yaml")
    assert checked.ok
    assert [r.id for r in checked.variants["triple-mornings"].valid_model.earning.rules] == ["coffee-mornings"]


def test_a_new_rule_is_added_with_its_own_positions():
    text = _with("            - id: coffee-mornings\n              multiply: 3",
                 "            - id: tea\n              on: purchase\n              when: event.category == \"tea\"\n"
                 "              bonus: event.nope")
    (error,) = _errors(text)
    assert error.span.line == _line_of(text, "event.nope") and "variant 'triple-mornings'" in error.message


def test_a_variant_by_file_runs_a_whole_candidate_version(tmp_path):
    (tmp_path / "changes").mkdir()
    candidate = BASE[:BASE.index("variants:")].replace("version: 1.0.0", "version: 2.0.0").replace(
        "      bonus: 50", "      bonus: 80")
    (tmp_path / "changes/v2.yaml").write_text(candidate, encoding="utf-8")
    main = _with("      patch:\n        earning:\n          rules:\n            - id: coffee-mornings\n"
                 "              multiply: 3\n", "      file: changes/v2.yaml\n")
    main = main[:main.index("tests:")]
    (tmp_path / "ab.yaml").write_text(main, encoding="utf-8")
    checked = check_path(tmp_path / "ab.yaml")
    assert checked.ok, checked.errors
    assert checked.variants["triple-mornings"].valid_model.version == "2.0.0"
    (tmp_path / "changes/v2.yaml").write_text(candidate.replace("timezone: Europe/Moscow", "timezone: UTC"))
    (error,) = check_path(tmp_path / "ab.yaml").errors
    assert "a different timezone" in error.message and error.span.line == _line_of(main, "file: changes")
    (tmp_path / "changes/v2.yaml").unlink()
    (error,) = check_path(tmp_path / "ab.yaml").errors
    assert error.code == Code.NOT_FOUND and error.span.file == str(tmp_path / "ab.yaml")


_VALUE = st.one_of(st.integers(-5, 5), st.text("abc", max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), _VALUE, max_size=3),
       st.dictionaries(st.sampled_from(["b", "c", "d"]), _VALUE, max_size=3))
def test_a_patch_sets_its_keys_and_keeps_the_rest(base, patch):
    from punchcard.dsl.sourcemap import SourceMap
    from punchcard.dsl.variants import apply_patch

    merged = {k: v for k, v in base.items()}
    apply_patch(merged, patch, (), SourceMap("f", ""), SourceMap("f", ""), ("p",))
    assert merged == {**base, **patch}


def test_the_schema_file_accepts_the_bundled_ruleset():
    import json

    import jsonschema

    schema = json.loads((ROOT / "docs/ruleset.schema.json").read_text(encoding="utf-8"))
    from punchcard.dsl.yamlsrc import load_yaml

    document = json.loads(json.dumps(load_yaml(BASE, "coffee-ab.yaml").data, default=str))
    jsonschema.validate(document, schema)
