"""``punchcard plugins``: what is loaded, and from where."""

from __future__ import annotations

import json

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout
from punchcard.engine.runtime.display import shown, shown_lines

__all__ = ["plugins"]


@app.command()
def plugins(
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """List loaded plugins: name, kind (builtin, entrypoint, local), where from, and their hooks."""
    from punchcard.plugins.manager import PluginError, get_plugin_manager

    try:
        infos = get_plugin_manager().describe()
    except PluginError as exc:
        stderr.print(f"error: {shown_lines(exc)}", style="red", markup=False)
        raise typer.Exit(1) from None
    if format is OutputFormat.json:
        stdout.out(json.dumps([info.to_json() for info in infos], indent=2))
        return
    # Names and places come from installed packages and local plugin files: shown() escapes them.
    width = max((len(shown(info.name)) for info in infos), default=0)
    for info in infos:
        stdout.out(f"{shown(info.name).ljust(width)}  {info.kind.ljust(10)}  {shown(info.where)}")
        stdout.out(f"{' ' * width}  hooks: {', '.join(shown(h) for h in info.hooks) or '(none)'}")
    stderr.print(f"{len(infos)} plugin{'s' * (len(infos) != 1)} loaded")
