"""Which URLs the SQL ledger handles, and how they are shown (no SQLAlchemy import, so
plugin discovery stays light)."""

from __future__ import annotations

import re

__all__ = ["backend_of", "redact", "SCHEMES"]

SCHEMES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql": "postgresql",
           "postgresql+psycopg": "postgresql", "postgres": "postgresql", "postgres+psycopg": "postgresql"}
HIDDEN = "***"
# A query parameter that carries a secret: password, sslpassword, passfile, token, ...
_SECRET_PARAM = re.compile(r"(^|&)([^=&#]*(?:pass|secret|token)[^=&#]*)=([^&#]*)", re.IGNORECASE)


def backend_of(url: str) -> str | None:
    """'sqlite', 'postgresql', or None for URLs another plugin should handle."""
    if not isinstance(url, str) or "://" not in url:
        return None
    return SCHEMES.get(url.split("://", 1)[0].lower())


def redact(url: str) -> str:
    """``url`` as it may be printed or logged: the password in ``user:password@`` and
    the value of any query parameter that names one (``?password=``, ``sslpassword``)
    replaced by ``***``; the rest exactly as given."""
    if not isinstance(url, str):
        return HIDDEN
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.split(':', 1)[0]}:{HIDDEN}@{host}"
    path, question, query = tail.partition("?")
    if question:
        query = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}={HIDDEN}", query)
    return f"{scheme}{sep}{authority}{path}{question}{query}"
