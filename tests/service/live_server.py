"""Real servers for the service tests: the application under uvicorn on a free port, in a
thread (``in_thread``), or ``punchcard serve`` as a process of its own (``serve_process``)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from punchcard.service import app as service_app
from punchcard.service.keys import SCOPES

ROOT = Path(__file__).resolve().parents[2]
COFFEE = ROOT / "rulesets/coffee-club.yaml"
PUNCHCARD = Path(sys.executable).with_name("punchcard")


@dataclass
class Live:
    url: str
    api: object | None
    token: str  # every scope

    def client(self, token: str | None = "", **options) -> httpx.Client:
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=options.pop("timeout", 60), **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def in_thread(api) -> Iterator[str]:
    """``api`` under uvicorn on a free port, in a thread: its base URL."""
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def live(store, rulesets=(COFFEE,), **options) -> Iterator[Live]:
    """The service on ``store`` (a store or URL) in a thread, with a key holding every scope."""
    api = service_app(list(rulesets), store, **options)
    _, token = api.state.service.keys.create(SCOPES, name="tests")
    with in_thread(api) as url:
        yield Live(url, api, token)


def make_key(store_url: str, *scopes: str) -> str:
    """A key made as an operator makes one: ``punchcard keys create``; its token."""
    args = [str(PUNCHCARD), "keys", "create", "--store", store_url, "--name", "tests"]
    for scope in scopes:
        args += ["--scope", scope]
    made = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@contextlib.contextmanager
def serve_process(store_url: str, *extra: str, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``punchcard serve`` in a process group of its own (so every worker is stopped after)."""
    port = port or free_port()
    args = [str(PUNCHCARD), "serve", str(COFFEE), "--store", store_url, "--port", str(port), "--no-access-log",
            *extra]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def wait_ready(url: str, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"punchcard serve exited {process.returncode}: {process.stderr.read().decode()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")
