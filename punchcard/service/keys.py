"""API keys: bearer tokens with scopes, kept in the store as SHA-256 digests.

A token reads ``pk_<id>_<secret>``: the id (12 hex digits) finds the key's row, and the
secret (32 random bytes, URL-safe base64) is never stored: the row keeps the SHA-256 of the
whole token, compared in constant time. The token is shown once, when the key is made.

The SQL store keeps keys in its ``api_keys`` table (revision 0003); a store without one (the
in-memory store of tests and demos) keeps them in a :class:`MemoryKeys` beside it, which lasts
as long as the process, as the store does. A key checked recently is remembered for
``cache_seconds``, so a revoked key stops working on every worker within that time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["SCOPES", "ApiKey", "KeyStore", "MemoryKeys", "KeyRing", "digest_of", "parse_token", "Unread", "UNREAD"]

SCOPES = ("events:write", "members:read", "rulesets:admin", "metrics:read")
_TOKEN = re.compile(r"^pk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_CACHE_MOST = 10_000
_NOBODY = hashlib.sha256(b"no such key").hexdigest()  # compared against when the id is unknown


class Unread(enum.Enum):
    """What the cache cannot answer without the store."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scopes": list(self.scopes),
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


@runtime_checkable
class KeyStore(Protocol):
    """Where keys are kept: rows as dicts of ``id, name, scopes, digest, created_at, revoked_at``."""

    def api_key_add(self, key: Mapping[str, Any]) -> None: ...

    def api_key_get(self, key_id: str) -> dict[str, Any] | None: ...

    def api_key_list(self) -> list[dict[str, Any]]: ...

    def api_key_revoke(self, key_id: str, at: dt.datetime) -> bool: ...


class MemoryKeys:
    """Keys of a store that keeps none itself, for as long as the process lives."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def api_key_add(self, key: Mapping[str, Any]) -> None:
        with self._lock:
            self._rows[str(key["id"])] = dict(key)

    def api_key_get(self, key_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(key_id)
            return dict(row) if row is not None else None

    def api_key_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted((dict(row) for row in self._rows.values()), key=lambda row: (row["created_at"], row["id"]))

    def api_key_revoke(self, key_id: str, at: dt.datetime) -> bool:
        with self._lock:
            row = self._rows.get(key_id)
            if row is None or row["revoked_at"] is not None:
                return False
            row["revoked_at"] = at
            return True


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> str | None:
    """The key id a token names, or None when it is not shaped like one of ours."""
    found = _TOKEN.match(token)
    return found.group(1) if found else None


def _key(row: Mapping[str, Any]) -> ApiKey:
    scopes = row["scopes"].split() if isinstance(row["scopes"], str) else list(row["scopes"])
    return ApiKey(str(row["id"]), str(row["name"]), tuple(scopes), row["created_at"], row["revoked_at"])


class KeyRing:
    """Makes, lists, revokes and checks keys in a :class:`KeyStore`."""

    def __init__(self, store: KeyStore, cache_seconds: float = 2.0) -> None:
        self.store, self.cache_seconds = store, cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    @classmethod
    def of(cls, store: Any, cache_seconds: float = 2.0) -> KeyRing:
        """The keys of ``store``: its own table, or (a store without one) a new :class:`MemoryKeys`."""
        return cls(store if isinstance(store, KeyStore) else MemoryKeys(), cache_seconds)

    def create(self, scopes: Iterable[str], name: str = "") -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token exists outside the caller)."""
        wanted = tuple(dict.fromkeys(scopes))
        unknown = [scope for scope in wanted if scope not in SCOPES]
        if unknown or not wanted:
            raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
        key_id = secrets.token_hex(6)
        token = f"pk_{key_id}_{secrets.token_urlsafe(32)}"
        row = {"id": key_id, "name": name or key_id, "scopes": " ".join(wanted), "digest": digest_of(token),
               "created_at": dt.datetime.now(dt.UTC), "revoked_at": None}
        self.store.api_key_add(row)
        return _key(row), token

    def list(self) -> list[ApiKey]:
        return [_key(row) for row in self.store.api_key_list()]

    def revoke(self, key_id: str) -> bool:
        self._cache.pop(key_id, None)
        return self.store.api_key_revoke(key_id, dt.datetime.now(dt.UTC))

    def check(self, token: str) -> ApiKey | None:
        """The live key whose token this is, or None (unknown, wrong secret, revoked)."""
        key_id = parse_token(token)
        return self._match(token, self._row(key_id) if key_id is not None else None)

    def check_cached(self, token: str) -> ApiKey | Unread | None:
        """:meth:`check` answered from the cache alone, without reading the store: ``UNREAD``
        when only the store can answer (an id not seen lately). For an event loop, which
        must not wait on the store."""
        key_id = parse_token(token)
        if key_id is None:  # not shaped like a token: no store knows it
            return self._match(token, None)
        cached = self._fresh(key_id)
        return UNREAD if cached is None else self._match(token, cached[1])

    @staticmethod
    def _match(token: str, row: Mapping[str, Any] | None) -> ApiKey | None:
        expected = row["digest"] if row is not None else _NOBODY
        matches = hmac.compare_digest(digest_of(token), expected)  # always compared: no early answer to time
        if row is None or not matches or row["revoked_at"] is not None:
            return None
        return _key(row)

    def _row(self, key_id: str) -> dict[str, Any] | None:
        cached = self._fresh(key_id)
        if cached is not None:
            return cached[1]
        read_at = time.monotonic()  # before the read: the row is no older than its age says
        row = self.store.api_key_get(key_id)
        if len(self._cache) > _CACHE_MOST:  # guessed ids cannot grow it without bound
            self._cache.clear()
        self._cache[key_id] = (read_at, row)
        return row

    def _fresh(self, key_id: str) -> tuple[float, dict[str, Any] | None] | None:
        """The cache's entry for ``key_id`` (when read, the row), if read in the last ``cache_seconds``."""
        cached = self._cache.get(key_id)
        return cached if cached is not None and time.monotonic() - cached[0] < self.cache_seconds else None
