"""SVG snapshots of the dashboard's main screens (tiny scenario, paused at event 30).

The first run writes tests/tui/__snapshots__/ with ``pytest --snapshot-update``; review the
SVGs (open them in a browser) before committing them, as any other golden file.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from kernelmodel.view.vl_view import FS_ANON, vl_frame_states
from tests.tui.conftest import settle
from tests.tui.snapshot_app import make_app
from tui.app import VmlabApp

SIZE = (120, 36)

SnapCompare = Callable[..., bool]


async def _select_shared_anon_frame(pilot: Pilot[None]) -> None:
    await settle(pilot)
    app = pilot.app
    assert isinstance(app, VmlabApp)
    k = app.session.kernel
    states = vl_frame_states(k)
    pfn = next(p for p in range(len(states))
               if states[p] == FS_ANON and k.mem_map.pages[p]._mapcount == 2)
    app.dashboard.select_frame(pfn)
    await settle(pilot)


def test_dashboard_page_inspector(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_select_shared_anon_frame)


def test_dashboard_tasks(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["2", "down", "down", "down", "down"],
                        terminal_size=SIZE)


def test_dashboard_page_cache(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["3"], terminal_size=SIZE)


def test_dashboard_disk(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["4"], terminal_size=SIZE)


def test_dashboard_counters(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["5"], terminal_size=SIZE)


def test_dashboard_proc(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["8"], terminal_size=SIZE)


def test_dashboard_events_filtered(snap_compare: SnapCompare) -> None:
    keys = ["slash", *"kind:writeback,io", "enter"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE)


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=(100, 50))


def test_small_terminal(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24))


def test_story_tab(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), press=["7"], terminal_size=SIZE)


async def _run_to_the_end(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, VmlabApp)
    app.step_events(1_000_000)
    await settle(pilot)


def test_results_screen(snap_compare: SnapCompare) -> None:
    from scenarios.session import Session

    app = VmlabApp(Session.load("fsync-race-a", kernel="2.6.5"), running=False, flavour="",
                   tick=False)
    # the end's toast lives on a wall-clock timer: on a loaded machine it may be gone
    app.notify = lambda *args, **kwargs: None  # type: ignore[method-assign]
    assert snap_compare(app, terminal_size=SIZE, run_before=_run_to_the_end)


async def _light_theme(pilot: Pilot[None]) -> None:
    pilot.app.theme = "textual-light"
    await settle(pilot)


def test_light_theme(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_light_theme)
