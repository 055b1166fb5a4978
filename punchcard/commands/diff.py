"""``punchcard diff OLD NEW``: what changed between two versions of a ruleset, rule by rule.

Exit codes follow ``diff(1)``: 0 the rulesets are the same, 1 they differ, 2 trouble
(a file that cannot be read, or a ruleset with errors, whose diagnostics go to stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from punchcard.api import plugin_functions
from punchcard.cli import OutputFormat, app, format_option, stderr, stdout
from punchcard.dsl.check import check_path
from punchcard.dsl.diff import diff_rulesets, value_text
from punchcard.dsl.errors import render
from punchcard.engine.runtime.display import shown, shown_lines

__all__ = ["diff", "EXIT_SAME", "EXIT_DIFFERENT", "EXIT_TROUBLE"]

EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2
_MARKS = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
_FORMAT = format_option()


def _checked(path: Path, functions):
    """The checked ruleset, or exit 2 with its diagnostics on stderr."""
    if not path.exists():
        stderr.print(f"error: {shown(path)}: no such file or folder", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_TROUBLE)
    checked = check_path(path, functions)
    if not checked.ok:
        for diag in checked.errors or checked.diagnostics:
            stderr.out(shown_lines(render(diag, checked.sources)))
        raise typer.Exit(EXIT_TROUBLE)
    return checked


def _print_text(result) -> None:
    summary = ", ".join(f"{result.count(kind)} {kind}" for kind in _MARKS)
    stdout.print(Text(f"{result.old} → {result.new}: {summary}"), soft_wrap=True)
    for unit in result.changes:
        mark, style = _MARKS[unit.change]
        stdout.print(Text(f"{mark} {shown(unit.label)}", style=style), soft_wrap=True)
        for field in unit.fields:
            if unit.change == "changed":
                line = f"    {field.field}: {value_text(field.old)} → {value_text(field.new)}"
            else:
                line = f"    {field.field}: {value_text(field.new if unit.change == 'added' else field.old)}"
            stdout.print(Text(shown(line)), soft_wrap=True)


@app.command()
def diff(
    old: Path = typer.Argument(..., metavar="OLD", help="The ruleset as it is (a file or a ruleset folder)."),
    new: Path = typer.Argument(..., metavar="NEW", help="The ruleset as proposed."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Compare two versions of a ruleset rule by rule: added, removed, and changed with each field's old and new
    value. Exit 0 when they are the same, 1 when they differ, 2 on trouble (as diff does)."""
    functions = plugin_functions()
    result = diff_rulesets(_checked(old, functions), _checked(new, functions))
    if format is OutputFormat.json:
        stdout.out(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_text(result)
    raise typer.Exit(EXIT_SAME if result.empty else EXIT_DIFFERENT)
