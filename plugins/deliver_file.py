"""Built-in plugin: delivers messages to a file, one JSON object a line (the demo, tests,
or a host that picks messages up from a file).

It delivers every channel when ``PUNCHCARD_DELIVERY_FILE`` names the file
(``punchcard messages send --deliver-to FILE`` does the same for one run). Each message
is appended as a line (``id``, ``member_id``, ``channel``, ``locale``, ``text``),
flushed and fsynced before ``deliver`` returns. An id already in the file is dropped, so
a message delivered again after a sender was killed appears once. Writers hold an
exclusive lock on the file (``flock``) while they read the ids added since they last
looked and append, so two senders on one file keep it whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .hookspecs import hookimpl

try:
    import fcntl
except ImportError:  # not POSIX: one writer per file
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileDelivery", "DELIVERY_FILE_ENV", "punchcard_deliveries", "delivered"]

DELIVERY_FILE_ENV = "PUNCHCARD_DELIVERY_FILE"
# punchcard.engine.runtime.message.CHANNELS, spelled out: loading plugins must not load the engine
CHANNELS = ("sms", "push", "email")


def delivered(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The messages in a delivery file, in order (a line cut short by a crash is skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class FileDelivery:
    """Appends each message to ``path`` as a JSON line, once per id."""

    name = "file"
    channels = CHANNELS

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: set[str] = set()
        self._read = 0  # bytes of the file whose ids are in _seen

    def deliver(self, message: Mapping[str, Any]) -> str | None:
        """Append the message unless its id is in the file; the receipt is its line's offset."""
        line = json.dumps(dict(message), ensure_ascii=False, default=str) + "\n"
        with open(self.path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            self._catch_up(handle)
            if str(message["id"]) in self._seen:
                return None
            handle.seek(0, os.SEEK_END)
            start = handle.tell()
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            self._read = handle.tell()
            self._seen.add(str(message["id"]))
        return f"{self.path.name}@{start}"

    def _catch_up(self, handle: Any) -> None:
        """Read the ids written since last time; end a line a crash cut short."""
        handle.seek(self._read)
        added = handle.read()
        if added and not added.endswith(b"\n"):
            handle.write(b"\n")  # the cut line stays unreadable, and the next one starts clean
            added += b"\n"
        for raw in added.splitlines():
            try:
                self._seen.add(str(json.loads(raw)["id"]))
            except (ValueError, KeyError, TypeError):
                continue
        self._read += len(added)


@hookimpl
def punchcard_deliveries() -> list[FileDelivery]:
    path = os.environ.get(DELIVERY_FILE_ENV)
    return [FileDelivery(path)] if path else []
