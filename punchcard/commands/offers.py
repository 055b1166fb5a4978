"""``punchcard offers RULESET --store URL --member ID [--at TIME]``: the offers the ruleset would
choose for a member, ranked, with why every other candidate was dropped or outranked
(docs/offers.md). A read: nothing is selected or stored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from punchcard.api import compile as compile_ruleset
from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.dsl.errors import PunchcardError, render
from punchcard.engine.engine import Engine
from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.display import shown, shown_lines
from punchcard.engine.store import StoreError

from .store_access import fail, open_store, setup_logging

__all__ = ["offers"]

_FORMAT = format_option()  # made once: typer reads it for each call


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date or time such as 2026-03-02T08:00:00",
                                 param_hint="'--at'") from None


def _compiled(ruleset: Path):
    try:
        return compile_ruleset(ruleset)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(shown_lines(render(diag, getattr(exc, "sources", None) or {})))  # as check prints them
        raise typer.Exit(1) from None
    except OSError as exc:
        raise fail(f"cannot read {ruleset}: {exc}") from None


@app.command()
def offers(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset file or folder whose offers: to use."),
    store: str = store_option(),
    member: str = typer.Option(..., "--member", metavar="ID", help="The member to choose offers for."),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help="Choose as of this time (default: now); "
                                  "a time without an offset is in the ruleset's timezone."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Print the offers the ruleset would choose for a member, ranked, and every other candidate
    with the step it reached and why. Exit 1 when the ruleset has errors or no offers: section,
    2 on a usage or store error."""
    setup_logging()
    moment = _moment(at)
    compiled = _compiled(ruleset)
    if compiled.model.offers is None:
        raise fail(f"{ruleset} has no offers: section", 1)
    target = open_store(store, create=False)
    try:
        candidates = Engine(compiled, target).offers(member, moment)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    view = to_jsonable({"member": member, "ruleset": compiled.label, "candidates": [c.to_dict() for c in candidates]})
    if format is OutputFormat.json:
        stdout.out(json.dumps(view, indent=2, ensure_ascii=False), highlight=False)
        return
    _print(view)


def _print(view: dict) -> None:
    kept = [c for c in view["candidates"] if c["kept"]]
    stdout.out(f"offers for {shown(view['member'])} ({shown(view['ruleset'])}): {len(kept)} chosen")
    for c in view["candidates"]:
        mark = "+" if c["kept"] else "-"
        rank = f"  rank {c['rank']}" if "rank" in c else ""
        stdout.out(f"  {mark} {shown(c['template'])} ({c['type']}){rank}  [{c['step']}] {shown(c['reason'])}")
