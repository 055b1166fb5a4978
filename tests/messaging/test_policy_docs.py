"""docs/messages.md's policy part: the `punchcard message` run it shows is what the command prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from punchcard.cli import _register_commands, app

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "messages.md").read_text(encoding="utf-8")


def test_the_message_run_shown_is_what_the_command_prints(monkeypatch):
    _register_commands()
    monkeypatch.chdir(ROOT)
    (command,) = re.findall(r"```sh\n(punchcard message .*?)```", PAGE, re.S)
    (shown,) = re.findall(r"```text\n(event p-1 .*?)```", PAGE, re.S)
    args = shlex.split(command.replace("\\\n", " "))[1:]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output == shown


def test_the_message_command_says_when_a_ruleset_has_no_messages(monkeypatch):
    _register_commands()
    monkeypatch.chdir(ROOT)
    event = '{"type": "purchase", "id": "p-1", "member": "m", "time": "2026-03-02T10:00:00", "amount": 5}'
    result = CliRunner().invoke(app, ["message", "rulesets/coffee-club.yaml", "--event", event])
    assert result.exit_code == 1 and "has no messages: section" in result.output


def test_the_message_command_gives_json_with_every_check(monkeypatch):
    import json

    _register_commands()
    monkeypatch.chdir(ROOT)
    event = '{"type": "purchase", "id": "p-2", "member": "vera", "time": "2026-03-02T10:00:00", "amount": 7, ' \
            '"category": "food"}'
    member = '{"id": "vera", "first_name": "Vera", "birth_date": "2011-01-01", "marketing_opt_in": true}'
    result = CliRunner().invoke(app, ["message", "rulesets/compliance-strict.yaml", "--event", event, "--member",
                                      member, "--format", "json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["messages"] == []
    assert [(s["message"], s["reason"], s["rule"]) for s in view["suppressed"]] == [
        ("thanks", "compliance", "no-messages-to-minors")]
