"""The ``punchcard`` command line (typer). Results go to stdout, logs to stderr.

Exit codes: 0 success, 1 the work found problems (errors, failed tests, rejected
events with --strict), 2 a usage error (bad options, unreadable input).

Conventions every command follows: a store is named by ``--store URL``; ``--format``
takes ``text`` (people) or ``json`` (machines), ``jsonl`` where there is one document a
line; placeholders in ``--help`` say what is expected (RULESET, FILE, URL, TIME); text
that came from outside is printed through :mod:`punchcard.engine.runtime.display`.
"""

from __future__ import annotations

import inspect
import sys
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console

__all__ = ["app", "main", "OutputFormat", "stdout", "stderr", "store_option", "OLD_STORE_ARGUMENT", "pick_store",
           "format_option"]

app = typer.Typer(
    name="punchcard",
    help="Loyalty programs whose rules are data: check, test, explain and dry-run rulesets.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
# Wide when piped, so trees and tables are not cut for machines and files.
# emoji=False: an id such as ":cat:" from an event is shown as written, never as a picture
stdout = Console(highlight=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, emoji=False)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from punchcard import __version__

        stdout.out(f"punchcard {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """Loyalty programs whose rules are data: check, test, explain and dry-run rulesets."""


# -- shared options --------------------------------------------------------------------
STORE_HELP = "The ledger: sqlite:///points.db, or postgresql://user@host/db."


def store_option(required: bool = True) -> Any:
    """``--store URL``, the one spelling of a store across commands."""
    return typer.Option(... if required else None, "--store", metavar="URL", help=STORE_HELP)


# The context settings of a command that took its store as a positional URL before
# ``--store``: the URL is still read (from the extra arguments), shown neither in help nor usage.
OLD_STORE_ARGUMENT = {"allow_extra_args": True}


def pick_store(option: str | None, extra: list[str]) -> str:
    """The store URL from ``--store``, or from the older positional spelling with a note."""
    if len(extra) > 1 or (option and extra):
        raise typer.BadParameter("give the store once, as --store URL", param_hint="'--store'")
    if extra:
        stderr.print("note: a positional store URL is deprecated; write --store URL", style="yellow",
                     markup=False, soft_wrap=True)
        return extra[0]
    if not option:
        raise typer.BadParameter("a store is needed: --store URL", param_hint="'--store'")
    return option


def format_option(default: str = "text", old_names: dict[str, str] | None = None,
                  help: str = "text for people, json for machines.") -> Any:
    """``--format text|json``; ``old_names`` maps former names (still accepted, with a note)."""
    aliases = old_names or {}

    def parse(value: Any) -> OutputFormat:
        if isinstance(value, OutputFormat):
            return value
        if value in aliases:
            stderr.print(f"note: --format {value} is now --format {aliases[value]}", style="yellow",
                         markup=False, soft_wrap=True)
            value = aliases[value]
        try:
            return OutputFormat(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not one of text, json") from None

    return typer.Option(default, "--format", metavar="text|json", parser=parse, help=help,
                        autocompletion=lambda incomplete: [f.value for f in OutputFormat
                                                           if f.value.startswith(incomplete)])


# Each module under punchcard/commands registers its commands on ``app`` when imported.
_COMMAND_MODULES = [
    "punchcard.commands.ab",
    "punchcard.commands.check",
    "punchcard.commands.diff",
    "punchcard.commands.dryrun",
    "punchcard.commands.engine",
    "punchcard.commands.import_balances",
    "punchcard.commands.message",
    "punchcard.commands.messages",
    "punchcard.commands.model",
    "punchcard.commands.offers",
    "punchcard.commands.plugins",
    "punchcard.commands.process",
    "punchcard.commands.referrals",
    "punchcard.commands.serve",
    "punchcard.commands.store",
    "punchcard.commands.webhooks",
]


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def _reflowed(text: str) -> str:
    """Help text as paragraphs: a docstring's line breaks are where its source was wrapped,
    not where the terminal is, so a line joins the one before it unless it starts a list
    item or is indented (or its paragraph is marked ``\\b``, to be shown as written)."""
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.split("\n")
        kept = lines[:1]
        for line in lines[1:]:
            if paragraph.startswith("\b") or line.startswith((" ", "- ", "* ")):
                kept.append(line)
            else:
                kept[-1] += " " + line
        paragraphs.append("\n".join(kept))
    return "\n\n".join(paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    """Every command's help, here and in the groups below, reflowed (:func:`_reflowed`)."""
    for command in typer_app.registered_commands:
        text = command.help or inspect.getdoc(command.callback)
        if text:
            command.help = _reflowed(text)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


def main() -> None:  # pragma: no cover - the console script calls app directly
    app()


_register_commands()
_reflow_help(app)
