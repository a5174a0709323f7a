"""``vmlab serve`` driven by a real browser: Debian's Chromium, headless, through Playwright.

Playwright is told where the system Chromium is (``executable_path``); it never downloads a
browser of its own. Where no Chromium is installed these tests skip and say so.

The screenshot of the dashboard as the browser drew it is kept: the test prints its path.
"""

from __future__ import annotations

import base64
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.serve.harness import (
    COUNT_COLOURS_JS,
    LAB,
    ServeProcess,
    TerminalView,
    alive,
    find_chromium,
)

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine (apt-get install chromium; .ci/run installs it): "
           "the browser tests of 'vmlab serve' did not run")

#: Big enough for the whole dashboard (it fits itself to smaller ones, too).
VIEWPORT = {"width": 1280, "height": 800}
#: The frame map's caption for lab.toml's 4 MiB of RAM.
MAP_CAPTION = "RAM 4 MiB, 1,024 frames"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def open_tab(context: BrowserContext, url: str) -> tuple[Page, TerminalView]:
    page = context.new_page()
    view = TerminalView(page)
    response = page.goto(url, wait_until="domcontentloaded")
    assert response is not None and response.status == 200, response
    return page, view


def wait_dashboard(page: Page, view: TerminalView) -> None:
    """The dashboard is up: the page got its first bytes and the terminal shows it."""
    page.wait_for_selector("body.-first-byte", state="attached", timeout=60_000)
    view.wait_for(r"vmlab serve-lab\s+kernel 2\.6\.7")
    view.wait_for(re.escape(MAP_CAPTION))


def screenshot_colours(page: Page, path: Path) -> int:
    png = page.screenshot(path=str(path))
    return int(page.evaluate(COUNT_COLOURS_JS, base64.b64encode(png).decode()))


def press(page: Page, key: str) -> None:
    page.focus("textarea.xterm-helper-textarea")
    page.keyboard.press(key)


def test_two_tabs_two_sessions_pause_close_and_limit(
        browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ServeProcess(str(LAB), "--port", "0", "--max-sessions", "2")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page_a, view_a = open_tab(context, server.url)
        page_b, view_b = open_tab(context, server.url)
        wait_dashboard(page_a, view_a)
        wait_dashboard(page_b, view_b)
        first = server.wait_sessions(2)

        # As a user clicks into the page: the terminal takes the keyboard, the app is told it
        # has the focus, and only then shows its footer of keys.
        page_a.focus("textarea.xterm-helper-textarea")
        view_a.wait_for(r"space Run/pause .* q Quit")
        shot = tmp_path / "vmlab-serve-dashboard.png"
        colours = screenshot_colours(page_a, shot)
        with capsys.disabled():  # said in every run: the artefact to look at
            print(f"\nscreenshot of the served dashboard: {shot}")
        assert page_a.query_selector("body.-closed") is None
        assert colours > 30, f"the page looks blank ({colours} colours): {shot}"

        # Space pauses tab A; tab B, its own session, keeps running.
        assert view_a.status()[0] == "running"
        press(page_a, "Space")
        view_a.wait_for(r"⏸ paused")
        a_before, b_before = view_a.status(), view_b.status()
        page_a.wait_for_timeout(1500)
        a_after, b_after = view_a.status(), view_b.status()
        assert a_after == a_before and a_after[0] == "paused"
        assert b_after[0] == "running" and b_after[2] > b_before[2]
        press(page_a, ".")  # one step, in A only
        view_a.wait_for(rf"events {a_after[2] + 1:,}\b")

        # A third tab is turned away with a page that says why.
        page_c = context.new_page()
        response = page_c.goto(server.url)
        assert response is not None and response.status == 503
        assert "All 2 vmlab sessions are in use" in page_c.inner_text("#vmlab-busy")

        # Closing tab A ends its session: its process goes and its place is free again.
        mark = len(server.lines)
        page_a.close()
        server.wait_for_line(r"session \d+ ended: tab closed \(1 of 2 in use\)", after=mark)
        left = server.wait_sessions(1)
        assert len(first - left) == 1 and not any(alive(p) for p in first - left)
        with urllib.request.urlopen(server.url, timeout=10) as again:
            assert again.status == 200 and b"data-session-websocket-url" in again.read()
        assert view_b.status()[0] == "running"
    finally:
        code = server.stop()  # with tab B still open: Ctrl-C ends its session
        context.close()
    out = server.output()
    assert code == 0, out
    assert "vmlab serve: stopped" in out and "Traceback" not in out, out
    assert "session 2 ended: server stopping (0 of 2 in use)" in out, out
    assert not any(alive(p) for p in server.seen_sessions), out


def test_an_idle_session_ends(browser: Browser) -> None:
    server = ServeProcess(str(LAB), "--port", "0", "--idle-timeout", "3s")
    try:
        context = browser.new_context(viewport=VIEWPORT)
        page, _view = open_tab(context, server.url)
        # the idle clock starts when the dashboard first draws; the page shows it drew
        page.wait_for_selector("body.-first-byte", state="attached", timeout=60_000)
        assert page.query_selector("body.-closed") is None
        server.wait_for_line(r"session 1 ended: no input for 3 s", timeout=20)
        page.wait_for_selector("body.-closed", state="attached", timeout=10_000)
        server.wait_sessions(0)
        context.close()
    finally:
        code = server.stop()
    assert code == 0, server.output()



def test_a_dashboard_that_cannot_start_ends_its_session(browser: Browser, tmp_path: Path) -> None:
    """The scenario file goes away after the server checked it: the tab's dashboard fails,
    the page says the session ended, and the server says why (with the dashboard's error)."""
    lab = tmp_path / "lab.toml"
    shutil.copy(LAB, lab)
    server = ServeProcess(str(lab), "--port", "0")
    lab.unlink()
    try:
        context = browser.new_context(viewport=VIEWPORT)
        page, _view = open_tab(context, server.url)
        page.wait_for_selector("body.-closed", state="attached", timeout=60_000)
        server.wait_for_line(r"session 1 ended: the dashboard exited with status 2")
        server.wait_for_line(r"^vmlab tui: .*lab\.toml")
        context.close()
    finally:
        code = server.stop()
    assert code == 0, server.output()
