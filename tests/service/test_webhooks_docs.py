"""docs/service.md's "Webhooks" section says what the code does: its types are the ones
sent, its payload has the fields sent, its Python example runs, and its openssl recipe
accepts a real signature and refuses a tampered body or an old timestamp."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from punchcard.engine.runtime.decision import Decision, Effect, Outcome
from punchcard.engine.runtime.webhooks import EVENT_TYPES, webhook_requests
from punchcard.service.webhooks import sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"
SECRET = "whsec_docs"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.find("\n## Webhooks\n")
    assert start >= 0, "docs/service.md has no '## Webhooks' section"
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", _section(), re.M | re.S)


def test_the_types_in_the_table_are_the_types_sent():
    listed = re.findall(r"^\| `([a-z]+\.[a-z]+)` \|", _section(), re.M)
    assert sorted(listed) == sorted(EVENT_TYPES)


def test_the_example_payload_has_the_fields_sent():
    (example,) = _blocks("json")
    payload = json.loads(example)
    decision = Decision("p-1", "m", "retail-tiers@1.0.0", Outcome.APPLIED, effects=(
        Effect("tier_change", None, None, {"from": "standard", "to": "gold", "direction": "up", "why": "x"}),))
    (sent,) = webhook_requests(decision)
    assert payload.keys() == sent.keys() and payload["data"].keys() == sent["data"].keys()
    assert payload["type"] in EVENT_TYPES and payload["id"] == f"{payload['event_id']}/webhook/1"


def test_the_python_example_runs(capsys):
    (code,) = _blocks("python")
    exec(compile(code, str(DOC), "exec"), {})
    assert "tier.changed m-42" in capsys.readouterr().out


def _recipe(body: str, header: str) -> str:
    (recipe,) = [block for block in _blocks("sh") if "openssl dgst" in block]
    env = {"BODY": body, "HEADER": header, "SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    return subprocess.run(["sh", "-c", recipe], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_the_openssl_recipe_agrees_with_the_signature():
    body = '{"id":"r-1/webhook/1","type":"points.redeemed","data":{"points":"60"}}'
    now = int(time.time())
    assert _recipe(body, sign(body.encode(), SECRET, now)) == "valid"
    assert _recipe(body.replace("60", "600"), sign(body.encode(), SECRET, now)) == "invalid"
    assert _recipe(body, sign(body.encode(), "another", now)) == "invalid"
    assert _recipe(body, sign(body.encode(), SECRET, now - 3600)) == "too old"
