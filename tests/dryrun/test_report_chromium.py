"""The owner's report in a real headless Chromium: key sections screenshot, no console error.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ended by NUL on file descriptors 3 and 4), so no websocket library is
needed. Every console message of level error, every uncaught exception and every
browser log entry of level error fails the test. Screenshots go to pytest's tmp_path;
each must be a PNG of the section's size that is not one flat colour.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import struct
import subprocess
import threading
import zlib

import pytest
from test_html import FLAGS, _chromium

from punchcard.engine.dryrun.html import CHARTS, render_html

SECTIONS = ("rule-diff", "cost", "distribution", "summary", "charts", "changed")
_PNG = b"\x89PNG\r\n\x1a\n"
_TIMEOUT = 60


class Browser:
    """A headless Chromium on a DevTools pipe: commands, and the events seen meanwhile."""

    def __init__(self, binary: str, profile) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def wire() -> None:  # the protocol's fixed descriptors in the child, inheritable
            inbound, outbound = os.dup(to_child), os.dup(from_child)  # neither is 3 or 4, if those were ours
            os.dup2(inbound, 3)
            os.dup2(outbound, 4)

        flags = [f for f in FLAGS if not f.startswith("--virtual-time-budget")]
        self.process = subprocess.Popen(
            [binary, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire)  # noqa: PLW1509 - dup2 only; the reader thread starts after  # only 3 and 4 pass: Python's own descriptors close on exec
        os.close(to_child)
        os.close(from_child)
        self.events: list[dict] = []
        self._inbox: queue.Queue = queue.Queue()
        self._next = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buffer = b""
        while chunk := os.read(self._read, 1 << 16):
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                self._inbox.put(json.loads(message))
        self._inbox.put(None)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._inbox.get(timeout=_TIMEOUT)
            assert reply is not None, "the browser closed its DevTools pipe"
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, session: str, expression: str) -> None:
        """Until ``expression`` is true in the page (the charts mark themselves drawn)."""
        for _ in range(200):
            result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
            if result["result"].get("value") is True:
                return
            self.send("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r, 50))",
                                           "awaitPromise": True}, session)
        pytest.fail(f"the page never got to {expression}")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, queue.Empty, OSError):  # it may be gone already
            self.send("Browser.close")
        self.process.wait(timeout=_TIMEOUT)
        os.close(self._write)
        os.close(self._read)


def _open(browser: Browser, url: str) -> str:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        browser.send(f"{domain}.enable", {}, session)
    browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                        "mobile": False}, session)
    browser.send("Page.navigate", {"url": url}, session)
    browser.wait_for(session, f"document.body && document.body.dataset.chartsDrawn === '{len(CHARTS)}'")
    return session


def console_errors(events: list[dict]) -> list[str]:
    """Every error the page or the browser reported: console errors, exceptions, error log entries."""
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(params["exceptionDetails"])[:500])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append("log: " + params["entry"].get("text", ""))
    return out


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prior: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + prior[i]) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + prior[i]) // 2) & 255
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, prior[i], prior[i - bpp] if i >= bpp else 0)) & 255


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of pixels) of an 8-bit RGB or RGBA PNG, the kind Chromium writes."""
    assert data.startswith(_PNG), "not a PNG"
    chunks, at, idat = {}, len(_PNG), b""
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + size]
        idat += body if kind == b"IDAT" else b""
        chunks.setdefault(kind, body)
        at += 12 + size
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 4 if colour == 6 else 3
    raw, stride, rows = zlib.decompress(idat), width * bpp + 1, []
    prior = bytearray(width * bpp)
    for y in range(height):
        line = bytearray(raw[y * stride + 1:(y + 1) * stride])
        _unfilter(raw[y * stride], line, prior, bpp)
        rows.append(bytes(line))
        prior = line
    return width, height, rows


def _rect(browser: Browser, session: str, section: str) -> dict:
    expression = (f"(() => {{ const r = document.getElementById('{section}').getBoundingClientRect(); "
                  "return {x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height}; })()")
    reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    return reply["result"]["value"]


@pytest.fixture(scope="module")
def rendered(demo_report, tmp_path_factory):
    """The demo's report opened in Chromium: each key section's screenshot, and every event seen."""
    binary = _chromium()
    root = tmp_path_factory.mktemp("chromium")
    page = root / "report.html"
    page.write_text(render_html(demo_report), encoding="utf-8")
    browser = Browser(binary, root / "profile")
    try:
        session = _open(browser, page.as_uri())
        shots = {}
        for section in SECTIONS:
            rect = _rect(browser, session, section)
            clip = {**rect, "scale": 0.5}  # half size: enough to tell a drawing from a blank
            shot = browser.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                          "captureBeyondViewport": True}, session)
            path = root / f"{section}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            shots[section] = (path, rect)
        browser.send("Runtime.evaluate", {"expression": "1"}, session)  # the last console events are in
    finally:
        browser.close()
    return shots, browser.events


def test_the_page_reports_no_console_error(rendered):
    _, events = rendered
    assert console_errors(events) == []
    assert any(e.get("method") == "Page.loadEventFired" for e in events)  # the events really were listened to


def test_the_detector_sees_a_console_error(tmp_path):
    """A page that logs an error and throws is caught: the check above can fail."""
    binary = _chromium()
    page = tmp_path / "broken.html"
    page.write_text(f'<body data-charts-drawn="{len(CHARTS)}"><script>console.error("boom");'
                    "setTimeout(() => { throw new Error('bang'); }, 0);</script></body>", encoding="utf-8")
    browser = Browser(binary, tmp_path / "profile")
    try:
        session = _open(browser, page.as_uri())
        browser.send("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r, 100))",
                                          "awaitPromise": True}, session)
    finally:
        browser.close()
    errors = console_errors(browser.events)
    assert any("boom" in e for e in errors) and any("bang" in e for e in errors), errors


@pytest.mark.parametrize("section", SECTIONS)
def test_each_key_section_screenshot_is_a_drawing(rendered, section):
    shots, _ = rendered
    path, rect = shots[section]
    width, height, rows = decode_png(path.read_bytes())
    assert abs(width - rect["width"] / 2) <= 2 and abs(height - rect["height"] / 2) <= 2, (width, height, rect)
    assert width >= 300 and height >= 60, (width, height)
    background = rows[0][:3]
    step = 4 if len(rows[0]) == width * 4 else 3
    inked = sum(1 for row in rows for x in range(0, len(row), step) if row[x:x + 3] != background)
    assert inked > width * height // 50, f"{section}: only {inked} of {width * height} pixels differ"


def test_decode_png_reads_what_zlib_wrote():
    """The small decoder itself: a 2x2 RGB image with each filter kind."""
    pixels = [b"\x00\x00\x00\xff\xff\xff", b"\x10\x20\x30\x40\x50\x60"]
    raw = b"".join(bytes([1]) + bytes([r[0], r[1], r[2], (r[3] - r[0]) & 255, (r[4] - r[1]) & 255,
                                       (r[5] - r[2]) & 255]) for r in pixels)
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = _PNG + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    assert decode_png(data) == (2, 2, pixels)
