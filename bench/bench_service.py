"""The service over HTTP on loopback with PostgreSQL, driven by locust, against the same kind of
events through ``Engine.process`` in one process on the same database, in one run.

    .venv/bin/python bench/bench_service.py [--seconds 30] [--users 20] [--rate 10] [--workers 2]
                                            [--ruleset rulesets/coffee-club.yaml] [--postgres-url URL]

locust (headless, bounded in time) runs ``--users`` tills, each sending ``--rate`` purchases a
second (``--users * --rate`` requests a second in all) to ``punchcard serve --workers N``; its
own figures (p50, p99, requests a second, failures) are read from its CSV. The baseline is the
same number of purchases through ``Engine.process`` on a fresh schema of the same cluster, one
after another: its p50 and p99 per event and events a second. The floor is the same locust load
on ``bench/bare_service.py``, a FastAPI application under the same uvicorn that reads the JSON
and answers: what the web stack, locust and the machine cost before punchcard does anything. How
busy the machine's CPUs were during each locust run is printed (Linux), as locust, the server and
PostgreSQL share them. PostgreSQL is a throwaway local cluster with durable defaults unless
``--postgres-url`` names one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from http import HTTPStatus
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_store import Databases  # noqa: E402

from punchcard.engine import Engine  # noqa: E402
from punchcard.engine.compiler.stages import compile_ruleset  # noqa: E402
from punchcard.plugins.sql.store import SqlStore  # noqa: E402

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _key(url: str) -> str:
    out = subprocess.run([str(BIN / "punchcard"), "keys", "create", "--store", url, "--scope", "events:write",
                          "--name", "bench", "--format", "json"], check=True, capture_output=True, text=True)
    return str(json.loads(out.stdout)["token"])


def _serve(url: str, ruleset: str, port: int, workers: int) -> subprocess.Popen:
    return _ready(subprocess.Popen([str(BIN / "punchcard"), "serve", ruleset, "--store", url, "--port", str(port),
                                    "--workers", str(workers), "--no-access-log"], stderr=subprocess.DEVNULL), port)


def _serve_floor(port: int, workers: int) -> subprocess.Popen:
    return _ready(subprocess.Popen([str(BIN / "uvicorn"), "bare_service:api", "--app-dir", str(ROOT / "bench"),
                                    "--port", str(port), "--workers", str(workers), "--no-access-log",
                                    "--log-level", "warning"], stderr=subprocess.DEVNULL), port)


def _ready(server: subprocess.Popen, port: int) -> subprocess.Popen:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                if reply.status == HTTPStatus.OK:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the service did not become ready")


def over_http(url: str | None, args: argparse.Namespace) -> dict[str, float]:
    """locust against ``punchcard serve`` on ``url``, or (None) against the floor application."""
    port, folder = _free_port(), Path(tempfile.mkdtemp(prefix="punchcard-locust-"))
    env = {**os.environ, "PUNCHCARD_BENCH_TOKEN": _key(url) if url else "none", "PUNCHCARD_BENCH_RATE": str(args.rate),
           "PUNCHCARD_BENCH_MEMBERS": str(args.members)}
    server = _serve(url, args.ruleset, port, args.workers) if url else _serve_floor(port, args.workers)
    try:
        busy_before = _cpu_ticks()
        subprocess.run([str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
                        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
                        "--host", f"http://127.0.0.1:{port}", "--csv", str(folder / "run"), "--only-summary"],
                       check=False, env=env, capture_output=True)
        busy = _busy_share(busy_before, _cpu_ticks())
    finally:
        server.terminate()
        server.wait(30)
    with open(folder / "run_stats.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "POST /v1/events")
    return {"p50_ms": float(row["50%"]), "p99_ms": float(row["99%"]), "per_second": float(row["Requests/s"]),
            "requests": float(row["Request Count"]), "failures": float(row["Failure Count"]), "busy": busy}


def _cpu_ticks() -> tuple[int, int] | None:
    """All and idle CPU time of the machine so far (Linux's /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return None
    return sum(ticks), ticks[3] + ticks[4]  # idle and iowait


def _busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float:
    """How busy the machine's CPUs were between the two readings (0 to 1; NaN unknown): locust,
    the server and PostgreSQL share them."""
    if before is None or after is None or after[0] == before[0]:
        return float("nan")
    return 1 - (after[1] - before[1]) / (after[0] - before[0])


def in_process(url: str, ruleset: str, count: int, members: int) -> dict[str, float]:
    engine = Engine(compile_ruleset(ruleset), SqlStore(url))
    rng, times = random.Random(5), []
    started = time.perf_counter()
    for n in range(count):
        day, minute = divmod(n, 24 * 60)
        event = {"type": "purchase", "id": f"base-{n}", "member": f"m{rng.randrange(members)}",
                 "time": f"2026-03-{1 + day % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00",
                 "amount": str(rng.randrange(100, 2000)), "category": "coffee"}
        before = time.perf_counter()
        engine.process(event)
        times.append((time.perf_counter() - before) * 1000)
    seconds = time.perf_counter() - started
    engine.store.close()
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1],
            "per_second": count / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second per user")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--ruleset", default=str(ROOT / "rulesets" / "coffee-club.yaml"))
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    dbs = Databases(args.postgres_url)
    try:
        floor = over_http(None, args)
        http = over_http(dbs.postgresql(), args)
        base = in_process(dbs.postgresql(), args.ruleset, int(http["requests"]) or 1000, args.members)
    finally:
        dbs.close()
    print(f"in-process Engine.process (baseline): p50 {base['p50_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms, "
          f"{base['per_second']:.0f} events/s, one after another")
    offered = f"{args.workers} workers, {args.users} users x {args.rate:g}/s offered"
    print(f"HTTP floor (bench/bare_service.py: FastAPI reads the JSON and answers), {offered}: "
          f"p50 {floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms, {floor['per_second']:.0f} requests/s, "
          f"CPUs {floor['busy']:.0%} busy")
    print(f"HTTP, {offered}: p50 {http['p50_ms']:.1f} ms "
          f"({http['p50_ms'] / base['p50_ms']:.1f}x the baseline, {http['p50_ms'] / floor['p50_ms']:.1f}x the floor), "
          f"p99 {http['p99_ms']:.1f} ms ({http['p99_ms'] / base['p99_ms']:.1f}x, "
          f"{http['p99_ms'] / floor['p99_ms']:.1f}x), "
          f"{http['per_second']:.0f} requests/s, {http['failures']:.0f} failures of {http['requests']:.0f}; "
          f"{os.cpu_count()} CPUs, {http['busy']:.0%} busy")


if __name__ == "__main__":
    main()
