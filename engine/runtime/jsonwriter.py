"""Compact JSON writers made once.

``json.dumps`` with any option of its own builds a new encoder on every call, which costs
more than writing a small document; the engine writes one or more per event (the event's
digest, the stored decision, the ledger's details). A writer here is the same C encoder
``json.dumps`` would use, set up once, so its text is exactly ``json.dumps``'s."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import (  # type: ignore[attr-defined]  # not in typeshed
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any

__all__ = ["json_writer"]


def json_writer(default: Callable[[Any], Any], *, ascii: bool = False, sort_keys: bool = False,
                allow_nan: bool = False) -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), default=default, ensure_ascii=ascii,
    sort_keys=sort_keys, allow_nan=allow_nan)``, set up once. Values must not refer to
    themselves: the writer does not look for cycles."""
    if c_make_encoder is None:  # an interpreter without the C encoder
        return json.JSONEncoder(separators=(",", ":"), allow_nan=allow_nan, ensure_ascii=ascii,
                                sort_keys=sort_keys, default=default).encode
    escape = encode_basestring_ascii if ascii else encode_basestring
    encode = c_make_encoder(None, default, escape, None, ":", ",", sort_keys, False, allow_nan)
    return lambda value: "".join(encode(value, 0))
