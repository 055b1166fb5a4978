"""Access: no key, a wrong key, a revoked key or a wrong scope gets 401 or 403 and changes
nothing; keys are made, listed and revoked with ``punchcard keys``, and stored hashed."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from live_server import PUNCHCARD, live, make_key
from sqlalchemy import create_engine, text

from punchcard.service.state import Settings

EVENT = {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00", "amount": "150",
         "category": "coffee"}
# (method, path, body, the scope it needs)
CALLS = [
    ("POST", "/v1/events", EVENT, "events:write"),
    ("POST", "/v1/events/batch", {"events": [EVENT]}, "events:write"),
    ("POST", "/v1/events/dry", EVENT, "events:write"),
    ("GET", "/v1/members/masha", None, "members:read"),
    ("GET", "/v1/members/masha/decisions", None, "members:read"),
    ("GET", "/v1/members/masha/offers", None, "members:read"),
    ("GET", "/metrics", None, "metrics:read"),
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PUNCHCARD), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_without_the_right_key_nothing_is_done(backend, store_urls):
    url = store_urls.new(backend)
    reader, writer = make_key(url, "members:read"), make_key(url, "events:write")
    revoked = make_key(url, "events:write", "members:read", "metrics:read")
    assert _cli("keys", "revoke", revoked.split("_")[1], "--store", url).returncode == 0
    key_id = writer.split("_")[1]
    wrong_secret = f"pk_{key_id}_{'A' * 43}"
    with live(url, settings=Settings(key_cache_seconds=0)) as running:
        for method, path, body, scope in CALLS:
            for token in (None, "nonsense", wrong_secret, revoked, f"pk_{'0' * 12}_{'B' * 43}"):
                with running.client(token) as http:
                    answered = http.request(method, path, json=body)
                assert answered.status_code == 401, (path, token, answered.text)
                assert answered.headers["www-authenticate"].startswith("Bearer")
                assert answered.json()["type"].endswith("/unauthorized")
            wrong = reader if scope != "members:read" else writer
            with running.client(wrong) as http:
                forbidden = http.request(method, path, json=body)
            assert forbidden.status_code == 403 and forbidden.json()["type"].endswith("/forbidden"), path
        with running.client(reader) as http:
            assert http.get("/v1/members/masha").status_code == 404  # nothing was stored
            assert http.get("/v1/members/masha/decisions").json()["decisions"] == []
        with running.client(writer) as http:
            assert http.post("/v1/events", json=EVENT).json()["outcome"] == "applied"  # the same call, keyed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_keys_are_stored_hashed_listed_and_revoked(backend, store_urls):
    url = store_urls.new(backend)
    made = _cli("keys", "create", "--store", url, "--scope", "events:write", "--name", "till 3", "--format", "json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    token = key["token"]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(text("SELECT * FROM api_keys"))]
    engine.dispose()
    assert len(rows) == 1 and rows[0]["digest"] == hashlib.sha256(token.encode()).hexdigest()
    secret = token[len(f"pk_{key['id']}_"):]  # the random part (which may itself hold "_")
    assert len(secret) >= 40 and not any(secret in str(value) for value in rows[0].values())
    listed = _cli("keys", "list", "--store", url, "--format", "json")
    assert json.loads(listed.stdout)[0] | {"token": token} == key and token not in listed.stdout
    with live(url, settings=Settings(key_cache_seconds=0)) as running, running.client(token) as http:
        assert http.post("/v1/events", json=EVENT).status_code == 200
        assert _cli("keys", "revoke", key["id"], "--store", url).returncode == 0
        assert http.post("/v1/events", json=EVENT).status_code == 401
    assert _cli("keys", "revoke", key["id"], "--store", url).returncode == 1  # already revoked
    assert json.loads(_cli("keys", "list", "--store", url, "--format", "json").stdout)[0]["revoked_at"]


def test_a_scope_that_does_not_exist_is_refused(store_urls):
    refused = _cli("keys", "create", "--store", store_urls.new("sqlite"), "--scope", "everything")
    assert refused.returncode == 2 and "events:write" in refused.stderr and not refused.stdout


class _CountingKeys:
    """A key store that counts its reads."""

    def __init__(self):
        from punchcard.service.keys import MemoryKeys

        self.inner, self.reads = MemoryKeys(), 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def api_key_get(self, key_id):
        self.reads += 1
        return self.inner.api_key_get(key_id)


def test_the_cache_answers_a_key_seen_lately_without_the_store():
    """The event loop checks keys from the cache alone; only the store can answer for one
    not seen lately (or revoked meanwhile), and the loop never asks it."""
    from punchcard.service.keys import UNREAD, KeyRing

    store = _CountingKeys()
    ring = KeyRing(store, cache_seconds=60)
    key, token = ring.create(["events:write"])
    assert ring.check_cached(token) is UNREAD and store.reads == 0
    assert ring.check(token) == key and store.reads == 1
    assert ring.check_cached(token) == key and store.reads == 1
    assert ring.check_cached(token[:-1] + ("A" if token[-1] != "A" else "B")) is None  # wrong secret, same id
    assert ring.check_cached("not-a-token") is None and store.reads == 1
    ring.revoke(key.id)
    assert ring.check_cached(token) is UNREAD
    assert ring.check(token) is None and ring.check_cached(token) is None
    stale = KeyRing(store, cache_seconds=0)
    assert stale.check(token) is None and stale.check_cached(token) is UNREAD
