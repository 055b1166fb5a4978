"""Shared by the deployment tests: a ruleset whose versions differ in the points a purchase
earns (each with its own passing test), and the service on a real uvicorn server in a thread."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from live_server import in_thread

from punchcard.service import app as service_app

RULESET = "shop"


def ruleset_text(version: str, per: int, *, expect: int | None = None, points: str | None = None) -> str:
    """The ``shop`` ruleset: a purchase earns ``per`` points a unit; its test expects ``expect``
    points for an amount of 10 (by default what it earns), ``points`` replaces the expression."""
    return textwrap.dedent(f"""\
        punchcard: 1
        ruleset: {RULESET}
        version: {version}
        timezone: UTC
        rounding: {{mode: floor, scope: event, step: 1}}

        schema:
          events:
            purchase: {{amount: money}}

        earning:
          base:
            on: purchase
            points: {points or f"event.amount * {per}"}

        tests:
          - name: a purchase earns {per} a unit
            member: {{id: tester}}
            events:
              - {{type: purchase, id: t-1, time: "2026-03-02T08:15:00", amount: 10}}
            expect: {{points: {10 * per if expect is None else expect}}}
        """)


def write_ruleset(folder: Path, version: str = "1.0.0", per: int = 1) -> Path:
    path = folder / f"{RULESET}.yaml"
    path.write_text(ruleset_text(version, per), encoding="utf-8")
    return path


def points_per_unit(label: str) -> Decimal:
    """What each version the tests deploy earns a unit: 1.x earns 1, 2.x earns 3, 3.x earns 5."""
    return {"1": Decimal(1), "2": Decimal(3), "3": Decimal(5)}[label.split("@")[1].split(".", maxsplit=1)[0]]


@dataclass
class Served:
    """The service on a real port, with a key for each scope set the tests use."""

    url: str
    api: object
    admin: str  # rulesets:admin
    writer: str  # events:write only

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextlib.contextmanager
def served(rulesets: list[Path], store: object) -> Iterator[Served]:
    """``punchcard.service.app(rulesets, store)`` under uvicorn on a free port, in a thread."""
    api = service_app(rulesets, store)
    keys = api.state.service.keys
    _, admin = keys.create(["rulesets:admin"], name="ops")
    _, writer = keys.create(["events:write"], name="till")
    with in_thread(api) as url:
        yield Served(url, api, admin, writer)
