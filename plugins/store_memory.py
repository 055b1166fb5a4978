"""Built-in plugin: ``memory://`` opens an in-process store (tests, demos, dry runs).

Each URL opens a new, empty store; nothing outlives the process.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .hookspecs import hookimpl

__all__ = ["punchcard_open_store"]


@hookimpl
def punchcard_open_store(url: str) -> Any | None:
    if urlsplit(url).scheme != "memory":
        return None
    # Imported here so listing or checking plugins never loads the engine.
    from punchcard.engine.store import MemoryStore

    return MemoryStore()
