"""Opening a snapshot in the dashboard: paused at its exact event, with a dialog that says
where it stands; ``--run`` runs it; ``R`` writes its bug report beside the snapshot."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from textual.widgets import Static

from scenarios.cli.main import build_parser, main
from scenarios.cli.tui_cmd import execute
from scenarios.snapshot import load_snapshot
from tests.scenarios.fixtures.make_fixtures import EVENTS, fixture_path
from tests.tui.conftest import settle
from tests.tui.snapshot_app import PAUSED_AT, make_app
from tui.app import VmlabApp
from tui.driver import MODE_PAUSED
from tui.screens.snapshot_opened import SnapshotOpenedScreen
from tui.widgets.event_log import EventLog

SIZE = (120, 40)
FIXTURE = fixture_path(4)


def _opened_text(app: VmlabApp) -> str:
    screen = app.screen
    assert isinstance(screen, SnapshotOpenedScreen)
    table = screen.query_one("#opened-table", Static)
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(table.content)
    return console.export_text()


def _captured(monkeypatch: pytest.MonkeyPatch) -> list[VmlabApp]:
    """Make VmlabApp.run record the app instead of taking over the terminal."""
    apps: list[VmlabApp] = []
    monkeypatch.setattr(VmlabApp, "run", lambda self, *a, **k: apps.append(self))
    return apps


def test_tui_opens_a_snapshot_paused_and_run_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    apps = _captured(monkeypatch)
    assert main(["tui", str(FIXTURE)]) == 0
    assert main(["tui", str(FIXTURE), "--run"]) == 0
    assert main(["tui", "fork-cow"]) == 0
    assert main(["tui", "fork-cow", "--paused"]) == 0
    paused, running, scenario, scenario_paused = apps
    assert (paused.start_running, paused.opened_from) == (False, str(FIXTURE))
    assert paused.session.events == EVENTS
    assert (running.start_running, running.opened_from) == (True, str(FIXTURE))
    assert (scenario.start_running, scenario.opened_from) == (True, None)
    assert scenario_paused.start_running is False


def test_run_and_paused_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["tui", "x.vmsnap", "--run", "--paused"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


async def test_a_snapshot_opens_at_its_event_with_its_expectations() -> None:
    session = load_snapshot(FIXTURE)
    app = VmlabApp(session, running=False, flavour="", tick=False, opened_from=str(FIXTURE))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.events == EVENTS and app.mode == MODE_PAUSED
        text = _opened_text(app)
        assert f"event {EVENTS}" in text and "paused here" in text
        assert "1 passed, 1 open" in text
        assert "pass" in text and "fsync_calls is 1" in text
        assert "decided at the end of the run" in text
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.dashboard
        assert app.events == EVENTS  # nothing ran meanwhile
        # the event log starts with the trace records the snapshot kept
        assert len(app.dashboard.query_one("#log-tab", EventLog).rows) > 0
        await pilot.press("full_stop")
        await settle(pilot)
        assert app.events == EVENTS + 1


async def test_load_key_opens_paused_with_the_dialog(tmp_path: Path) -> None:
    path = tmp_path / "fixture.vmsnap"
    shutil.copy(FIXTURE, path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L", "ctrl+u", *str(path), "enter")
        await settle(pilot)
        assert isinstance(app.screen, SnapshotOpenedScreen)
        assert app.events == EVENTS and app.mode == MODE_PAUSED
        assert str(path) in _opened_text(app)


async def test_report_key_saves_a_snapshot_and_its_report(tmp_path: Path) -> None:
    path = tmp_path / "here.vmsnap"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R", "ctrl+u", *str(path), "enter")
        await settle(pilot, 6)
        report = tmp_path / "here.md"
        assert path.exists() and report.exists()
        text = report.read_text()
        assert f"at event {PAUSED_AT}" in text and "vmlab resume here.vmsnap" in text
        assert any("report:" in str(n.message) for n in app._notifications)


def test_bare_namespace_still_opens_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    apps = _captured(monkeypatch)
    assert execute(argparse.Namespace(command=None)) == 0
    assert apps[0].start_running and apps[0].opened_from is None
