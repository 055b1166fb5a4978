"""Golden bad rulesets: each makes exactly one diagnostic, at the right place.

``bad_rulesets/CODE.yaml`` (or ``CODE--variant.yaml``, or a folder ``CODE--variant/``
with a ``ruleset.yaml``) must produce one diagnostic with code ``CODE``; for
``not_found`` only the golden ``not_found--NAME.expected`` exists, NAME being a path
that is not there. The expected
output, ``NAME.expected``, is the exact stdout of ``punchcard check --format json NAME``
run inside ``bad_rulesets/``. To regenerate the goldens after an intended change::

    PUNCHCARD_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/dsl/test_bad_rulesets.py

and review the diff. Without the variable the tests only compare.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.dsl.errors import Code

BAD = Path(__file__).parent / "bad_rulesets"
UPDATE = os.environ.get("PUNCHCARD_UPDATE_GOLDEN") == "1"
# Raised while events run, never by `punchcard check`.
ENGINE_ONLY = {Code.EVENT_ERROR, Code.CONFLICT}
WARNINGS = {Code.NEVER_FIRES, Code.UNUSED_LET}


def cases() -> list[str]:
    files = [p.name for p in BAD.glob("*.yaml")]
    folders = [p.name for p in BAD.iterdir() if (p / "ruleset.yaml").is_file()]
    # a path that is not there: only its golden exists
    missing = [p.stem for p in BAD.glob(f"{Code.NOT_FOUND.value}--*.expected")]
    return sorted(files + folders + missing)


def golden_path(case: str) -> Path:
    return BAD / (case.removesuffix(".yaml") + ".expected")


def code_of(case: str) -> str:
    return case.removesuffix(".yaml").split("--")[0]


def run_check(case: str, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(BAD)  # file names in the output stay relative and stable
    result = CliRunner().invoke(app, ["check", "--format", "json", case])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("case", cases())
def test_output_matches_the_golden(case, monkeypatch):
    _, output = run_check(case, monkeypatch)
    golden = golden_path(case)
    if UPDATE:
        golden.write_text(output, encoding="utf-8")
    assert golden.is_file(), f"{golden.name} is missing; run with PUNCHCARD_UPDATE_GOLDEN=1"
    assert output == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", cases())
def test_exactly_the_named_diagnostic(case, monkeypatch):
    exit_code, output = run_check(case, monkeypatch)
    diagnostics = json.loads(output)
    assert [d["code"] for d in diagnostics] == [code_of(case)]
    expected_severity = "warning" if Code(code_of(case)) in WARNINGS else "error"
    assert diagnostics[0]["severity"] == expected_severity
    assert exit_code == (0 if expected_severity == "warning" else 1)


def test_every_checker_code_has_a_bad_ruleset():
    covered = {code_of(case) for case in cases()}
    assert {c.value for c in Code} - {c.value for c in ENGINE_ONLY} - covered == set()


_TOKEN = re.compile(r"^unexpected (?:character )?'(.+)'$|^((?:event|item)\.\w+) is not (?:a field|available)"
                    r"|^expect names \w+ '([^']+)'")


@pytest.mark.parametrize("case", [c for c in cases() if code_of(c) in ("parse_error", "unknown_name")])
def test_the_column_points_at_the_offending_token(case, monkeypatch):
    _, output = run_check(case, monkeypatch)
    [diagnostic] = json.loads(output)
    match = _TOKEN.match(diagnostic["message"])
    assert match, diagnostic["message"]
    token = match.group(1) or match.group(3) or match.group(2).split(".")[1]  # fields point at the field name
    line = (BAD / diagnostic["file"]).read_text(encoding="utf-8").splitlines()[diagnostic["line"] - 1]
    assert line[diagnostic["column"] - 1:].startswith(token), (line, diagnostic)


def test_each_expression_style_is_covered():
    styles = {case.split("--")[-1].removesuffix(".yaml") for case in cases() if code_of(case) == "parse_error"}
    assert {"plain", "single-quoted", "double-quoted", "block"} <= styles
