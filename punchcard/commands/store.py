"""``punchcard member``, ``punchcard audit`` and ``punchcard db``: looking inside a durable
store, and managing its schema (``punchcard process`` fills it: commands/process.py)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import typer

from punchcard.cli import OLD_STORE_ARGUMENT, OutputFormat, app, pick_store, stderr, stdout, store_option
from punchcard.engine.runtime.display import shown

from .store_access import fail, open_auditable, open_migratable, open_store, setup_logging, shown_url

__all__ = ["member", "audit", "db_upgrade", "db_current"]

log = logging.getLogger("punchcard.cli")

db_app = typer.Typer(help="The ledger database's schema (alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


# -- punchcard member ------------------------------------------------------------------
def _lot_json(lot) -> dict:
    return {"id": lot.id, "source": lot.source, "amount": lot.amount, "remaining": lot.remaining,
            "earned_at": lot.earned_at, "pending_until": lot.pending_until, "expires_at": lot.expires_at,
            "hold": lot.hold}


def member_view(state, decisions) -> dict:
    """What ``punchcard member`` shows, as of the member's last processed event."""
    from punchcard.engine.runtime.decision import to_jsonable

    now = state.clock or state.joined
    view = {
        "member": state.member_id, "as_of": now, "balance": state.available(now) if now else state.total(),
        "pending": state.pending(now) if now else Decimal(0), "total": state.total(), "negative_balance": state.debt,
        "lots": [_lot_json(lot) for lot in state.lots if lot.remaining or lot.hold], "tier": state.tier.level,
        "streaks": {k: {"length": s.length, "best": s.best, "freezes_left": s.freezes_left}
                    for k, s in state.streaks.items()},
        "badges": sorted(state.badges), "totals": state.totals,
        "challenges": {k: {"progress": c.progress, "joined_at": c.joined_at, "completed_at": c.completed_at,
                           "wins": c.wins} for k, c in sorted(state.challenges.items())},
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
    for name, challenge in view["challenges"].items():
        stdout.out(f"  challenge {shown(name)}: {challenge['progress']}"
                   f"{'  completed ' + challenge['completed_at'] if challenge['completed_at'] else ''}")
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
    setup_logging()
    from punchcard.engine.store import StoreError

    target = open_store(store, create=False)
    try:
        state, decisions = target.member(member_id), target.decisions(member_id, recent)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    if state is None:
        raise fail(f"no member '{shown(member_id)}' in {shown_url(store)}", 1)
    view = member_view(state, decisions)
    if format is OutputFormat.json:
        stdout.out(json.dumps(view, indent=2, ensure_ascii=False), highlight=False)
    else:
        _print_member(view)


# -- punchcard audit -------------------------------------------------------------------
@app.command(context_settings=OLD_STORE_ARGUMENT)
def audit(
    ctx: typer.Context,
    store: str | None = store_option(required=False),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Check every balance against the append-only ledger; exit 1 on any difference.

    For every member: balance == sum of ledger entries == live lots less negative
    balance; every lot's amount accounted for; budgets == their uses. Each difference
    is printed."""
    setup_logging()
    from punchcard.engine.store import StoreError

    target = open_auditable(pick_store(store, ctx.args))
    try:
        report = target.audit()
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    if format is OutputFormat.json:
        stdout.out(json.dumps(report.to_json(), indent=2, ensure_ascii=False), highlight=False)
    else:
        for difference in report.differences:
            stdout.out(shown(difference), highlight=False)
    verdict = "no differences" if report.ok else f"{len(report.differences)} differences"
    # the verdict is the result: on stdout with the differences, except beside JSON, which says it too
    (stderr if format is OutputFormat.json else stdout).print(
        f"audited {report.members} members, {report.entries} ledger entries, {report.lots} lots: {verdict}",
        style="green" if report.ok else "red", markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


# -- punchcard db ----------------------------------------------------------------------
@db_app.command("upgrade", context_settings=OLD_STORE_ARGUMENT)
def db_upgrade(
    ctx: typer.Context,
    store: str | None = store_option(required=False),
    revision: str = typer.Option("head", "--to", metavar="REVISION", help="Target revision."),
) -> None:
    """Create or upgrade the ledger schema (alembic migrations, in one transaction)."""
    setup_logging()
    from punchcard.engine.store import StoreError

    target = open_migratable(pick_store(store, ctx.args), create=True)
    try:
        before, after = target.upgrade_schema(revision)
    except StoreError as exc:  # exit 2, as every store failure
        raise fail(f"upgrade failed, nothing changed: {exc}") from None
    finally:
        target.close()
    stderr.print(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (already)"),
                 markup=False, soft_wrap=True)


@db_app.command("current", context_settings=OLD_STORE_ARGUMENT)
def db_current(ctx: typer.Context, store: str | None = store_option(required=False)) -> None:
    """Print the schema revision of a ledger database, and the one this punchcard needs."""
    setup_logging()
    from punchcard.engine.store import StoreError

    target = open_migratable(pick_store(store, ctx.args), create=False)
    try:
        now, needed = target.schema_revision()
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    stdout.out(f"{now or 'empty'} (this punchcard needs {needed})")
