"""``punchcard process``, ``punchcard member``, ``punchcard audit`` and ``punchcard db``:
running events into a durable store, and looking inside it."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Iterator

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout

__all__ = ["process", "member", "audit", "db_upgrade", "db_current", "read_events"]

log = logging.getLogger("punchcard.cli")

db_app = typer.Typer(help="The ledger database's schema (alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

REFUSED = ("rejected", "blocked")


class ProcessFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


class UsageError(Exception):
    """Bad input: exit code 2."""


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=os.environ.get("PUNCHCARD_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")


def _fail(message: str, code: int = 2) -> typer.Exit:
    stderr.print(f"error: {message}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


# -- reading events --------------------------------------------------------------------
def read_events(path: Path) -> Iterator[dict]:
    """Events from JSON Lines (one object a line) or CSV (a header row; empty cells are absent)."""
    handle = sys.stdin if str(path) == "-" else path.open(encoding="utf-8", newline="")
    try:
        if path.suffix.lower() == ".csv":
            yield from _csv_events(handle)
        else:
            yield from _jsonl_events(handle, path)
    finally:
        if handle is not sys.stdin:
            handle.close()


def _jsonl_events(handle, path: Path) -> Iterator[dict]:
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            # Numbers stay exact: parse_float keeps "0.1" as Decimal text, never a binary float.
            event = json.loads(line, parse_float=str)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
        if not isinstance(event, dict):
            raise UsageError(f"{path}:{number}: each line must be a JSON object")
        yield event


def _csv_events(handle) -> Iterator[dict]:
    for row in csv.DictReader(handle):
        yield {key: value for key, value in row.items() if key and value not in (None, "")}


def _count_lines(path: Path) -> int | None:
    if str(path) == "-":
        return None
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" else lines


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
def _open_store(url: str):
    from punchcard.plugins.manager import get_plugin_manager

    try:
        return get_plugin_manager().open_store(url)
    except Exception as exc:  # unknown URL, unreachable server, schema not migrated
        raise _fail(str(exc))


def _open_sql(url: str):
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is None:
        raise _fail(f"{url!r} is not a SQL ledger URL (sqlite:///file.db or postgresql+psycopg://...)")
    from punchcard.plugins.sql.store import SqlStore

    try:
        return SqlStore(url)
    except Exception as exc:
        raise _fail(str(exc))


def _compile(ruleset: Path):
    import punchcard
    from punchcard.dsl.errors import PunchcardError, render

    try:
        return punchcard.compile(ruleset)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(render(diag, getattr(exc, "sources", None) or {}))
        raise _fail(f"{ruleset} has errors; nothing was processed")
    except OSError as exc:
        raise _fail(f"cannot read {ruleset}: {exc}")


# -- punchcard process -----------------------------------------------------------------
def _line(decision) -> str:
    points = decision.points
    text = f"{decision.event_id}  {decision.member_id}  {decision.outcome}  {'+' if points > 0 else ''}{points}" \
           f"  balance {decision.balance}"
    return f"{text}  {decision.reason}" if decision.reason and decision.outcome != "applied" else text


def _emit(decision, format: ProcessFormat) -> None:
    if format is ProcessFormat.jsonl:
        stdout.out(json.dumps(decision.to_json(), ensure_ascii=False, separators=(",", ":")), highlight=False)
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
    ruleset: Path = typer.Argument(..., help="The ruleset file or folder to evaluate events with."),
    store: str = typer.Option(..., "--store", help="Storage URL: sqlite:///points.db, postgresql+psycopg://..."),
    events: Path = typer.Option(..., "--events", help="JSON Lines or CSV (by extension) file of events; - for stdin."),
    format: ProcessFormat = typer.Option(ProcessFormat.text, "--format", help="text, or jsonl: one decision JSON a line."),
    batch: int = typer.Option(1000, "--batch", min=1, help="Events per transaction (1: one transaction per event)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any event was rejected or blocked."),
) -> None:
    """Run events through a ruleset into a store, each exactly once.

    A replayed file, or several processes on one store, applies each event once and
    reports the rest as duplicates."""
    _logging()
    if str(events) != "-" and not events.is_file():
        raise _fail(f"no such events file: {events}")
    compiled, target = _compile(ruleset), _open_store(store)
    if hasattr(target, "batch_size"):
        target.batch_size = batch
    try:
        outcomes = _run(_engine_for(compiled, target), read_events(events), batch, format, _count_lines(events))
    except UsageError as exc:
        raise _fail(str(exc))
    finally:
        target.close()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "no events"
    stderr.print(f"processed {sum(outcomes.values())} events: {summary}", markup=False, soft_wrap=True)
    raise typer.Exit(1 if strict and sum(outcomes[o] for o in REFUSED) else 0)


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
        "pending": state.pending(now) if now else 0, "total": state.total(), "negative_balance": state.debt,
        "lots": [_lot_json(lot) for lot in state.lots if lot.remaining or lot.hold], "tier": state.tier.level,
        "streaks": {k: {"length": s.length, "best": s.best, "freezes_left": s.freezes_left}
                    for k, s in state.streaks.items()},
        "badges": sorted(state.badges), "totals": state.totals,
        "recent": [{"event_id": d.event_id, "type": d.event_type, "outcome": d.outcome, "points": d.points,
                    "time": d.time, "reason": d.reason} for d in decisions],
    }
    return to_jsonable(view)


def _print_member(view: dict) -> None:
    stdout.out(f"member {view['member']} (as of {view['as_of']})")
    stdout.out(f"  balance {view['balance']}  pending {view['pending']}  negative balance "
               f"{view['negative_balance']}  tier {view['tier'] or '-'}")
    for lot in view["lots"]:
        stdout.out(f"  lot {lot['id']}: {lot['remaining']} of {lot['amount']} ({lot['source']})"
                   f"{'  pending until ' + lot['pending_until'] if lot['pending_until'] else ''}"
                   f"{'  expires ' + lot['expires_at'] if lot['expires_at'] else ''}"
                   f"{'  held for ' + lot['hold'] if lot['hold'] else ''}")
    for name, streak in view["streaks"].items():
        stdout.out(f"  streak {name}: {streak['length']} (best {streak['best']})")
    if view["badges"]:
        stdout.out(f"  badges: {', '.join(view['badges'])}")
    for d in view["recent"]:
        stdout.out(f"  {d['time']}  {d['event_id']}  {d['type']}  {d['outcome']}  {d['points']}"
                   f"{'  ' + d['reason'] if d['reason'] and d['outcome'] != 'applied' else ''}")


@app.command()
def member(
    member_id: str = typer.Argument(..., metavar="ID", help="The member id."),
    store: str = typer.Option(..., "--store", help="Storage URL."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
    recent: int = typer.Option(10, "--recent", min=0, help="How many recent decisions to show."),
) -> None:
    """Show a member: balance, pending points, lots, tier, streaks, badges, recent decisions.

    Lots show their pending-until and expiry times. Exit 1 when the store has no such member."""
    _logging()
    target = _open_store(store)
    try:
        state, decisions = target.member(member_id), target.decisions(member_id, recent)
    finally:
        target.close()
    if state is None:
        raise _fail(f"no member {member_id!r} in {store}", 1)
    view = member_view(state, decisions)
    if format is OutputFormat.json:
        stdout.out(json.dumps(view, indent=2, ensure_ascii=False), highlight=False)
    else:
        _print_member(view)


# -- punchcard audit -------------------------------------------------------------------
@app.command()
def audit(
    url: str = typer.Argument(..., help="The SQL ledger to audit."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Check every balance against the append-only ledger; exit 1 on any difference.

    For every member: balance == sum of ledger entries == live lots less negative
    balance; every lot's amount accounted for; budgets == their uses. Each difference
    is printed."""
    _logging()
    target = _open_sql(url)
    try:
        report = target.audit()
    finally:
        target.close()
    if format is OutputFormat.json:
        stdout.out(json.dumps(report.to_json(), indent=2, ensure_ascii=False), highlight=False)
    else:
        for difference in report.differences:
            stdout.out(str(difference), highlight=False)
    verdict = "no differences" if report.ok else f"{len(report.differences)} differences"
    stderr.print(f"audited {report.members} members, {report.entries} ledger entries, {report.lots} lots: "
                 f"{verdict}", style="green" if report.ok else "red", markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


# -- punchcard db ----------------------------------------------------------------------
def _engine(url: str):
    from punchcard.plugins.sql.connect import create_sql_engine
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is None:
        raise _fail(f"{url!r} is not a SQL ledger URL (sqlite:///file.db or postgresql+psycopg://...)")
    return create_sql_engine(url)


@db_app.command("upgrade")
def db_upgrade(
    url: str = typer.Argument(..., help="The SQL ledger to migrate."),
    revision: str = typer.Option("head", "--to", help="Target revision."),
) -> None:
    """Create or upgrade the ledger schema (alembic migrations, in one transaction)."""
    _logging()
    from punchcard.plugins.sql import migrate

    engine = _engine(url)
    try:
        before, after = migrate.upgrade(engine, revision)
    except Exception as exc:
        raise _fail(f"upgrade failed, nothing changed: {exc}", 1)
    finally:
        engine.dispose()
    stderr.print(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (already)"),
                 markup=False, soft_wrap=True)


@db_app.command("current")
def db_current(url: str = typer.Argument(..., help="The SQL ledger.")) -> None:
    """Print the schema revision of a ledger database, and the one this punchcard needs."""
    _logging()
    from punchcard.plugins.sql import migrate

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            now = migrate.current(conn)
    finally:
        engine.dispose()
    stdout.out(f"{now or 'empty'} (this punchcard needs {migrate.head()})")
