"""``punchcard check`` and ``punchcard schema``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout
from punchcard.discovery import EXIT_NOTHING_TO_DO, find_rulesets, none_found
from punchcard.engine.runtime.display import shown, shown_lines

__all__ = ["check", "schema", "rulesets_or_exit"]


@app.command()
def check(
    paths: list[Path] = typer.Argument(..., metavar="RULESET...", help="Ruleset files, ruleset folders, or folders "
                                                                       "of rulesets."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Load, parse and type-check rulesets, in every sub-folder too. Exit 0 when clean, 1 when any
    has errors, 5 when the paths hold no ruleset."""
    from punchcard.api import check_many
    from punchcard.plugins.manager import PluginError

    found = rulesets_or_exit(paths, format)
    try:
        results = check_many(found)
    except PluginError as exc:  # a broken plugin is the set-up's problem, not the ruleset's
        stderr.print(f"plugin error: {shown_lines(exc)}", markup=False)
        raise typer.Exit(2) from None
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.diagnostics) - len(r.errors) for r in results)
    if format is OutputFormat.json:
        stdout.print_json(json.dumps([d.to_json() for r in results for d in r.diagnostics]))
    else:
        from punchcard.dsl.errors import render

        for result in results:
            for diag in result.diagnostics:
                stdout.out(shown_lines(render(diag, result.sources)))
        summary = f"checked {len(results)} ruleset{'s' * (len(results) != 1)}: {errors} error{'s' * (errors != 1)}, " \
                  f"{warnings} warning{'s' * (warnings != 1)}"
        stderr.print(summary, style="red" if errors else "green")
    raise typer.Exit(1 if errors else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of ruleset documents, for editors (yaml-language-server)."""
    from punchcard.api import ruleset_json_schema

    stdout.out(json.dumps(ruleset_json_schema(), indent=2))


def rulesets_or_exit(paths: list[Path], format: OutputFormat) -> list[Path]:
    """Every ruleset under ``paths``; none at all ends the command with exit 5, as pytest
    does when it collects nothing (still printing an empty list for ``--format json``)."""
    found = find_rulesets(paths)
    if not found:
        stderr.print(shown(none_found(paths)), markup=False, soft_wrap=True)
        if format is OutputFormat.json:
            stdout.out("[]")  # still a list, for whatever parses the output
        raise typer.Exit(EXIT_NOTHING_TO_DO)
    return found
