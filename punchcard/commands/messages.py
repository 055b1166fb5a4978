"""``punchcard messages send``, ``list`` and ``prune``: draining a store's outbox (the
messages decisions chose, written with them), looking inside it, and deleting what is done.

``send`` exit codes: 0 every due message on a delivered channel was sent, expired or
held for its quiet hours (or there was none); 1 a delivery failed in this run (the
message is tried again later, or failed for good after its last attempt), or due
messages wait on a channel no delivery plugin serves (they stay pending); 2 a usage or
store error."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.engine.messaging.send import Sending, SendReport, drain
from punchcard.engine.outbox import DONE_STATUSES
from punchcard.engine.runtime.display import shown
from punchcard.engine.runtime.message import CHANNELS
from punchcard.engine.store import OUTBOX_STATUSES, Outbox, OutboxRow, StoreError
from punchcard.plugins.deliver_file import FileDelivery
from punchcard.plugins.manager import PluginError, Plugins, get_plugin_manager

from .store_access import fail, open_store, setup_logging, shown_url

__all__ = ["send", "list_messages", "prune", "messages_app"]

messages_app = typer.Typer(help="The outbox: messages decisions chose, and sending them.", no_args_is_help=True)
app.add_typer(messages_app, name="messages")

_FORMAT = format_option()  # made once: typer reads it for each call


def _outbox(url: str) -> Outbox:
    store = open_store(url, create=False)
    if isinstance(store, Outbox):
        return store
    store.close()
    raise fail(f"'{shown_url(url)}' has no outbox: it is not a store punchcard can send messages from")


def _deliveries(plugins: Plugins, deliver_to: Path | None) -> dict[str, Any]:
    if deliver_to is not None:  # one run's override: every channel to the file
        delivery = FileDelivery(deliver_to)
        return {channel: delivery for channel in CHANNELS}
    return plugins.deliveries()


def _progress(total: int) -> Progress:
    return Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=stderr, transient=True, disable=not stderr.is_terminal or not total)


def _many(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _summary(report: SendReport) -> list[str]:
    sources = ", ".join(f"{n} {source}" for source, n in sorted(report.by_source.items())) or "none"
    lines = [f"sent {_many(report.sent, 'message')} ({report.composed} composed: {sources}); "
             f"{report.retrying} to retry, {report.failed} failed, {report.expired} expired, "
             f"{report.left_pending} left pending"]
    if report.deferred:
        lines.append(f"  {_many(report.deferred, 'message')} held until the end of quiet hours")
    lines += [f"  template used {n} x: {shown(reason)}" for reason, n in sorted(report.by_reason.items())]
    if report.input_tokens or report.output_tokens or report.cost:
        lines.append(f"  model tokens {report.input_tokens} in, {report.output_tokens} out; cost ${report.cost}")
    lines += [f"  delivery error {n} x: {shown(kind)}" for kind, n in sorted(report.errors.items())]
    lines += [f"  {_many(report.pending[channel], channel + ' message')} waiting: no delivery plugin serves {channel} "
              "(see docs/plugins.md, punchcard_deliveries, or --deliver-to FILE)" for channel in report.undeliverable]
    return lines


@messages_app.command("send")
def send(
    store: str = store_option(),
    limit: int | None = typer.Option(None, "--limit", metavar="N", min=1, help="Send at most N messages."),
    deliver_to: Path | None = typer.Option(None, "--deliver-to", metavar="FILE", help="Deliver every channel to "
                                           "FILE, one JSON line a message, instead of the delivery plugins."),
    messenger: str | None = typer.Option(None, "--messenger", metavar="NAME", help="The messenger plugin that "
                                         "writes messages whose ruleset asks for a model (default: "
                                         "PUNCHCARD_MESSENGER, else claude; without an API key, the template)."),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help="Send as of this time (default: now), for "
                                  "a replay or a demo: which messages are due, expired or in quiet hours, and the "
                                  "sent time recorded. A time without an offset is UTC."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Compose and deliver the outbox's due messages, each marked sent exactly once.

    Each message is composed by the messenger plugins under the guardrails (else its
    fallback template), stored, handed to its channel's delivery plugin with its id, and
    marked sent; a failed delivery is tried again later. A message past its expires_at
    is marked expired, never sent; one inside its quiet hours waits for their end. Exit 0
    when every due message on a delivered channel was sent (or expired, or waits), 1 when
    a delivery failed or due messages have no delivery for their channel (they stay
    pending), 2 on a usage or store error."""
    setup_logging()
    clock = _clock(at)
    try:
        plugins = get_plugin_manager()
        deliveries, messengers = _deliveries(plugins, deliver_to), plugins.messengers()
    except PluginError as exc:
        raise fail(str(exc)) from None
    outbox = _outbox(store)
    try:
        report = _drain(outbox, deliveries, messengers, limit, Sending(messenger=messenger), clock)
    except StoreError as exc:
        raise fail(f"{exc}\nstopped: messages marked sent stay sent; run again to send the rest") from None
    finally:
        outbox.close()  # type: ignore[attr-defined]  # every store closes
    if format.value == "json":
        stdout.out(json.dumps(report.to_json(), ensure_ascii=False), highlight=False)
    else:
        for line in _summary(report):
            stdout.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


def _drain(outbox: Outbox, deliveries: dict[str, Any], messengers: dict[str, Any], limit: int | None,
           sending: Sending, clock: Callable[[], dt.datetime]) -> SendReport:
    due = sum(outbox.outbox_due(clock()).values())
    total = due if limit is None else min(due, limit)
    with _progress(total) as bar:
        task = bar.add_task("messages", total=total)
        return drain(outbox, deliveries, messengers, limit=limit, sending=sending, clock=clock,
                     progress=lambda report: bar.advance(task))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _clock(at: str | None) -> Callable[[], dt.datetime]:
    """Now, or the fixed time ``--at`` names."""
    if at is None:
        return _now
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"{at!r} is not an ISO 8601 time", param_hint="'--at'") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return lambda: moment


def _row_line(row: OutboxRow) -> str:
    error = f"  {shown(row.last_error)}" if row.last_error else ""
    error += f" (at {row.failed_at.isoformat()})" if row.failed_at is not None else ""
    return (f"{row.send_at.isoformat()}  {shown(row.id)}  {shown(row.member_id)}  {row.channel}  {row.status}"
            f"  attempts {row.attempts}{error}")


@messages_app.command("list")
def list_messages(
    store: str = store_option(),
    status: str | None = typer.Option(None, "--status", metavar="|".join(OUTBOX_STATUSES),
                                      help="Only messages of this status."),
    limit: int = typer.Option(100, "--limit", metavar="N", min=1, help="Show at most N messages (oldest first)."),
    format: OutputFormat = _FORMAT,
) -> None:
    """List the outbox's messages, oldest first.

    Each shows its send time, id, member, channel, status, attempts and last delivery
    error; --format json adds the request and the composed text. Exit 2 on a usage or
    store error."""
    setup_logging()
    if status is not None and status not in OUTBOX_STATUSES:
        raise typer.BadParameter(f"{status!r} is not one of {', '.join(OUTBOX_STATUSES)}", param_hint="'--status'")
    outbox = _outbox(store)
    try:
        rows = outbox.outbox_list(status, limit)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        outbox.close()  # type: ignore[attr-defined]
    if format.value == "json":
        stdout.out(json.dumps([row.to_json() for row in rows], ensure_ascii=False), highlight=False)
        return
    for row in rows:
        stdout.out(_row_line(row), highlight=False)
    if not rows:
        stderr.print("no messages", markup=False)


@messages_app.command("prune")
def prune(
    store: str = store_option(),
    older_than: int = typer.Option(..., "--older-than", metavar="DAYS", min=1, max=36500,
                                   help="Delete rows sent more than DAYS days ago."),
    failed: bool = typer.Option(False, "--failed/--no-failed",
                                help="Also failed and expired rows first due more than DAYS days ago."),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help="Count the days back from this ISO time."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Delete the outbox's rows sent more than --older-than days ago: messages, webhooks and
    derived events alike. With --failed, also the failed and expired rows first due that long
    ago (they keep no time of their failure, so one that failed today may go). A pending row is
    never deleted, so pruning never races a sender. Exit 2 on a usage or store error."""
    setup_logging()
    before = _clock(at)() - dt.timedelta(days=older_than)
    outbox = _outbox(store)
    try:
        deleted = outbox.outbox_prune(before, DONE_STATUSES if failed else ("sent",))
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        outbox.close()  # type: ignore[attr-defined]
    total = sum(deleted.values())
    if format.value == "json":
        stdout.out(json.dumps({"before": before.isoformat(), "deleted": deleted, "total": total}), highlight=False)
        return
    each = ", ".join(f"{count} {status}" for status, count in sorted(deleted.items()))
    stdout.out(f"deleted {_many(total, 'row')} dated before {before.isoformat()}" + (f" ({each})" if each else ""),
               highlight=False)
