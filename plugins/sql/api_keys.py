"""The service's API keys in the SQL store (table ``api_keys``, revision 0003).

Rows are plain dicts of the table's columns (``id``, ``name``, ``scopes`` space-separated,
``digest``, ``created_at``, ``revoked_at``): the service (punchcard/service/keys.py) makes
tokens and checks them; this module only keeps the rows. Each call is one short transaction
of its own, apart from any event's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update

from .errors import failures
from .errors import release as release_connection
from .models import ApiKeyRow
from .outbox import Ledger

__all__ = ["add", "get", "listing", "revoke"]

_K = ApiKeyRow.__table__


def _plain(row: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in _K.columns}


def add(store: Ledger, key: Mapping[str, Any]) -> None:
    with failures("adding an API key", store.shown_url):
        conn = store.begin()
        try:
            conn.execute(insert(_K).values(**dict(key)))
            conn.commit()
        finally:
            release_connection(conn)


def get(store: Ledger, key_id: str) -> dict[str, Any] | None:
    with failures("reading an API key", store.shown_url), store.read() as conn, conn.begin():
        row = conn.execute(select(_K).where(_K.c.id == key_id)).first()
        return _plain(row) if row is not None else None


def listing(store: Ledger) -> list[dict[str, Any]]:
    with failures("listing API keys", store.shown_url), store.read() as conn, conn.begin():
        return [_plain(row) for row in conn.execute(select(_K).order_by(_K.c.created_at, _K.c.id))]


def revoke(store: Ledger, key_id: str, at: dt.datetime) -> bool:
    """Revoke a live key: whether this call did (False: no such key, or revoked already)."""
    with failures("revoking an API key", store.shown_url):
        conn = store.begin()
        try:
            changed = conn.execute(update(_K).where(_K.c.id == key_id, _K.c.revoked_at.is_(None))
                                   .values(revoked_at=at)).rowcount
            conn.commit()
            return bool(changed)
        finally:
            release_connection(conn)
