"""The curl examples of docs/service.md, run with bash against a server this test starts:
each answer must be what the document shows beside it (every field shown, with the value
shown, except where it shows "…" or a value that differs per run). The Deployments, Webhooks
and Metrics sections have tests of their own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from live_server import live

DOC = Path(__file__).resolve().parents[2] / "docs/service.md"
OTHERS = ("Deployments", "Webhooks", "Metrics")
VOLATILE = {"instance", "at"}  # a request id, the moment of the request
BLOCK = re.compile(r"```(bash|json)\n(.*?)```", re.S)


def examples() -> list[tuple[str, str | None]]:
    """(bash, the JSON shown after it or None), in document order, outside the others' sections."""
    sections = re.split(r"^## ", DOC.read_text(), flags=re.M)
    found: list[tuple[str, str | None]] = []
    for section in sections:
        if section.split("\n", 1)[0].strip() in OTHERS:
            continue
        for kind, text in BLOCK.findall(section):
            if kind == "bash":
                found.append((text, None))
            elif found and found[-1][1] is None:
                found[-1] = (found[-1][0], text)
    return found


def fits(shown, actual, where: str = "") -> None:
    if isinstance(shown, dict):
        assert isinstance(actual, dict), where
        for key, value in shown.items():
            if key == "…":
                continue
            assert key in actual, f"{where}.{key} is missing"
            if key not in VOLATILE:
                fits(value, actual[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(actual, list) and len(actual) == len(shown), f"{where}: {actual}"
        for n, (one, other) in enumerate(zip(shown, actual, strict=True)):
            fits(one, other, f"{where}[{n}]")
    elif not (isinstance(shown, str) and "…" in shown):
        assert shown == actual, f"{where}: shown {shown!r}, got {actual!r}"


def test_the_curl_examples_answer_as_documented(store_urls):
    assert shutil.which("curl"), "curl is needed to run the examples of docs/service.md"
    found = examples()
    assert len(found) >= 8 and all(shown is not None for _, shown in found)
    with live(store_urls.new("sqlite")) as running:
        env = {**os.environ, "PUNCHCARD": running.url, "TOKEN": running.token}
        for script, shown in found:
            ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                 env=env, timeout=60, check=False)
            assert ran.returncode == 0, (script, ran.stderr)
            fits(json.loads(shown), json.loads(ran.stdout), script.split("\n")[0])
