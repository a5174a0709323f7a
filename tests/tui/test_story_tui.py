"""The story on screen: the current text under the status line, the Story tab with the
expectations live, the results screen at the end (and on r), and an opened snapshot's story."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from scenarios.session import Session
from scenarios.snapshot import load_snapshot, save_snapshot
from tests.tui.conftest import settle
from tests.tui.snapshot_app import make_app, make_session
from tui.app import VmlabApp
from tui.screens.results import ResultsScreen
from tui.screens.snapshot_opened import SnapshotOpenedScreen
from tui.widgets.story_panel import StoryLine

SIZE = (120, 40)


def _text(renderable: object, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _line(app: VmlabApp) -> str:
    return str(app.dashboard.query_one("#story-line", StoryLine).content)


def _story_tab(app: VmlabApp) -> str:
    return _text(app.dashboard.query_one("#story-body", Static).content)


def _results(app: VmlabApp) -> str:
    screen = app.screen
    assert isinstance(screen, ResultsScreen)
    return _text(screen.query_one("#results-table", Static).content)


async def test_story_line_follows_the_run() -> None:
    app = make_app(events=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _line(app).startswith("▸ The writer dirties 48 pages of log at random")
        app.step_events(30)
        await settle(pilot)
        assert _line(app) == "▸ Pages are under writeback: the disk is writing them."


async def test_story_line_shows_the_description_before_any_text() -> None:
    s = make_session()
    s.storyteller.hits.clear()  # as a scenario whose first text is not at the start
    app = VmlabApp(s, running=False, flavour="", tick=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _line(app) == s.scenario.description


async def test_a_long_story_text_wraps_and_points_at_the_story_tab_at_80x24() -> None:
    app = VmlabApp(Session.load("fsync-race-a"), running=False, flavour="", tick=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        line = app.dashboard.query_one("#story-line", StoryLine)
        shown = line.render().plain.splitlines()
        # two lines on a short terminal, the second ending in a pointer to the whole text
        assert len(shown) == 2 and line.size.height == 2
        assert shown[0].startswith("▸ Race A. writer dirties 1MiB")
        assert shown[1].endswith("… 7 Story") and all(len(r) <= 78 for r in shown)
    app = VmlabApp(Session.load("fsync-race-a"), running=False, flavour="", tick=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        line = app.dashboard.query_one("#story-line", StoryLine)
        assert line.size.height == 2 and "… 7 Story" not in line.render().plain


async def test_story_tab_shows_expectations_live_and_results_at_the_end() -> None:
    app = VmlabApp(Session.load("fsync-race-a"), running=False, flavour="", tick=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot)
        tab = _story_tab(app)
        assert "Race A scripted" in tab  # the description
        assert "story (1 of 6 shown)" in tab
        assert "expectations: 3 pending" in tab and tab.count("\npending ") == 3
        while not any(r.name == "stopped" for r in app.session.checkpoints):
            app.step_events(1)
        await settle(pilot)
        tab = _story_tab(app)
        assert "pdflush is stopped inside the window" in tab
        assert "expectations: 1 passed, 2 pending" in tab
        assert "pass    pdflush stopped before its first ->writepage" in tab
        assert not isinstance(app.screen, ResultsScreen)
        app.step_events(1_000_000)  # to the end: the results come up by themselves
        await settle(pilot)
        results = _results(app)
        assert "expectations         3 passed" in results
        assert "acked_bytes_lost     0" in results
        assert "stopped              end (power_cut)" in results
        assert "fsync waited for the page pdflush held" in results
        assert "Nothing fsync acknowledged was lost" in results  # where the story ended
        await pilot.press("escape")
        await settle(pilot)
        assert "expectations: 3 passed" in _story_tab(app)


async def test_results_show_what_race_a_lost_on_2_6_5() -> None:
    app = VmlabApp(Session.load("fsync-race-a", kernel="2.6.5"), running=False, flavour="",
                   tick=False)
    async with app.run_test(size=SIZE) as pilot:
        app.step_events(1_000_000)
        await settle(pilot)
        results = _results(app)
        assert "expectations         1 passed, 2 failed" in results
        assert results.splitlines()[0].startswith(
            "data lost            4,080 acknowledged bytes lost at the power cut")
        assert "acked_bytes_lost     4,080" in results
        assert "FAIL    nothing fsync acknowledged is lost at the power cut" in results
        assert "Lost: the power cut took page 0" in results
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("r")  # shows the same results again
        await settle(pilot)
        assert _results(app) == results


def _status(app: VmlabApp) -> str:
    return str(app.dashboard.query_one("#status").content)


async def test_status_line_counts_expectations_and_going_back_undecides_them() -> None:
    app = VmlabApp(Session.load("fsync-race-a", kernel="2.6.5"), running=False, flavour="",
                   tick=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "expect ✓0 ✗0 …3" in _status(app)
        while not any(r.name == "stopped" for r in app.session.checkpoints):
            app.step_events(1)
        await settle(pilot)
        assert "expect ✓1 ✗0 …2" in _status(app)
        app.step_events(1_000_000)
        await settle(pilot)
        assert "expect ✓1 ✗2 …0" in _status(app)
        await pilot.press("escape", "7")
        await settle(pilot)
        assert "expectations: 1 passed, 2 failed" in _story_tab(app)
        app.seek_to(3)  # back before the checkpoints: nothing is decided there
        await settle(pilot)
        assert app.final is None and "expect ✓0 ✗0 …3" in _status(app)
        assert "expectations: 3 pending" in _story_tab(app)


async def test_r_before_the_end_shows_the_results_so_far() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ResultsScreen) and not screen.results.final
        results = _results(app)
        assert "no expectations" in results
        assert "stopped              not ended" in results
        assert "events               30" in results


async def test_an_opened_snapshot_shows_the_story_as_it_stood(tmp_path: Path) -> None:
    saved = make_session()
    saved.run(until_events=30)
    path = tmp_path / "tiny.vmsnap"
    save_snapshot(saved, str(path))
    session = load_snapshot(str(path))
    app = VmlabApp(session, running=False, flavour="", tick=False, opened_from=str(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SnapshotOpenedScreen)
        opened = _text(screen.query_one("#opened-table", Static).content)
        assert "story         Pages are under writeback: the disk is writing them." in opened
        await pilot.press("escape")
        await settle(pilot)
        assert _line(app) == "▸ Pages are under writeback: the disk is writing them."
