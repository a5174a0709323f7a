"""A dashboard that may not touch files (what each 'vmlab serve' session runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.conftest import settle
from tests.tui.snapshot_app import PAUSED_AT, TINY, make_session
from tui.app import NO_FILES, VmlabApp

SIZE = (120, 40)


def _no_files_app() -> VmlabApp:
    app = VmlabApp(make_session(), running=False, flavour="", tick=False, files=False)
    app.driver.step(PAUSED_AT)
    return app


def _refusals(app: VmlabApp) -> int:
    return sum(NO_FILES in str(n.message) for n in app._notifications)


async def test_snapshot_keys_are_refused_and_write_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a saved snapshot would land by default
    app = _no_files_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.session.state_hash()
        await pilot.press("S")
        await settle(pilot)
        assert app.screen is app.dashboard and _refusals(app) == 1
        await pilot.press("L")
        await settle(pilot)
        assert app.screen is app.dashboard and _refusals(app) == 2
        assert app.session.state_hash() == before and app.events == PAUSED_AT
    assert list(tmp_path.iterdir()) == []


async def test_the_picker_refuses_scenario_files() -> None:
    app = _no_files_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.session
        await pilot.press("o")
        await settle(pilot)
        field = app.screen.query_one("#picker-path", Input)
        field.focus()
        await pilot.press(*str(TINY), "enter")
        await settle(pilot)
        assert app.session is before and app.events == PAUSED_AT
        assert _refusals(app) == 1
