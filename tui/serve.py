"""Serve the dashboard to web browsers: one dashboard process per browser tab.

textual-serve does the browser side (a page with xterm.js, a websocket per tab, and an
``AppService`` that runs the app as a child process speaking Textual's web driver protocol).
This module adds what a class needs on top of it:

* a limit on concurrent sessions (each is a whole Python process running the model), refused
  with a readable page, not a broken terminal;
* idle sessions end: a tab with no key, mouse or resize for the idle timeout is closed, and
  so is a tab that went away without saying so (the websocket heartbeat);
* page and websocket addresses taken from the request, so a server listening on every address
  (``--host 0.0.0.0``) works for a browser on another machine; a session is opened only for
  this server's own page (the websocket's Origin), not for another site's page in a browser
  that can reach the server;
* a clean stop on Ctrl-C or SIGTERM: every session is asked to quit, and killed if it does not.

It prints one line per session opened or ended, for the person who started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import itertools
import logging
import os
import shlex
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

#: Seconds a session is given to quit by itself before its process is killed.
QUIT_GRACE_S: Final = 5.0
#: Seconds between websocket heartbeats: a tab that vanished (laptop lid closed, network gone)
#: is noticed after about this long.
HEARTBEAT_S: Final = 15.0
#: Websocket close code "try again later" (RFC 6455 registry).
WS_TRY_AGAIN_LATER: Final = 1013
#: Websocket close code "going away": the idle timeout or the server stopping.
WS_GOING_AWAY: Final = 1001
#: Messages from the browser that mean someone is there (a ping is sent by the page itself).
_ACTIVITY: Final = frozenset({"stdin", "resize"})


class ServeError(Exception):
    """The server cannot start (port in use, address not available); one line."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``vmlab serve`` was asked for.

    Attributes:
        argv: the command each session runs (a dashboard on the scenario or snapshot).
        title: what the page shows while it connects.
        host: the address to listen on.
        port: the TCP port (0: any free port; the one chosen is printed).
        max_sessions: sessions that may run at once; one more tab is turned away.
        idle_timeout_s: a session with no input for this long ends (0: never).
        what: the scenario or snapshot, in words, for the start-up line.
    """

    argv: tuple[str, ...]
    title: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_sessions: int = 16
    idle_timeout_s: float = 1800.0
    what: str = ""


@dataclass
class _Live:
    """One browser tab's session."""

    number: int
    websocket: web.WebSocketResponse
    service: AppService = field(init=False)
    #: When someone last typed, clicked or resized (monotonic seconds); the idle clock
    #: starts when the dashboard first draws, as booting a big snapshot takes a while.
    last_input: float = field(default_factory=time.monotonic)
    drawn: asyncio.Event = field(default_factory=asyncio.Event)
    #: The server is ending the session (the tab went, idle, stopping).
    ending: bool = False
    why_ended: str = "tab closed"

    async def to_browser(self, data: bytes) -> None:
        """The dashboard's output, on its way to the tab."""
        if not self.drawn.is_set():
            self.drawn.set()
            self.last_input = time.monotonic()
        await self.websocket.send_bytes(data)

    async def quit(self) -> None:
        """The dashboard says it is leaving: close the tab's connection.

        It also says so when the server asked it to quit (the tab went, the server stops);
        only a dashboard that leaves by itself (q) has quit.
        """
        if not self.ending:
            self.why_ended = "quit in the dashboard"
        await self.websocket.close()


def session_command(argv: tuple[str, ...]) -> str:
    """The shell command textual-serve runs for each session.

    Ctrl-C in the server's terminal reaches every process of its group; the sessions ignore
    it (an ignored signal stays ignored across exec, and Python keeps it so) and are ended by
    the server instead, each told to quit through its websocket, in order.
    """
    return "trap '' INT; exec " + shlex.join(argv)


class DashboardServer(Server):
    """textual-serve's server with a session limit, idle sessions ended and a clean stop."""

    def __init__(self, options: ServeOptions, out: TextIO | None = None) -> None:
        super().__init__(session_command(options.argv), host=options.host, port=options.port,
                         title=options.title)
        self.options = options
        self.out = sys.stdout if out is None else out
        self.sessions: dict[int, _Live] = {}
        self._numbers = itertools.count(1)
        self._stopping = False

    # ---- messages for the person who started the server ----------------------------------

    def say(self, text: str) -> None:
        print(f"vmlab serve: {text}", file=self.out, flush=True)

    def _in_use(self) -> str:
        return f"{len(self.sessions)} of {self.options.max_sessions} in use"

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.options.max_sessions

    # ---- the page ---------------------------------------------------------------------------

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; vmlab prints its line once it listens."""

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """The page that opens a session, or a short page saying all sessions are taken.

        Addresses come from the request, not from the listening address: with ``--host
        0.0.0.0`` the browser must be sent back to the name it used.
        """
        if self.full:
            return _busy_page(self.options.max_sessions)
        origin = f"{request.scheme}://{request.host}"
        ws_origin = ("wss://" if request.scheme == "https" else "ws://") + request.host
        font_size = _int_or(request.query.get("fontsize", "16"), 16)
        context: dict[str, Any] = {
            "font_size": font_size,
            "app_websocket_url": ws_origin + str(request.app.router["websocket"].url_for()),
            "config": {"static": {"url": origin + "/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    # ---- sessions ---------------------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab's session: start the dashboard, relay its input, end it when the tab goes."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            # another site's page in the same browser may not open sessions here
            self.say(f"refused a session asked for by a page of {origin}")
            raise web.HTTPForbidden(text="vmlab serve: sessions are for this server's page")
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        await websocket.prepare(request)
        if self._stopping:
            await websocket.close(code=WS_GOING_AWAY, message=b"the vmlab server is stopping")
            return websocket
        if self.full:
            self.say(f"turned a tab away: all sessions taken ({self._in_use()})")
            await websocket.close(code=WS_TRY_AGAIN_LATER,
                                  message=b"all vmlab sessions are in use")
            return websocket
        width = _int_or(request.query.get("width", "80"), 80)
        height = _int_or(request.query.get("height", "24"), 24)
        live = _Live(next(self._numbers), websocket)
        live.service = AppService(self.command, write_bytes=live.to_browser,
                                  write_str=websocket.send_str, close=live.quit,
                                  download_manager=self.download_manager)
        service = live.service
        self.sessions[live.number] = live
        self.say(f"session {live.number} opened for {request.remote} ({self._in_use()})")
        watchers = [asyncio.create_task(self._end_when_idle(live))]
        try:
            await service.start(width, height)
            watchers.append(asyncio.create_task(self._end_with_the_dashboard(live)))
            await self._relay(live)
        except asyncio.CancelledError:
            live.why_ended = "server stopping"
        except Exception as exc:  # a broken session must not take the server down
            live.why_ended = f"error: {exc}"
        finally:
            for task in watchers:
                task.cancel()
            await self._end(live)
        return websocket

    async def _relay(self, live: _Live) -> None:
        """Pass the browser's keys, mouse and size to the dashboard until the tab goes."""
        service = live.service
        async for message in live.websocket:
            if message.type != WSMsgType.TEXT:
                continue
            envelope = message.json()
            if not isinstance(envelope, list) or not envelope:
                continue
            kind = envelope[0]
            if kind in _ACTIVITY:
                live.last_input = time.monotonic()
            if kind == "stdin":
                await service.send_bytes(str(envelope[1]).encode("utf-8"))
            elif kind == "resize":
                size = envelope[1]
                await service.set_terminal_size(int(size["width"]), int(size["height"]))
            elif kind == "ping":
                await live.websocket.send_json(["pong", envelope[1]])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def _end_when_idle(self, live: _Live) -> None:
        """Close the tab's websocket once nobody has typed, clicked or resized for a while."""
        limit = self.options.idle_timeout_s
        if limit <= 0:
            return
        await live.drawn.wait()
        while True:
            left = live.last_input + limit - time.monotonic()
            if left <= 0:
                live.why_ended = f"no input for {_seconds(limit)}"
                await live.websocket.close(code=WS_GOING_AWAY,
                                           message=b"vmlab session ended: idle")
                return
            await asyncio.sleep(left)

    async def _end_with_the_dashboard(self, live: _Live) -> None:
        """Close the tab when its dashboard process ends without saying so (a crash, or a
        scenario that cannot load any more): the page then says the session ended, instead
        of showing a terminal that never changes again."""
        process = _process(live.service)
        if process is None:
            return
        code = await process.wait()
        if not live.websocket.closed and not live.ending:
            # status 0: q; its own goodbye may still be in the pipe, racing this
            live.why_ended = ("quit in the dashboard" if code == 0
                              else f"the dashboard exited with status {code}")
            await live.websocket.close(code=WS_GOING_AWAY,
                                       message=b"the vmlab dashboard exited")

    async def _end(self, live: _Live) -> None:
        """Ask the dashboard to quit, kill it if it does not, and free its place."""
        live.ending = True
        process = _process(live.service)
        try:
            await asyncio.wait_for(asyncio.shield(live.service.stop()), QUIT_GRACE_S)
            if process is not None:
                await asyncio.wait_for(process.wait(), QUIT_GRACE_S)
        except (TimeoutError, asyncio.CancelledError, ConnectionError, RuntimeError):
            live.why_ended += " (killed: it did not quit)"
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if not live.websocket.closed:
            with contextlib.suppress(Exception):
                await live.websocket.close(code=WS_GOING_AWAY)
        if self.sessions.pop(live.number, None) is not None:
            self.say(f"session {live.number} ended: {live.why_ended} ({self._in_use()})")

    async def on_shutdown(self, app: web.Application) -> None:
        """Ctrl-C: end every session before the server goes."""
        self._stopping = True
        if self.sessions:
            self.say(f"ending {len(self.sessions)} session(s)")
        for live in list(self.sessions.values()):
            live.why_ended = "server stopping"
            with contextlib.suppress(Exception):
                await live.websocket.close(code=WS_GOING_AWAY,
                                           message=b"the vmlab server stopped")

    # ---- running ----------------------------------------------------------------------------

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl-C or SIGTERM. Raises ServeError if the port cannot be had."""
        logging.basicConfig(level=logging.WARNING, format="vmlab serve: %(message)s")
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=QUIT_GRACE_S)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                raise ServeError(_listen_error(self.host, self.port, exc)) from None
            self.say(self._start_line(_bound_port(site, self.port)))
            await stop.wait()
            self.say("stopping")
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await runner.cleanup()
        self.say("stopped")

    def _start_line(self, port: int) -> str:
        o = self.options
        wildcard = self.host in ("", "0.0.0.0", "::")
        url = f"http://{socket.gethostname() if wildcard else _url_host(self.host)}:{port}/"
        where = " (listening on every address of this machine)" if wildcard else ""
        idle = (f"idle sessions end after {_seconds(o.idle_timeout_s)}"
                if o.idle_timeout_s > 0 else "idle sessions are kept")
        return (f"serving {o.what} on {url}{where}; up to {o.max_sessions} sessions, "
                f"{idle}; Ctrl-C stops")


def serve(options: ServeOptions) -> None:
    """Run the server until Ctrl-C (ServeError if it cannot listen)."""
    # Sessions inherit the environment: make them run the same vmlab as the server.
    os.environ["PYTHONPATH"] = _path_with_this_vmlab(os.environ.get("PYTHONPATH", ""))
    DashboardServer(options).serve()


# ---- small helpers ------------------------------------------------------------------------

def _busy_page(limit: int) -> web.Response:
    text = html.escape(f"All {limit} vmlab sessions are in use. "
                       "Try again when someone closes a tab.")
    body = (f"<!DOCTYPE html><html><head><title>vmlab: busy</title></head>"
            f"<body><p id='vmlab-busy'>{text}</p></body></html>")
    return web.Response(status=503, text=body, content_type="text/html",
                        headers={"Retry-After": "30"})


def _process(service: AppService) -> asyncio.subprocess.Process | None:
    """A session's process (textual-serve keeps it private, and does not wait for it)."""
    process = getattr(service, "_process", None)
    return process if isinstance(process, asyncio.subprocess.Process) else None


def _listen_error(host: str, port: int, exc: OSError) -> str:
    where = f"{_url_host(host)}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use on {host}; choose another with --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on {where} (ports below 1024 need privileges)"
    # aiohttp wraps the bind error in a longer sentence; the errno says it in a few words
    reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else (exc.strerror or str(exc))
    return f"cannot listen on {where}: {reason}"


def _bound_port(site: web.TCPSite, asked: int) -> int:
    """The port actually bound (``--port 0`` lets the system choose)."""
    server = site._server  # aiohttp exposes the listening sockets only here
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        return int(sock.getsockname()[1])
    return asked


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _int_or(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _seconds(s: float) -> str:
    if s >= 60 and s % 60 == 0:
        return f"{int(s // 60)} min"
    return f"{s:g} s"


def _path_with_this_vmlab(pythonpath: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.pathsep.join(p for p in (root, pythonpath) if p)
