"""``punchcard webhooks dispatch``: delivering the outbox's webhook rows to the host's URLs.

Exit codes: 0 every due webhook was delivered (or there was none; without ``--once``, the
dispatcher was stopped); 1 a delivery failed in this run (tried again later, or failed for
good after its last attempt); 2 a usage or store error."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

import typer

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.engine.store import Outbox, StoreError

from .store_access import fail, open_store, setup_logging, shown_url

if TYPE_CHECKING:
    from punchcard.service.webhooks import DispatchReport

__all__ = ["dispatch_command", "webhooks_app", "endpoints_of"]

webhooks_app = typer.Typer(help="Webhooks: a decision's notable effects, POSTed signed to the host.",
                           no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")

_FORMAT = format_option()


def endpoints_of(urls: list[str], secret_envs: list[str], environ: Any = os.environ) -> list[tuple[str, str]]:
    """The endpoints: each URL with the secret in its environment variable (one variable for
    every URL, or one per URL, in order). Names a missing variable, never a value."""
    if not urls:
        raise typer.BadParameter("give at least one --url", param_hint="'--url'")
    wrong = [url for url in urls if not url.startswith(("https://", "http://"))]
    if wrong:  # shown without its query, which may hold a token
        raise typer.BadParameter(f"{wrong[0].split('?')[0]!r} is not an http(s) URL", param_hint="'--url'")
    if len(secret_envs) not in (1, len(urls)):
        raise typer.BadParameter("give one --secret-env for all URLs, or one per --url", param_hint="'--secret-env'")
    names = secret_envs * len(urls) if len(secret_envs) == 1 else secret_envs
    missing = sorted({name for name in names if not environ.get(name)})
    if missing:
        raise fail(f"the secret is not set: environment variable {', '.join(missing)} is empty or missing")
    return [(url, environ[name]) for url, name in zip(urls, names, strict=True)]


def _summary(report: DispatchReport) -> str:
    errors = "".join(f"; {n} x {kind}" for kind, n in sorted(report.errors.items()))
    return (f"delivered {report.delivered} webhook(s); {report.retrying} to retry, {report.failed} failed, "
            f"{report.pending} left pending{errors}")


def _outbox(url: str) -> Outbox:
    store = open_store(url, create=False)
    if isinstance(store, Outbox):
        return store
    store.close()
    raise fail(f"'{shown_url(url)}' has no outbox: it is not a store webhooks can be sent from")


def _forever(hooks: Any, outbox: Outbox, endpoints: list[Any], interval: float) -> None:
    """Dispatch until SIGTERM or Ctrl-C, a line on stderr for each round that did something."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def heard(report: DispatchReport) -> None:
        if report.delivered or report.retrying or report.failed:
            stderr.print(_summary(report), markup=False, soft_wrap=True)

    try:
        hooks.dispatch_until(stop, outbox, endpoints, interval=interval, heard=heard)
    except KeyboardInterrupt:
        stop.set()


@webhooks_app.command("dispatch")
def dispatch_command(
    store: str = store_option(),
    urls: list[str] = typer.Option([], "--url", metavar="URL", help="An endpoint of the host (repeat for several)."),
    secret_envs: list[str] = typer.Option([], "--secret-env", metavar="NAME", help="The environment variable "
                                          "holding the signing secret: one for every URL, or one per --url."),
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then stop (default: keep polling)."),
    interval: float = typer.Option(1.0, "--interval", metavar="SECONDS", min=0.05,
                                   help="Without --once: the pause between polls of the outbox."),
    limit: int | None = typer.Option(None, "--limit", metavar="N", min=1, help="With --once: at most N webhooks."),
    format: OutputFormat = _FORMAT,
) -> None:
    """POST the outbox's webhook rows to the host's URLs, signed, until each is delivered.

    Each is signed with HMAC-SHA256 (Punchcard-Signature: t=...,v1=...) under the secret
    read from --secret-env, and carries its delivery id (Punchcard-Delivery), the same on
    every retry. An endpoint that does not answer 2xx gets it again after a growing pause.
    Rows are queued only by a store whose webhooks are on (punchcard serve --webhooks).
    Exit 0 when every due webhook was delivered, 1 when a delivery failed, 2 on a usage
    or store error."""
    # Imported here: the service package loads FastAPI, which every other command would pay for.
    from punchcard.service import webhooks as hooks

    setup_logging()
    endpoints = [hooks.Endpoint(url, secret) for url, secret in endpoints_of(urls, secret_envs)]
    outbox = _outbox(store)
    try:
        if not once:
            _forever(hooks, outbox, endpoints, interval)
            return
        report = hooks.dispatch(outbox, endpoints, limit=limit)
    except StoreError as exc:
        raise fail(f"{exc}\nstopped: webhooks marked sent stay sent; run again to send the rest") from None
    finally:
        outbox.close()  # type: ignore[attr-defined]  # every store closes
    if format.value == "json":
        stdout.out(json.dumps(report.to_json()), highlight=False)
    else:
        stdout.print(_summary(report), markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)
