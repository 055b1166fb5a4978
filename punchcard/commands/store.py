"""``punchcard process``, ``punchcard member``, ``punchcard audit`` and ``punchcard db``:
running events into a durable store, and looking inside it."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Iterator, Optional

import typer

from punchcard.cli import OLD_STORE_ARGUMENT, OutputFormat, app, pick_store, stderr, stdout, store_option
from punchcard.display import shown, shown_lines

__all__ = ["process", "member", "audit", "db_upgrade", "db_current", "read_events"]

log = logging.getLogger("punchcard.cli")

db_app = typer.Typer(help="The ledger database's schema (alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

REFUSED = ("rejected", "blocked")


class ProcessFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=os.environ.get("PUNCHCARD_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")


def _fail(message: str, code: int = 2) -> typer.Exit:
    stderr.print(f"error: {shown_lines(message)}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


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


# -- opening things --------------------------------------------------------------------
def _shown_url(url: str) -> str:
    """A store URL as it may be printed: passwords hidden, wherever they are in it."""
    from punchcard.plugins.sql.urls import redact

    return shown(redact(url))


def _open_store(url: str, create: bool = True):
    """The store at ``url``; ``create=False`` (reading commands): a SQLite file that does
    not exist is an error, not a new empty ledger. Any failure exits 2."""
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is not None:
        return _open_sql(url, create)
    from punchcard.plugins.manager import get_plugin_manager

    try:
        return get_plugin_manager().open_store(url)
    except Exception as exc:  # unknown URL, unreachable server, schema not migrated
        raise _fail(str(exc))


def _open_sql(url: str, create: bool = False):
    from punchcard.engine.store import StoreError
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is None:
        raise _fail(f"'{_shown_url(url)}' is not a SQL ledger URL (sqlite:///file.db or postgresql://...)")
    from punchcard.plugins.sql.store import SqlStore

    try:
        return SqlStore(url, create=create)
    except (StoreError, ValueError) as exc:  # missing, corrupt, unreachable, schema not migrated
        raise _fail(str(exc))


def _compile(ruleset: Path):
    import punchcard
    from punchcard.dsl.errors import PunchcardError, render

    try:
        return punchcard.compile(ruleset)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(shown_lines(render(diag, getattr(exc, "sources", None) or {})))
        raise _fail(f"{ruleset} has errors; nothing was processed")
    except OSError as exc:
        raise _fail(f"cannot read {ruleset}: {exc}")


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
            for decision in decisions:
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
    format: ProcessFormat = typer.Option(ProcessFormat.text, "--format", help="text, or jsonl: one decision JSON a line."),
    batch: int = typer.Option(1000, "--batch", min=1, help="Events per transaction (1: one transaction per event)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any event was rejected or blocked too."),
) -> None:
    """Run events through a ruleset into a store, each exactly once.

    A row dry-run calls bad (unreadable, or refused by the ruleset's event schema) is left
    out, reported and counted by reason as dry-run does, and the rest go on; exit 1.

    A replayed file, or several processes on one store, applies each event once and
    reports the rest as duplicates."""
    _logging()
    if str(events) != "-" and not events.is_file():
        raise _fail(f"no such events file: {events}")
    compiled, target = _compile(ruleset), _open_store(store)
    if hasattr(target, "batch_size"):
        target.batch_size = batch
    from punchcard.engine.dryrun import InputError
    from punchcard.engine.dryrun.partial import BadRows
    from punchcard.engine.store import StoreError

    bad = BadRows()
    try:
        outcomes = _run(_engine_for(compiled, target), read_events(events, compiled, bad), batch, format,
                        _count_lines(events))
    except InputError as exc:  # the input as a whole: missing, unknown format, no CSV header
        raise _fail(str(exc))
    except StoreError as exc:  # the event in hand and those after it were not stored
        raise _fail(f"{exc}\nstopped: the store failed, and no later event was processed; the decisions "
                    "printed are stored. Fix the store and run the same events again: each is applied once, "
                    "in order")
    finally:
        target.close()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "no events"
    stderr.print(f"processed {sum(outcomes.values())} events: {summary}", markup=False, soft_wrap=True)
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


def _engine_for(compiled, store):
    from punchcard.engine import Engine

    return Engine(compiled, store=store)


# -- punchcard member ------------------------------------------------------------------
def _lot_json(lot) -> dict:
    return {"id": lot.id, "source": lot.source, "amount": lot.amount, "remaining": lot.remaining,
            "earned_at": lot.earned_at, "pending_until": lot.pending_until, "expires_at": lot.expires_at,
            "hold": lot.hold}


def member_view(state, decisions) -> dict:
    """What ``punchcard member`` shows, as of the member's last processed event."""
    from punchcard.engine.decision import to_jsonable

    now = state.clock or state.joined
    view = {
        "member": state.member_id, "as_of": now, "balance": state.available(now) if now else state.total(),
        "pending": state.pending(now) if now else Decimal(0), "total": state.total(), "negative_balance": state.debt,
        "lots": [_lot_json(lot) for lot in state.lots if lot.remaining or lot.hold], "tier": state.tier.level,
        "streaks": {k: {"length": s.length, "best": s.best, "freezes_left": s.freezes_left}
                    for k, s in state.streaks.items()},
        "badges": sorted(state.badges), "totals": state.totals,
        "recent": [{"event_id": d.event_id, "type": d.event_type, "outcome": d.outcome, "points": d.points,
                    "time": d.time, "reason": d.reason} for d in decisions],
    }
    return to_jsonable(view)


def _print_member(view: dict) -> None:
    # Ids, sources, reasons and names come from events and rulesets: shown() escapes them.
    stdout.out(f"member {shown(view['member'])} (as of {view['as_of']})")
    stdout.out(f"  balance {view['balance']}  pending {view['pending']}  negative balance "
               f"{view['negative_balance']}  tier {shown(view['tier'] or '-')}")
    for lot in view["lots"]:
        stdout.out(f"  lot {shown(lot['id'])}: {lot['remaining']} of {lot['amount']} ({shown(lot['source'])})"
                   f"{'  pending until ' + lot['pending_until'] if lot['pending_until'] else ''}"
                   f"{'  expires ' + lot['expires_at'] if lot['expires_at'] else ''}"
                   f"{'  held for ' + shown(lot['hold']) if lot['hold'] else ''}")
    for name, streak in view["streaks"].items():
        stdout.out(f"  streak {shown(name)}: {streak['length']} (best {streak['best']})")
    if view["badges"]:
        stdout.out(f"  badges: {', '.join(shown(b) for b in view['badges'])}")
    for d in view["recent"]:
        stdout.out(f"  {d['time']}  {shown(d['event_id'])}  {shown(d['type'])}  {d['outcome']}  {d['points']}"
                   f"{'  ' + shown(d['reason']) if d['reason'] and d['outcome'] != 'applied' else ''}")


@app.command()
def member(
    member_id: str = typer.Argument(..., metavar="ID", help="The member id."),
    store: str = store_option(),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
    recent: int = typer.Option(10, "--recent", min=0, help="How many recent decisions to show."),
) -> None:
    """Show a member: balance, pending points, lots, tier, streaks, badges, recent decisions.

    Lots show their pending-until and expiry times. Exit 1 when the store has no such member."""
    _logging()
    from punchcard.engine.store import StoreError

    target = _open_store(store, create=False)
    try:
        state, decisions = target.member(member_id), target.decisions(member_id, recent)
    except StoreError as exc:
        raise _fail(str(exc))
    finally:
        target.close()
    if state is None:
        raise _fail(f"no member '{shown(member_id)}' in {_shown_url(store)}", 1)
    view = member_view(state, decisions)
    if format is OutputFormat.json:
        stdout.out(json.dumps(view, indent=2, ensure_ascii=False), highlight=False)
    else:
        _print_member(view)


# -- punchcard audit -------------------------------------------------------------------
@app.command(context_settings=OLD_STORE_ARGUMENT)
def audit(
    ctx: typer.Context,
    store: Optional[str] = store_option(required=False),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Check every balance against the append-only ledger; exit 1 on any difference.

    For every member: balance == sum of ledger entries == live lots less negative
    balance; every lot's amount accounted for; budgets == their uses. Each difference
    is printed."""
    _logging()
    from punchcard.engine.store import StoreError

    target = _open_sql(pick_store(store, ctx.args))
    try:
        report = target.audit()
    except StoreError as exc:
        raise _fail(str(exc))
    finally:
        target.close()
    if format is OutputFormat.json:
        stdout.out(json.dumps(report.to_json(), indent=2, ensure_ascii=False), highlight=False)
    else:
        for difference in report.differences:
            stdout.out(shown(difference), highlight=False)
    verdict = "no differences" if report.ok else f"{len(report.differences)} differences"
    stderr.print(f"audited {report.members} members, {report.entries} ledger entries, {report.lots} lots: "
                 f"{verdict}", style="green" if report.ok else "red", markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


# -- punchcard db ----------------------------------------------------------------------
def _engine(url: str):
    from punchcard.plugins.sql.connect import create_sql_engine
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is None:
        raise _fail(f"'{_shown_url(url)}' is not a SQL ledger URL (sqlite:///file.db or postgresql://...)")
    return create_sql_engine(url)


def _refuse_missing_file(engine, url: str) -> None:
    """Reading a SQLite ledger that is not there must not create an empty one."""
    from punchcard.engine.store import StoreError

    if engine.dialect.name == "sqlite" and not os.path.exists(engine.url.database):
        raise StoreError(f"no ledger at {_shown_url(url)}: {engine.url.database} does not exist")


def _db_failure(exc: Exception) -> str:
    """What went wrong, in the database's words but without SQL or its parameters."""
    from punchcard.engine.store import StoreError
    from punchcard.plugins.sql.errors import describe, driver_errors

    if isinstance(exc, StoreError) or not isinstance(exc, driver_errors()):
        return str(exc)
    return describe(exc)


@db_app.command("upgrade", context_settings=OLD_STORE_ARGUMENT)
def db_upgrade(
    ctx: typer.Context,
    store: Optional[str] = store_option(required=False),
    revision: str = typer.Option("head", "--to", metavar="REVISION", help="Target revision."),
) -> None:
    """Create or upgrade the ledger schema (alembic migrations, in one transaction)."""
    _logging()
    from punchcard.plugins.sql import migrate
    from punchcard.plugins.sql.urls import redact

    url = pick_store(store, ctx.args)
    engine = _engine(url)
    try:
        before, after = migrate.upgrade(engine, revision, redact(url))
    except Exception as exc:  # exit 2, as every store failure
        raise _fail(f"upgrade failed, nothing changed: {_db_failure(exc)}")
    finally:
        engine.dispose()
    stderr.print(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (already)"),
                 markup=False, soft_wrap=True)


@db_app.command("current", context_settings=OLD_STORE_ARGUMENT)
def db_current(ctx: typer.Context, store: Optional[str] = store_option(required=False)) -> None:
    """Print the schema revision of a ledger database, and the one this punchcard needs."""
    _logging()
    from punchcard.plugins.sql import migrate

    url = pick_store(store, ctx.args)
    engine = _engine(url)
    try:
        _refuse_missing_file(engine, url)
        with engine.connect() as conn:
            now = migrate.current(conn)
    except Exception as exc:
        raise _fail(_db_failure(exc))
    finally:
        engine.dispose()
    stdout.out(f"{now or 'empty'} (this punchcard needs {migrate.head()})")
