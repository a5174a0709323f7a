"""Serving a snapshot: a session starts where the snapshot stopped.

Driven over the websocket without a browser (the browser tests cover the page itself), so it
also runs where no Chromium is installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path

import aiohttp
import pyte
import pytest

from scenarios.session import Session
from tests.serve.harness import LAB, ServeProcess

pytestmark = pytest.mark.skipif(importlib.util.find_spec("scenarios.snapshot") is None,
                                reason="scenarios.snapshot is not in this build")

COLS, ROWS = 150, 45


async def _session_shows(url: str, pattern: str, timeout: float = 60.0) -> str:
    """Open one session as the page would and wait until its terminal shows ``pattern``."""
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    regex = re.compile(pattern)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"{url}ws?width={COLS}&height={ROWS}") as ws:
        while True:
            text = "\n".join(screen.display)
            if regex.search(text):
                return text
            left = deadline - loop.time()
            assert left > 0, f"the session never showed {pattern!r}; it shows:\n{text}"
            message = await ws.receive(timeout=left)
            assert message.type == aiohttp.WSMsgType.BINARY or message.type == (
                aiohttp.WSMsgType.TEXT), f"the session ended: {message}\n{text}"
            if message.type == aiohttp.WSMsgType.BINARY:
                stream.feed(message.data)


async def _quit(url: str, timeout: float = 60.0) -> aiohttp.WSMessage:
    """Open a session; once it has drawn, close the dialog a snapshot opens with (escape),
    then press q (again every 3 s until the session ends); what the websocket says at the
    end. Never waits past ``timeout`` in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"{url}ws?width={COLS}&height={ROWS}") as ws:
        first = await ws.receive(timeout=timeout)
        assert first.type == aiohttp.WSMsgType.BINARY, first
        await ws.send_json(["stdin", "\x1b"])
        next_q = loop.time() + 1.0
        while True:
            now = loop.time()
            assert now < deadline, "the session did not end after escape and q"
            if now >= next_q:
                await ws.send_json(["stdin", "q"])
                next_q = now + 3.0
            try:
                message = await ws.receive(timeout=max(0.05, min(next_q, deadline) - now))
            except TimeoutError:
                continue
            if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                return message


def test_a_session_starts_from_the_snapshot(tmp_path: Path) -> None:
    from scenarios.snapshot import save_snapshot

    session = Session.load(str(LAB))
    session.step(1234)
    path = tmp_path / "lab.vmsnap"
    save_snapshot(session, path)
    server = ServeProcess(str(path), "--port", "0", "--paused")
    try:
        assert "serving snapshot serve-lab on" in server.output()
        text = asyncio.run(_session_shows(server.url, r"paused\s+t=\S+\s+events 1,234\b"))
        assert "RAM 4 MiB, 1,024 frames" in text
        server.wait_for_line(r"session 1 ended: tab closed")
        # q in the dashboard ends the session from its side: the websocket is closed
        ended = asyncio.run(_quit(server.url))
        assert ended.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), ended
        server.wait_for_line(r"session 2 ended: quit in the dashboard")
    finally:
        assert server.stop() == 0
