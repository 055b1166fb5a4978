"""``punchcard import-balances``: a legacy program's balances into a store, each lot with its
original dates, each exactly once (docs/operations.md).

Each row of the file is one legacy lot: ``member``, ``points``, ``earned_at`` and optionally
``expires_at``, ``pending_until``, ``source`` and ``id`` (the legacy lot's own id). It
becomes one built-in ``import`` event at the cut-over instant ``--at``, processed through the
engine like any event: a lot imported before (the same id and the same row) is skipped, so
a failed migration is finished by running the same file again.

Exit codes: 0 every lot imported or already imported; 1 some lots were refused or rows
could not be read (the rest were imported); 2 a usage problem (a missing file, a bad
ruleset, store or time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.engine.dryrun import InputError
from punchcard.engine.dryrun.formats import read_rows
from punchcard.engine.runtime.display import shown
from punchcard.engine.store import StoreError

from .process import _compile, _count_lines, _engine_for
from .store_access import fail, open_store, setup_logging

__all__ = ["import_balances", "Tally", "import_events"]

_COLUMNS = ("member", "points", "earned_at", "expires_at", "pending_until", "source", "id")
_OPTIONAL = ("expires_at", "pending_until", "source")
_SHOWN_REASONS = 10  # reasons the text summary names
_FORMAT_OPTION = format_option()  # made once: typer reads it for the command


@dataclass
class Tally:
    """What the import did: lots imported (and their points), skipped, refused by reason."""

    imported: int = 0
    points: Decimal = Decimal(0)
    skipped: int = 0
    refused: Counter = field(default_factory=Counter)
    bad_rows: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "points": str(self.points), "skipped_already_imported": self.skipped,
                "refused": sum(self.refused.values()), "refused_by_reason": dict(self.refused.most_common()),
                "bad_rows": sum(self.bad_rows.values()), "bad_rows_by_reason": dict(self.bad_rows.most_common())}


def _text(value: Any) -> str | None:
    """A cell as text; an empty CSV cell is no value."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _event_id(row: dict, seen: Counter) -> str:
    """The row's own ``id``, else one made from what it says: the same on every run of the same
    file whatever its order, and distinct for two identical lots of one member (their count)."""
    given = _text(row.get("id"))
    if given is not None:
        return given
    key = "|".join(str(_text(row.get(name)) or "") for name in _COLUMNS[:5])
    seen[key] += 1
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"import:{digest}:{seen[key]}"


def _event(row: dict, at: str, seen: Counter) -> dict[str, Any] | str:
    """The ``import`` event of one row, or what is wrong with the row."""
    unknown = sorted(set(row) - set(_COLUMNS))
    if unknown:
        return f"unknown column {unknown[0]} (columns are {', '.join(_COLUMNS)})"
    member, points, earned_at = (_text(row.get(name)) for name in ("member", "points", "earned_at"))
    if member is None or points is None or earned_at is None:
        return "a row needs member, points and earned_at"
    event: dict[str, Any] = {"type": "import", "id": _event_id(row, seen), "member": member, "time": at,
                             "points": points, "earned_at": earned_at}
    for name in _OPTIONAL:
        value = _text(row.get(name))
        if value is not None:
            event[name] = value
    return event


def import_events(path: Path, at: str, tally: Tally) -> Iterator[dict[str, Any]]:
    """Each readable row's event; a row that cannot be read is counted in ``tally.bad_rows``."""
    seen: Counter = Counter()
    for _line, row in read_rows(path):
        event = _event(row, at, seen) if isinstance(row, dict) else row.group or row.reason
        if isinstance(event, str):
            tally.bad_rows[event] += 1
        else:
            yield event


def _progress() -> Progress:
    return Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=stderr, transient=True, disable=not stderr.is_terminal)


def _count(tally: Tally, decision) -> None:
    if decision.outcome == "applied":
        tally.imported += 1
        tally.points += decision.points
    elif decision.outcome == "duplicate" and any(effect.kind == "earn" for effect in decision.effects):
        tally.skipped += 1  # the original decision imported it
    elif decision.outcome == "duplicate":  # the store keeps refusals too: the same row was refused before
        tally.refused["refused when this lot was first imported (the same row again)"] += 1
    else:
        tally.refused[decision.reason or decision.outcome] += 1


def _run(engine, events: Iterator[dict[str, Any]], tally: Tally, total: int | None) -> None:
    with _progress() as bar:
        task = bar.add_task("lots", total=total)
        for event in events:
            _count(tally, engine.process(event))
            bar.advance(task)


def _summary(tally: Tally, format: OutputFormat) -> None:
    if format is OutputFormat.json:
        stdout.out(json.dumps(tally.to_json(), ensure_ascii=False, indent=2), highlight=False)
        return
    stdout.out(f"imported {tally.imported} lots ({tally.points} points); skipped {tally.skipped} already "
               f"imported; refused {sum(tally.refused.values())}; {sum(tally.bad_rows.values())} bad rows",
               highlight=False)
    for title, reasons in (("refused", tally.refused), ("bad rows", tally.bad_rows)):
        for reason, count in reasons.most_common(_SHOWN_REASONS):
            stdout.out(f"  {title}: {count} x {shown(reason)}", highlight=False)


def _cut_over(at: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        raise fail(f"--at {at!r} is not an ISO time such as 2026-03-01T00:00:00+00:00") from None
    return moment.isoformat()


@app.command("import-balances")
def import_balances(
    file: Path = typer.Argument(..., metavar="FILE", help="The legacy lots: CSV or JSON Lines (.gz allowed), "
                                                          "one lot a row; - for stdin."),
    ruleset: Path = typer.Option(..., "--ruleset", metavar="RULESET", help="The ruleset the store runs."),
    store: str = store_option(),
    at: str = typer.Option(..., "--at", metavar="TIME", help="The cut-over instant every lot is imported at "
                                                              "(keep it for a re-run: each lot is applied once)."),
    format: OutputFormat = _FORMAT_OPTION,
) -> None:
    """Import a legacy program's balances, each lot with its original earn date and expiry.

    Columns: member, points, earned_at, and optionally expires_at, pending_until, source and id.
    A lot already imported is skipped; one already expired at --at is refused."""
    setup_logging()
    if str(file) != "-" and not file.is_file():
        raise fail(f"no such file: {file}")
    compiled, time = _compile(ruleset), _cut_over(at)
    target = open_store(store)
    tally = Tally()
    try:
        _run(_engine_for(compiled, target, False), import_events(file, time, tally), tally, _count_lines(file))
    except InputError as exc:
        raise fail(str(exc)) from None
    except StoreError as exc:
        raise fail(f"{exc}\nstopped: the store failed; run the same file again to finish (each lot is "
                   "applied once)") from None
    finally:
        target.close()
    _summary(tally, format)
    raise typer.Exit(1 if tally.refused or tally.bad_rows else 0)
