"""docs/messages.md, "The outbox and delivery": its shell walkthrough runs as written, with the
installed ``punchcard`` in a scratch folder, and prints the lines it shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from punchcard.engine.store import OUTBOX_STATUSES

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.search(r"^## The outbox and delivery\n(.*?)^## ", (ROOT / "docs/messages.md").read_text(encoding="utf-8"),
                    re.S | re.M)
assert SECTION is not None
[WALKTHROUGH] = re.findall(r"```sh\n(.*?)```", SECTION.group(1), re.S)
BIN = Path(sys.executable).parent  # the environment punchcard is installed in


@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)  # the "# ..." lines after it: what it prints
    says: str | None = None  # an inline "# ...: text" comment: text it prints


def steps(text: str) -> list[Step]:
    """The walkthrough as commands (a here-document kept whole), each with the output it shows."""
    out: list[Step] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("# "):
            out[-1].shown.append(line[2:])
        elif "<<'EOF'" in line:
            body = [line]
            while (body_line := next(lines)) != "EOF":
                body.append(body_line)
            out.append(Step("\n".join([*body, "EOF"])))
        elif line.strip():
            command, _, comment = line.partition("   # ")
            out.append(Step(command.strip(), says=comment.rsplit(": ", 1)[-1] if comment else None))
    return out


def test_the_walkthrough_is_parsed():
    parsed = steps(WALKTHROUGH)
    assert sum(step.command.startswith("punchcard messages send") for step in parsed) == 3
    assert sum(bool(step.shown) or step.says is not None for step in parsed) >= 5


def test_the_walkthrough_runs_and_prints_what_it_shows(tmp_path):
    (tmp_path / "rulesets").mkdir()
    shutil.copy(ROOT / "rulesets/coffee-offers.yaml", tmp_path / "rulesets")
    env = {k: v for k, v in os.environ.items() if k != "PUNCHCARD_DELIVERY_FILE"}  # API settings: see conftest
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200", NO_COLOR="1")
    for step in steps(WALKTHROUGH):
        done = subprocess.run(["bash", "-c", step.command], check=False, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{step.command}\n{done.stderr}"
        printed = [line.rstrip() for line in done.stdout.splitlines()]
        if step.command.startswith("cat messages.jsonl"):  # a JSON line, wrapped in the doc
            assert [json.loads(line) for line in printed] == [json.loads(" ".join(step.shown))]
            continue
        for line in step.shown:
            assert line in printed, f"{step.command} printed {printed}, not {line!r}"
        if step.says is not None:
            assert step.says in done.stdout


def test_the_section_names_every_status_list_takes():
    assert f"[--status {'|'.join(OUTBOX_STATUSES)}]" in SECTION.group(1)
    assert all(f"`{status}`" in SECTION.group(1) for status in OUTBOX_STATUSES if status != "pending")
