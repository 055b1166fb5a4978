"""The curl examples of docs/service.md, run with bash against a server this test starts,
in document order, in a folder of their own (the deployment example writes a file): each
answer must be what the document shows beside it. A JSON answer must have every field shown,
with the value shown, except where it shows "…" or a value that differs per run; a text
answer (``text``) must have each line shown, "…" standing for any text. An example shown
without an answer must succeed. The Webhooks section runs no server commands; it has tests
of its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from live_server import live

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/service.md"
OTHERS = ("Webhooks",)
VOLATILE = {"instance", "at", "deployed_at"}  # a request id, the moment of the request or of a deployment
BLOCK = re.compile(r"^```(bash|json|text)\n(.*?)^```", re.S | re.M)  # at a line's start: not the indented ones


def examples() -> list[tuple[str, str | None, str | None]]:
    """(bash, the kind of answer shown after it, the answer), in document order, outside the
    others' sections. Only the first block after a command is its answer."""
    sections = re.split(r"^## ", DOC.read_text(), flags=re.M)
    found: list[tuple[str, str | None, str | None]] = []
    for section in sections:
        if section.split("\n", 1)[0].strip() in OTHERS:
            continue
        for kind, text in BLOCK.findall(section):
            if kind == "bash":
                found.append((text, None, None))
            elif found and found[-1][1] is None:
                found[-1] = (found[-1][0], kind, text)
    return found


def text_fits(shown: str, actual: str, where: str) -> None:
    lines = actual.splitlines()
    for line in shown.strip().splitlines():
        pattern = re.compile(".*".join(re.escape(part) for part in line.split("…")))
        assert any(pattern.fullmatch(got) for got in lines), f"{where}: no line like {line!r} in {actual!r}"


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


def test_the_curl_examples_answer_as_documented(store_urls, tmp_path):
    assert shutil.which("curl"), "curl is needed to run the examples of docs/service.md"
    found = examples()
    assert len(found) >= 14 and sum(kind is not None for _, kind, _ in found) >= 12
    (tmp_path / "rulesets").symlink_to(ROOT / "rulesets")  # the examples name files as from the checkout
    url = store_urls.new("sqlite")
    with live(url) as running:
        env = {**os.environ, "PUNCHCARD": running.url, "TOKEN": running.token, "STORE": url,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        for script, kind, shown in found:
            ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                 env=env, cwd=tmp_path, timeout=120, check=False)
            assert ran.returncode == 0, (script, ran.stderr)
            where = script.split("\n")[0]
            if kind == "json":
                fits(json.loads(shown), json.loads(ran.stdout), where)
            elif kind == "text":
                text_fits(shown, ran.stdout, where)
