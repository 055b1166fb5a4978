"""``punchcard check`` and ``punchcard schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout
from punchcard.discovery import find_rulesets

__all__ = ["check", "schema"]


@app.command()
def check(
    paths: List[Path] = typer.Argument(..., help="Ruleset files, ruleset folders, or folders of rulesets."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Load, parse and type-check rulesets. Exit 0 when clean, 1 when any has errors."""
    from punchcard.api import check_many
    from punchcard.plugins.manager import PluginError

    try:
        results = check_many(find_rulesets(paths))
    except PluginError as exc:  # a broken plugin is the set-up's problem, not the ruleset's
        stderr.print(f"plugin error: {exc}")
        raise typer.Exit(2)
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.diagnostics) - len(r.errors) for r in results)
    if format is OutputFormat.json:
        stdout.print_json(json.dumps([d.to_json() for r in results for d in r.diagnostics]))
    else:
        from punchcard.dsl.errors import render

        for result in results:
            for diag in result.diagnostics:
                stdout.out(render(diag, result.sources))
        summary = f"checked {len(results)} ruleset{'s' * (len(results) != 1)}: {errors} error{'s' * (errors != 1)}, " \
                  f"{warnings} warning{'s' * (warnings != 1)}"
        stderr.print(summary, style="red" if errors else "green")
    raise typer.Exit(1 if errors else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of ruleset documents, for editors (yaml-language-server)."""
    from punchcard.api import ruleset_json_schema

    stdout.out(json.dumps(ruleset_json_schema(), indent=2))


