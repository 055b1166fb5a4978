"""What bench_durable.py needs beside the measuring: running another revision's sources,
and counting round trips between a client and PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import selectors
import socket
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["use_sources", "RoundTripProxy"]

# punchcard's packages and the folders they live in (pyproject's package-dir)
PACKAGES = {"punchcard": "punchcard", "punchcard.dsl": "dsl", "punchcard.engine": "engine",
            "punchcard.grammar": "grammar", "punchcard.plugins": "plugins", "punchcard.rulesets": "rulesets"}


class _SourcesFinder:
    """Finds punchcard's top-level packages under one checkout's folders."""

    root: Path

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        folder = PACKAGES.get(fullname)
        if folder is None:
            return None
        where = cls.root / folder
        return importlib.util.spec_from_file_location(fullname, where / "__init__.py",
                                                      submodule_search_locations=[str(where)])


def use_sources(root: Path) -> None:
    """Import punchcard from the checkout at ``root`` rather than the installed one (before
    anything of punchcard is imported). The editable install's finder is put aside."""
    if any(name == "punchcard" or name.startswith("punchcard.") for name in sys.modules):
        raise RuntimeError("punchcard was imported before its sources were chosen")
    sys.meta_path[:] = [finder for finder in sys.meta_path if "editable" not in repr(finder).lower()]
    _SourcesFinder.root = root
    sys.meta_path.insert(0, _SourcesFinder)


LENGTH_BYTES = 4  # a message's length, big-endian, counting itself
WAITS = (b"S", b"Q")  # Sync and Query: the client waits for the server after them


class RoundTripProxy:
    """A unix-socket proxy in front of a local PostgreSQL cluster that counts round trips
    (its ``turns``): the messages after which a client waits for the server, which in
    PostgreSQL's protocol are ``Sync`` (the end of a statement, or of a whole pipeline)
    and ``Query`` (a simple-protocol command such as ``COMMIT``). Counting what the client
    sends, rather than when, does not mistake a pipeline's streamed answers for waits."""

    def __init__(self, databases):
        self.cluster = databases.cluster
        self.dir = Path(tempfile.mkdtemp(prefix="punchcard-proxy-"))
        self.turns = 0
        self._listener: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def url_for(self, url: str) -> str:
        """``url`` (a database of the cluster, reached by its unix socket) through the proxy."""
        self._start(url)
        parts = urlsplit(url)
        query = [(key, str(self.dir) if key == "host" else value) for key, value in parse_qsl(parts.query)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _start(self, url: str) -> None:
        if self._thread is not None:
            return
        query = dict(parse_qsl(urlsplit(url).query))
        self.target = os.path.join(query["host"], f".s.PGSQL.{query.get('port', '5432')}")
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(self.dir / f".s.PGSQL.{query.get('port', '5432')}"))
        self._listener.listen()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=0.2):
                if key.data is None:
                    self._accept()
                else:
                    self._forward(*key.data)

    def _accept(self) -> None:
        client, _ = self._listener.accept()  # type: ignore[union-attr]
        server = socket.socket(socket.AF_UNIX)
        server.connect(self.target)
        state = {"buffer": b"", "started": False}  # the client's unparsed bytes; past its startup message
        self._selector.register(client, selectors.EVENT_READ, (client, server, state, True))
        self._selector.register(server, selectors.EVENT_READ, (server, client, state, False))

    def _forward(self, source: socket.socket, sink: socket.socket, state: dict, from_client: bool) -> None:
        if source.fileno() == -1:  # closed by its other end's EOF earlier in the same select()
            return
        data = source.recv(65536)
        if not data:
            for end in (source, sink):
                self._selector.unregister(end)
                end.close()
            return
        if from_client:
            self._count(state, data)
        sink.sendall(data)

    def _count(self, state: dict, data: bytes) -> None:
        """Parse the client's messages: the startup message has a length and no type byte;
        every later one a type byte, then a length that counts itself."""
        buffer = state["buffer"] + data
        while True:
            typed = 1 if state["started"] else 0  # bytes before the length
            if len(buffer) < typed + LENGTH_BYTES:
                break
            end = typed + int.from_bytes(buffer[typed:typed + LENGTH_BYTES], "big")
            if len(buffer) < end:
                break
            if typed and buffer[:1] in WAITS:
                self.turns += 1
            buffer, state["started"] = buffer[end:], True
        state["buffer"] = buffer

    def close(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout=2)
