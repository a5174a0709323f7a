"""A ``vmlab serve`` process and browser pages whose terminal the tests can read.

The page draws its terminal (xterm.js) on a canvas, so its text is not in the DOM. What a
tab's terminal shows is read from the bytes the page receives on its websocket - the very
bytes xterm.js draws - fed through a terminal emulator (pyte) of the size the page asked for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

import pyte

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocket

ROOT = Path(__file__).resolve().parents[2]
LAB = Path(__file__).with_name("lab.toml")
#: Where Debian puts its Chromium (.ci/run installs it); VMLAB_CHROMIUM overrides.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The system's Chromium, or None."""
    explicit = os.environ.get("VMLAB_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class ServeProcess:
    """``vmlab serve`` in a child process, its output collected line by line."""

    def __init__(self, *args: str, start_timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-m", "scenarios.cli.main", "serve", *args]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # its own process group, so that stop() can press Ctrl-C as a terminal does: to the
        # server and every session at once
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        #: Every session process seen, so the tests can check that all of them are gone.
        self.seen_sessions: set[int] = set()
        line = self.wait_for_line(r"serving .* on (http://\S+)", start_timeout)
        match = re.search(r"on (http://\S+?/)", line)
        assert match, line
        self.url = match.group(1)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30.0, after: int = 0) -> str:
        """The first output line (from index ``after``) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r}; output:\n"
                                         + "\n".join(self.lines))
                self._changed.wait(min(left, 0.2))

    def sessions(self) -> set[int]:
        """Process ids of the sessions running now (the server's children)."""
        pid = self.proc.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        now = {int(p) for p in text.split()}
        self.seen_sessions |= now
        return now

    def wait_sessions(self, count: int, timeout: float = 20.0) -> set[int]:
        deadline = time.monotonic() + timeout
        while len(now := self.sessions()) != count:
            assert time.monotonic() < deadline, f"{len(now)} sessions, not {count}"
            time.sleep(0.1)
        return now

    def stop(self, timeout: float = 20.0) -> int:
        """Ctrl-C, as a terminal sends it (to the whole process group); the exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vmlab serve did not stop on Ctrl-C:\n"
                                 + self.output()) from None
        self._reader.join(5)
        return code


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class TerminalView:
    """What one page's terminal shows, rebuilt from the bytes its websocket receives."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.screen: pyte.Screen | None = None
        self.stream: pyte.ByteStream | None = None
        self.received = 0
        self.closed = False
        page.on("websocket", self._attach)

    def _attach(self, ws: WebSocket) -> None:
        query = parse_qs(urlparse(ws.url).query)
        cols = int(query.get("width", ["80"])[0])
        rows = int(query.get("height", ["24"])[0])
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)
        ws.on("close", self._closed)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes) and self.stream is not None:
            self.received += len(payload)
            self.stream.feed(payload)

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"') and self.screen:
            size = json.loads(payload)[1]
            self.screen.resize(int(size["height"]), int(size["width"]))

    def _closed(self, _ws: WebSocket) -> None:
        self.closed = True

    def text(self) -> str:
        return "\n".join(self.screen.display) if self.screen is not None else ""

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Wait until the terminal shows ``pattern``; fails with what it shows instead."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.text())
            if match:
                return match
            if time.monotonic() > deadline or self.closed:
                raise AssertionError(f"the terminal never showed {pattern!r}"
                                     f"{' (websocket closed)' if self.closed else ''}; "
                                     f"it shows:\n{self.text()}")
            self.page.wait_for_timeout(100)  # lets Playwright deliver the frames

    def status(self) -> tuple[str, str, int]:
        """The dashboard's status line: (state, simulated time, events)."""
        m = self.wait_for(r"(paused|running|ended)\s+t=(\S+)\s+events ([\d,]+)")
        return m.group(1), m.group(2), int(m.group(3).replace(",", ""))


#: Counts the distinct colours of a PNG (sampling every 7th pixel), in the page itself.
COUNT_COLOURS_JS = """async (b64) => {
  const img = new Image();
  img.src = "data:image/png;base64," + b64;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width; c.height = img.height;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 28) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
}"""
