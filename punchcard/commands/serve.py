"""``punchcard serve``: the HTTP service under uvicorn; ``punchcard keys``: its API keys
(docs/service.md). The service is imported when a command runs, so the rest of the command
line starts without loading the web stack."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.engine.runtime.display import shown

from .store_access import fail, open_store, setup_logging, shown_url

__all__ = ["serve", "keys_create", "keys_list", "keys_revoke"]

keys_app = typer.Typer(help="The HTTP service's API keys: bearer tokens with scopes, stored hashed.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

FORMAT = format_option()
SCOPE_HELP = "events:write, members:read, rulesets:admin or metrics:read; repeat for several."


@app.command()
def serve(
    rulesets: list[Path] = typer.Argument(..., metavar="RULESET...", help="Ruleset files or folders to serve."),
    store: str = store_option(),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (they share the store, nothing else)."),
    batch_max: int = typer.Option(100, "--batch-max", min=1, help="Most events in one POST /v1/events/batch."),
    max_body: int = typer.Option(256 * 1024, "--max-body", min=1024, help="Largest request body, in bytes."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log each request (ids masked)."),
    webhooks: bool = typer.Option(False, "--webhooks", help="Queue notable effects for `punchcard webhooks`."),
) -> None:
    """Serve RULESET... over HTTP (FastAPI under uvicorn) on the store at --store URL.

    The API is under /v1 (OpenAPI at /openapi.json, browsable at /docs); health at /healthz
    and /readyz. Every other endpoint needs a key from `punchcard keys create`."""
    setup_logging()
    import uvicorn

    from punchcard.service.app import app as service_app
    from punchcard.service.guard import log_access
    from punchcard.service.state import Settings

    if access_log:
        log_access()
    settings: dict[str, Any] = {"batch_max": batch_max, "max_body_bytes": max_body, "webhooks": webhooks,
                                "freeze_gc": True}  # this process is the service's own
    try:  # built once here, so a bad ruleset or an unreachable store stops before any worker starts
        api = service_app([str(path) for path in rulesets], store, settings=Settings(**settings))
    except Exception as exc:
        raise fail(f"cannot serve: {exc}") from None
    stderr.print(f"serving {', '.join(api.state.service.registry.ids())} on http://{host}:{port} "
                 f"({workers} worker{'s' if workers > 1 else ''}), store {shown_url(store)}", markup=False)
    options: dict[str, Any] = {"host": host, "port": port, "access_log": False, "log_config": None}
    if workers == 1:
        uvicorn.run(api, **options)
        return
    api.state.service.store.close()
    config = {"rulesets": [str(p.resolve()) for p in rulesets], "store": store, "settings": settings,
              "access_log": access_log}
    _run_workers(config, workers, options)


def _run_workers(config: dict[str, Any], workers: int, options: dict[str, Any]) -> None:
    """uvicorn's multiprocess mode: each worker builds its application from ``PUNCHCARD_SERVE``."""
    import uvicorn

    from punchcard.service.app import ENVIRONMENT, from_environment

    # every worker counts into files here, and a scrape of any worker sums them all
    made = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else tempfile.mkdtemp(prefix="punchcard-metrics-")
    if made:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    os.environ[ENVIRONMENT] = json.dumps(config)
    try:
        uvicorn.run(f"{from_environment.__module__}:{from_environment.__name__}", factory=True, workers=workers,
                    **options)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _keys(store: str, create: bool = False) -> Any:
    from punchcard.service.keys import KeyRing, KeyStore

    opened = open_store(store, create=create)
    if not isinstance(opened, KeyStore):
        opened.close()
        raise fail(f"'{shown_url(store)}' keeps no API keys: give the service's SQL store (sqlite:///..., "
                   "postgresql://...)")
    return KeyRing(opened)


@keys_app.command("create")
def keys_create(
    store: str = store_option(),
    scope: list[str] = typer.Option(..., "--scope", metavar="SCOPE", help=SCOPE_HELP),
    name: str = typer.Option("", "--name", metavar="NAME", help="What the key is for (shown by keys list)."),
    format: OutputFormat = FORMAT,
) -> None:
    """Make a key and print its token, once: it is stored only as a SHA-256 digest."""
    setup_logging()
    ring = _keys(store, create=True)
    try:
        key, token = ring.create(scope, name)
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        ring.store.close()
    if format is OutputFormat.json:
        stdout.out(json.dumps({**key.to_json(), "token": token}), highlight=False)
    else:
        stdout.out(token, highlight=False)
        stderr.print(f"key {key.id} ({', '.join(key.scopes)}): the token above is shown only now", markup=False)


@keys_app.command("list")
def keys_list(store: str = store_option(), format: OutputFormat = FORMAT) -> None:
    """The keys: id, name, scopes, when made and when revoked (never the tokens)."""
    setup_logging()
    ring = _keys(store)
    try:
        found = ring.list()
    finally:
        ring.store.close()
    if format is OutputFormat.json:
        stdout.out(json.dumps([key.to_json() for key in found]), highlight=False)
        return
    for key in found:
        revoked = f"  revoked {key.revoked_at.isoformat()}" if key.revoked_at else ""
        stdout.out(f"{key.id}  {shown(key.name)}  {' '.join(key.scopes)}  made {key.created_at.isoformat()}{revoked}",
                   highlight=False)


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., metavar="ID", help="The key's id (keys list)."),
                store: str = store_option()) -> None:
    """Revoke a key: every worker refuses it within two seconds. Exit 1 if there was no live key ID."""
    setup_logging()
    ring = _keys(store)
    try:
        done = ring.revoke(key_id)
    finally:
        ring.store.close()
    if not done:
        stderr.print(f"no live key {shown(key_id)}", style="red", markup=False)
        raise typer.Exit(1)
    stderr.print(f"revoked key {shown(key_id)}", markup=False)
