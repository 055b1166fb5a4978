"""The ``punchcard`` command line (typer). Results go to stdout, logs to stderr.

Exit codes: 0 success, 1 the work found problems (errors, failed tests, rejected
events with --strict), 2 a usage error (bad options, unreadable input).
"""

from __future__ import annotations

import sys
from enum import Enum

import typer
from rich.console import Console

__all__ = ["app", "main", "OutputFormat", "stdout", "stderr"]

app = typer.Typer(
    name="punchcard",
    help="Loyalty programs whose rules are data: check, test, explain and dry-run rulesets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide when piped, so trees and tables are not cut for machines and files.
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


# Each module under punchcard/commands registers its commands on ``app`` when imported.
_COMMAND_MODULES = [
    "punchcard.commands.check",
    "punchcard.commands.dryrun",
    "punchcard.commands.engine",
    "punchcard.commands.plugins",
    "punchcard.commands.store",
]


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:  # pragma: no cover - the console script calls app directly
    app()


_register_commands()
