"""Pilot tests of every control and view of the dashboard, on the tiny scenario."""

from __future__ import annotations

import importlib.util

import pytest
from rich.table import Table
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Static, TabbedContent

from kernelmodel.view.vl_view import FS_ANON, vl_frame_states
from tests.tui.conftest import screen_text, settle, wait_paused
from tests.tui.snapshot_app import PAUSED_AT, TINY, make_app
from tui.app import NO_SNAPSHOTS, VmlabApp, palette_commands
from tui.driver import MODE_PAUSED, MODE_RUN, SPEEDS
from tui.keys import APP_KEYS
from tui.screens.help import HelpScreen
from tui.screens.page_detail import PageDetailScreen
from tui.widgets.event_log import EventLog
from tui.widgets.page_inspector import PageInspector
from tui.widgets.physmem_map import PhysMemMap
from tui.widgets.tasks import TasksPanel
from tui.widgets.text_update import wrapped_height

SIZE = (120, 40)
HAVE_SNAPSHOTS = importlib.util.find_spec("scenarios.snapshot") is not None


def _static_text(app: VmlabApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def _current(app: VmlabApp) -> object:
    """The active screen, typed loosely (the checks below change what it is)."""
    return app.screen


def _flag(value: bool) -> bool:
    """A widget flag read afresh (keeps the type checker from narrowing across key presses)."""
    return value


def _inspected_pfn(app: VmlabApp) -> int:
    info = app.dashboard.query_one("#inspector", PageInspector)._info
    assert info is not None
    return info.pfn


async def test_step_keys_dispatch_exactly_one_event() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.events == PAUSED_AT and app.mode == MODE_PAUSED
        await pilot.press("full_stop")
        await settle(pilot)
        assert app.events == PAUSED_AT + 1 == app.session.events
        await pilot.press("s")
        await settle(pilot)
        assert app.events == PAUSED_AT + 2
        assert app.mode == MODE_PAUSED


async def test_space_runs_and_pauses() -> None:
    app = make_app(0, tick=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
        assert app.speed == SPEEDS[0]
        await pilot.press("space")
        assert app.mode == MODE_RUN
        while app.events < 3:
            await pilot.pause(0.05)
        await pilot.press("space")
        await settle(pilot)
        assert app.mode == MODE_PAUSED
        stopped = app.events
        await pilot.pause(0.3)
        assert app.events == stopped == app.session.events


async def test_speed_keys() -> None:
    app = make_app(0)
    async with app.run_test(size=SIZE) as pilot:
        start = app.speed
        await pilot.press("plus")
        assert app.speed > start
        await pilot.press("minus", "minus")
        assert app.speed < start
        await pilot.press("equals_sign")
        assert app.speed == start


async def test_step_n_prompt() -> None:
    app = make_app(0, tick=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "ctrl+u", "5", "enter")
        await settle(pilot)
        assert app.events == 5
        await pilot.press("n", "ctrl+u", "2", "0", "enter")
        await wait_paused(pilot, app)
        assert app.events == 25
        legend = app.dashboard.query_one("#legend", Static)
        assert legend.size.height == wrapped_height(legend, legend.content) >= 2
        await pilot.press("n", "ctrl+u", "x", "enter")
        await settle(pilot)
        assert app.events == 25


async def test_run_to_next_checkpoint() -> None:
    app = make_app(0, tick=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await wait_paused(pilot, app)
        assert len(app.session.checkpoints) == 1
        first = app.session.checkpoints[0]
        assert app.last_checkpoint.startswith(first.name)
        await pilot.press("c")
        await wait_paused(pilot, app)
        assert len(app.session.checkpoints) == 2


async def test_jump_to_time() -> None:
    app = make_app(0, tick=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", "ctrl+u", *"+20ms", "enter")
        await wait_paused(pilot, app)
        now = app.session.sim_time_ns
        assert now <= 20_000_000 < app.session.kernel.machine.clock.peek_time()
        events = app.events
        await pilot.press("g", "ctrl+u", *"1ms", "enter")  # in the past: refused
        await settle(pilot)
        assert app.events == events and app.mode == MODE_PAUSED


async def test_map_cursor_keys_and_click_select_frames() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        assert fmap.has_focus and fmap.zoom == 1
        await pilot.press("right", "right", "l", "down", "j", "left", "h")
        await settle(pilot)
        expected = 1 + 2 * fmap.cols
        assert fmap.cursor == expected == app.dashboard.pfn
        assert _inspected_pfn(app) == expected
        assert f"pfn {expected:#x}" in _static_text(app, "#pi-page")
        states = vl_frame_states(app.session.kernel)
        anon = states.find(bytes([FS_ANON]))
        row, col = divmod(anon, fmap.cols)
        await pilot.click(fmap, offset=(fmap.label_width + col, row))
        await settle(pilot)
        assert fmap.cursor == anon and _inspected_pfn(app) == anon
        text = _static_text(app, "#pi-page")
        assert f"pfn {anon:#x}" in text and "anon" in text
        assert "anon_vma #" in _static_text(app, "#pi-rmap")
        assert "frame bytes" in _static_text(app, "#pi-hex")


async def test_tab_cycles_focus_through_the_panes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        assert fmap.has_focus
        inspector = app.dashboard.query_one("#inspector", PageInspector)
        seen = []
        for _ in range(4):
            await pilot.press("tab")
            seen.append(app.focused)
        # map -> tab bar -> page pane -> timeline (top of the screen) -> map
        assert inspector in seen and seen[-2] is app.dashboard.query_one("#timeline")
        assert seen[-1] is fmap
        await pilot.press("shift+tab", "shift+tab")
        assert inspector.has_focus


async def test_zoom_and_fit() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        await pilot.press("left_square_bracket")
        assert fmap.zoom == 2 and not fmap.fit
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert fmap.zoom == 1
        await pilot.press("f")
        assert _flag(fmap.fit) and fmap.zoom == 1
        await settle(pilot)
        assert "1 cell = 1 frame" in _static_text(app, "#legend")


async def test_page_detail_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("right", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PageDetailScreen) and app.screen.pfn == 1
        await pilot.press("right")
        assert app.screen.pfn == 2
        assert "frame 0x2" in str(app.screen.query_one("#detail-title", Static).content)
        await pilot.press("escape")
        await settle(pilot)
        assert _current(app) is app.dashboard


async def test_help_lists_every_key() -> None:
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table", Static).content
        assert isinstance(table, Table)
        text = "\n".join(str(cell) for col in table.columns for cell in col.cells)
        for k in APP_KEYS:
            assert k.shown in text and k.help in text
        for keys, _what in PhysMemMap.KEY_HELP + EventLog.KEY_HELP:
            assert keys in text
        for word in ("ctrl+p", "kind:", "task:", "file:", "frame:"):
            assert word in text
        await pilot.press("escape")
        assert _current(app) is app.dashboard


async def test_every_binding_is_documented_and_in_the_palette() -> None:
    bound = {b.action for b in VmlabApp.BINDINGS if not isinstance(b, tuple)}
    assert bound == {k.action for k in APP_KEYS}
    titles = {title for title, _action, _help in palette_commands()}
    assert {k.title for k in APP_KEYS} <= titles
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"step n", "enter")
        await settle(pilot)
        assert app.screen.query_one("#prompt-input", Input).value == "100"
        await pilot.press("escape")


async def test_tabs_show_each_view() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tabs = app.dashboard.query_one("#tabs", TabbedContent)
        for key, tab in zip("123456", ("page", "tasks", "cache", "disk", "stats", "events"),
                            strict=True):
            await pilot.press(key)
            await settle(pilot)
            assert tabs.active == tab
        text = screen_text(app)
        assert "toucher" in text  # the log's last records (faults and copies name the child)
        await pilot.press("2")
        await settle(pilot)
        table = app.dashboard.query_one("#task-table", DataTable)
        assert table.row_count == len(app.session.kernel.tasks)
        assert "fsync" in screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        tree = _static_text(app, "#radix-tree")
        assert "log (inode" in tree and "h1 [0..63]" in tree and "W" in tree
        await pilot.press("4")
        await settle(pilot)
        disk = _static_text(app, "#disk-state")
        assert disk.startswith("head sector") and "in service: #" in disk
        assert "requests by sector" in _static_text(app, "#disk-plot")
        await pilot.press("5")
        await settle(pilot)
        vm = app.dashboard.query_one("#vm-table", DataTable)
        assert vm.row_count > 40
        assert vm.get_cell("nr_writeback", "value") == f"{app.writeback_pages:,}"


async def test_task_walk_moves_the_map_cursor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.dashboard.query_one("#task-table", DataTable)
        table.move_cursor(row=4)  # pid 5, the toucher
        await settle(pilot)
        assert app.dashboard.query_one("#tasks-panel", TasksPanel).selected_pid == 5
        assert "0x40000000-0x40040000" in _static_text(app, "#vma-list")
        field = app.dashboard.query_one("#walk-address", Input)
        field.focus()
        await pilot.press(*"0x40001000", "enter")
        await settle(pilot)
        walk = _static_text(app, "#walk-result")
        assert "PTE @" in walk and "physical address" in walk
        frame = int(walk.split("PTE @")[1].split("frame ")[1].split()[0], 16)
        assert app.dashboard.pfn == frame


async def test_event_filter() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        log = app.dashboard.query_one("#log-tab", EventLog)
        total = len(log.rows)
        assert total > 0
        await pilot.press("slash")
        await settle(pilot)
        assert app.dashboard.active_tab == "events"
        await pilot.press(*"kind:dirty", "enter")
        await settle(pilot)
        assert 0 < len(log.rows) < total and {e.kind for e in log.rows} == {"dirty"}
        await pilot.press("slash", "ctrl+u", *"frame:zz", "enter")
        await settle(pilot)
        assert {e.kind for e in log.rows} == {"dirty"}  # refused; the filter stays
        await pilot.press("ctrl+u", *"task:toucher", "enter")
        await settle(pilot)
        assert log.rows and {e.comm for e in log.rows} == {"toucher"}
        await pilot.press("slash", "ctrl+u", "enter")
        await settle(pilot)
        assert len(log.rows) == total
        field = app.dashboard.query_one("#filter", Input)
        await pilot.press("slash")
        await settle(pilot)
        assert field.display and field.has_focus
        await pilot.press("escape")
        await settle(pilot)
        assert not _flag(field.display)
        await pilot.press("full_stop")
        await settle(pilot)
        assert len(log.rows) >= total


async def test_small_terminal_renders() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "tui-tiny" in text and "kernel 2.6.7" in text and "paused" in text
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        assert fmap.size.height >= 5 and fmap.cols >= 16
        assert not app.dashboard.has_class("-wide")
        for key in "123456":
            await pilot.press(key)
            await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)


async def test_large_terminal_docks_the_event_log() -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert app.dashboard.has_class("-wide")
        dock = app.dashboard.query_one("#log-dock", EventLog)
        assert dock.display and dock.size.height > 5 and dock.rows


async def test_open_a_scenario_file() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await settle(pilot)
        field = app.screen.query_one("#picker-path", Input)
        field.focus()
        await pilot.press(*str(TINY), "enter")
        await settle(pilot)
        assert app.events == 0 and app.session.events == 0
        assert app.mode == MODE_PAUSED
        assert len(app.dashboard.query_one("#log-tab", EventLog).rows) > 0


@pytest.mark.skipif(HAVE_SNAPSHOTS, reason="this build has scenarios.snapshot")
async def test_snapshot_keys_say_when_snapshots_are_missing() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        await settle(pilot)
        assert any(NO_SNAPSHOTS in str(n.message) for n in app._notifications)
        await pilot.press("L")
        await settle(pilot)
        assert app.screen is app.dashboard


@pytest.mark.skipif(not HAVE_SNAPSHOTS, reason="scenarios.snapshot is not in this build")
async def test_snapshot_save_then_load_restores_the_state(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "tiny.vmsnap"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        saved_hash = app.session.state_hash()
        await pilot.press("S", "ctrl+u", *str(path), "enter")
        await settle(pilot)
        assert path.exists()
        await pilot.press("full_stop", "full_stop")
        await settle(pilot)
        assert app.session.state_hash() != saved_hash
        await pilot.press("L", "ctrl+u", *str(path), "enter")
        await settle(pilot)
        assert app.session.state_hash() == saved_hash
        assert app.events == PAUSED_AT
        await pilot.press("escape")  # the dialog that says where the snapshot stands
        await pilot.press("full_stop")
        await settle(pilot)
        assert app.events == PAUSED_AT + 1


@pytest.mark.skipif(not HAVE_SNAPSHOTS, reason="scenarios.snapshot is not in this build")
async def test_loading_a_bad_snapshot_keeps_the_session(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "bad.vmsnap"
    bad.write_bytes(b"not a snapshot")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.session
        await pilot.press("L", "ctrl+u", *str(bad), "enter")
        await settle(pilot)
        assert app.session is before and app.events == PAUSED_AT
        assert any(n.severity == "error" for n in app._notifications)
