"""``vmlab serve`` without a browser: its options, bad input, a port in use, the start line."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys

import pytest

from scenarios.cli.main import SUBCOMMANDS, build_parser, main
from scenarios.cli.serve import session_argv
from tests.serve.harness import LAB, ROOT, ServeProcess
from tui.serve import DashboardServer, ServeOptions, session_command


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run vmlab; it must exit 2 with exactly one line on stderr, which is returned."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_serve_is_a_subcommand_with_its_options() -> None:
    assert SUBCOMMANDS["serve"][0] == "serve"
    args = build_parser().parse_args(["serve", "fork-cow", "--port", "0", "--host", "0.0.0.0",
                                      "--max-sessions", "3", "--idle-timeout", "90s"])
    assert (args.target, args.port, args.host, args.max_sessions, args.idle_timeout) == (
        "fork-cow", "0", "0.0.0.0", "3", "90s")
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.target, defaults.host, defaults.port) == ("default", "127.0.0.1", "8000")


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "vmlab serve writeback-order --paused" in out and "--max-sessions" in out


@pytest.mark.parametrize(("argv", "says"), [
    (["--port", "http"], "--port: 'http' is not a whole number"),
    (["--port", "70000"], "--port: 70000 is out of range"),
    (["--max-sessions", "0"], "--max-sessions: 0 is out of range"),
    (["--idle-timeout", "soon"], "--idle-timeout:"),
    (["--seed", "lots"], "--seed:"),
])
def test_bad_options_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                  says: str) -> None:
    assert says in _fails(capsys, "serve", str(LAB), *argv)


def test_a_bad_scenario_is_reported_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert "no-such-lab" in _fails(capsys, "serve", "no-such-lab", "--port", "0")


def test_a_port_in_use_is_one_clear_line(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # serve() sets it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = _fails(capsys, "serve", str(LAB), "--port", str(port))
    assert err == (f"vmlab serve: port {port} is already in use on 127.0.0.1; "
                   "choose another with --port\n")


def test_each_session_runs_a_dashboard_that_touches_no_files() -> None:
    args = build_parser().parse_args(["serve", os.path.relpath(LAB), "--seed", "5",
                                      "--kernel", "2.6.5", "--paused"])
    argv = session_argv(args)
    assert argv[:5] == [sys.executable, "-m", "scenarios.cli.main", "tui", str(LAB)]
    assert argv[5:] == ["--no-files", "--seed", "5", "--kernel", "2.6.5", "--paused"]
    builtin = session_argv(build_parser().parse_args(["serve", "fork-cow"]))
    assert builtin[4] == "fork-cow"


def test_the_session_command_ignores_ctrl_c_and_runs_the_dashboard() -> None:
    """The shell line textual-serve runs: it must reach the dashboard's argument parser."""
    command = session_command((sys.executable, "-m", "scenarios.cli.main", "tui",
                               "no-such-lab", "--no-files"))
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("vmlab tui: no-such-lab"), done.stderr


@pytest.mark.parametrize(("host", "shown"), [
    ("127.0.0.1", "http://127.0.0.1:8123/;"),
    ("::1", "http://[::1]:8123/;"),
    ("0.0.0.0", f"http://{socket.gethostname()}:8123/ (listening on every address"),
])
def test_the_start_line_gives_an_address_to_open(host: str, shown: str) -> None:
    options = ServeOptions(argv=("true",), title="t", host=host, port=8123, max_sessions=3,
                           idle_timeout_s=600, what="scenario serve-lab")
    line = DashboardServer(options, out=io.StringIO())._start_line(8123)
    assert line.startswith(f"serving scenario serve-lab on {shown}")
    assert "up to 3 sessions, idle sessions end after 10 min; Ctrl-C stops" in line


def test_an_address_not_on_this_machine_is_one_clear_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    err = _fails(capsys, "serve", str(LAB), "--host", "192.0.2.1", "--port", "0")
    assert err.startswith("vmlab serve: cannot listen on 192.0.2.1:0: ")


def test_the_page_follows_the_host_asked_for_and_other_sites_get_no_session() -> None:
    """No browser needed: the page's websocket address comes from the request (so a server on
    0.0.0.0 sends each browser back to the name it used), and a websocket asked for by a page
    of another site is refused before any session starts."""
    import asyncio

    import aiohttp

    server = ServeProcess(str(LAB), "--port", "0")

    async def probe() -> tuple[int, str, int, int]:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url, headers={"Host": "lab.example:8123"}) as page:
                html = await page.text()
                status = page.status
            try:
                await http.ws_connect(server.url + "ws",
                                      headers={"Origin": "http://elsewhere.example"})
                refused = 0
            except aiohttp.WSServerHandshakeError as exc:
                refused = exc.status
            async with http.get(server.url + "static/js/textual.js") as js:
                js_status = js.status
        return status, html, refused, js_status

    try:
        status, html, refused, js_status = asyncio.run(probe())
        assert status == 200 and js_status == 200
        assert 'data-session-websocket-url="ws://lab.example:8123/ws"' in html
        assert "http://lab.example:8123/static/js/textual.js" in html
        assert refused == 403
        server.wait_for_line(r"refused a session asked for by a page of "
                             r"http://elsewhere\.example")
        assert server.sessions() == set() and "opened" not in server.output()
    finally:
        assert server.stop() == 0
