"""``punchcard process``: running events into a durable store, each exactly once. Events are
read as ``dry-run`` reads them; bad rows are reported and counted, and the rest go on."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer

from punchcard.cli import app, stderr, stdout, store_option
from punchcard.engine.runtime.display import shown, shown_lines

from .referrals import settle_inline
from .store_access import fail, open_store, setup_logging

__all__ = ["process", "read_events", "ProcessFormat"]

REFUSED = ("rejected", "blocked")


class ProcessFormat(StrEnum):
    text = "text"
    jsonl = "jsonl"


# -- reading events --------------------------------------------------------------------
def read_events(path: Path, compiled, bad) -> Iterator[dict]:
    """Events read as ``dry-run`` reads them: JSON Lines, CSV or Parquet, gzip, ``-`` for
    standard input. A row the dry-run calls bad (unreadable, or refused by the ruleset's event
    schema) is counted into ``bad`` exactly as the dry-run counts it (a ``BadRows``: grouped by
    reason, with an example each) and left out; the rest go on."""
    from punchcard.engine.dryrun.rows import accepted_rows

    return (row for _line, row in accepted_rows(path, compiled, bad))


def _count_lines(path: Path) -> int | None:
    """Rows to expect, for the progress bar: known for plain JSON Lines and CSV files only."""
    from punchcard.engine.dryrun.formats import InputError, detect, is_stdin

    try:
        if is_stdin(path) or detect(path) not in (("jsonl", False), ("csv", False)):
            return None
    except InputError:
        return None
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if detect(path)[0] == "csv" else lines


def _chunks(events: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _compile(ruleset: Path):
    import punchcard
    from punchcard.dsl.errors import PunchcardError, render

    try:
        return punchcard.compile(ruleset)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(shown_lines(render(diag, getattr(exc, "sources", None) or {})))
        raise fail(f"{ruleset} has errors; nothing was processed") from None
    except OSError as exc:
        raise fail(f"cannot read {ruleset}: {exc}") from None


# -- punchcard process -----------------------------------------------------------------
def _line(decision) -> str:
    points = decision.points
    text = f"{shown(decision.event_id)}  {shown(decision.member_id)}  {decision.outcome}  " \
           f"{'+' if points > 0 else ''}{points}  balance {decision.balance}"
    return f"{text}  {shown(decision.reason)}" if decision.reason and decision.outcome != "applied" else text


def _emit(decision, format: ProcessFormat) -> None:
    if format is ProcessFormat.jsonl:
        stdout.out(json.dumps(decision.to_dict(), ensure_ascii=False, separators=(",", ":")), highlight=False)
    else:
        stdout.out(_line(decision), highlight=False)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("processing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=stderr, transient=True, disable=not stderr.is_terminal)


def _run(engine, events: Iterator[dict], batch: int, format: ProcessFormat, total: int | None) -> Counter:
    outcomes: Counter = Counter()
    with _progress() as bar:
        task = bar.add_task("events", total=total)
        for chunk in _chunks(events, batch):
            decisions = engine.process_many(chunk) if batch > 1 else [engine.process(e) for e in chunk]
            for decision in decisions + settle_inline(engine):  # the referrers' side of friends just decided
                _emit(decision, format)
                outcomes[decision.outcome] += 1
            bar.advance(task, len(chunk))
    return outcomes


@app.command()
def process(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset file or folder to evaluate events with."),
    store: str = store_option(),
    events: Path = typer.Option(..., "--events", metavar="FILE", help="JSON Lines, CSV or Parquet, .gz read as gzip "
                                                                      "(as dry-run reads them); - for stdin."),
    format: ProcessFormat = typer.Option(ProcessFormat.text, "--format",
                                         help="text, or jsonl: one decision JSON a line."),
    batch: int = typer.Option(1000, "--batch", min=1, help="Events per transaction (1: one transaction per event)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any event was rejected or blocked too."),
    trace: bool = typer.Option(False, "--trace", help="Keep each decision's explanation (its trace) with it, "
                                                      "in the output and the store."),
) -> None:
    """Run events through a ruleset into a store, each exactly once.

    A row dry-run calls bad (unreadable, or refused by the ruleset's event schema) is left
    out, reported and counted by reason as dry-run does, and the rest go on; exit 1.

    A replayed file, or several processes on one store, applies each event once and
    reports the rest as duplicates."""
    setup_logging()
    if str(events) != "-" and not events.is_file():
        raise fail(f"no such events file: {events}")
    compiled, target = _compile(ruleset), open_store(store)
    if hasattr(target, "batch_size"):
        target.batch_size = batch
    from punchcard.engine.dryrun import InputError
    from punchcard.engine.dryrun.partial import BadRows
    from punchcard.engine.store import StoreError

    bad = BadRows()
    try:
        outcomes = _run(_engine_for(compiled, target, trace), read_events(events, compiled, bad), batch, format,
                        _count_lines(events))
    except InputError as exc:  # the input as a whole: missing, unknown format, no CSV header
        raise fail(str(exc)) from None
    except StoreError as exc:  # the event in hand and those after it were not stored
        raise fail(f"{exc}\nstopped: the store failed, and no later event was processed; the decisions "
                    "printed are stored. Fix the store and run the same events again: each is applied once, "
                    "in order") from None
    finally:
        target.close()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "no events"
    # beside one decision a line, the summary closes the result; beside JSON Lines its last line says it
    (stdout if format.value == "text" else stderr).print(f"processed {sum(outcomes.values())} events: {summary}",
                                                         markup=False, soft_wrap=True)
    _report_bad_rows(bad, outcomes, format.value != "text")
    raise typer.Exit(1 if bad.count or (strict and sum(outcomes[o] for o in REFUSED)) else 0)


def _report_bad_rows(bad, outcomes: Counter, as_json: bool) -> None:
    """Rows left out because they could not be read, grouped by reason with the first of each
    group (stderr); in JSON, a last line ``{"summary": ...}`` says the same for machines."""
    groups = bad.groups()
    if bad.count:
        stderr.print(f"{bad.count} bad row{'s' * (bad.count != 1)} left out:", style="red", markup=False)
    for group in groups:
        example = group["example"]
        stderr.print(f"  {group['rows']} x {shown(group['reason'])} (first: {shown(group['file'])} line "
                     f"{example['line']}: {shown(example['reason'])})", markup=False, soft_wrap=True)
    if as_json:
        summary = {"events": sum(outcomes.values()), "outcomes": dict(sorted(outcomes.items())),
                   "bad_rows": bad.count, "bad_rows_by_reason": groups}
        stdout.out(json.dumps({"summary": summary}, ensure_ascii=False, separators=(",", ":")), highlight=False)


def _engine_for(compiled, store, trace: bool):
    from punchcard.api import Engine  # the installed plugins hear of each decision

    return Engine(compiled, store=store, trace=trace)
