"""Pilot tests of fine steps, step back, run-until and the timeline."""

from __future__ import annotations

from tests.tui.conftest import screen_text, settle
from tests.tui.snapshot_app import PAUSED_AT, make_app, make_session
from tui.widgets.timeline import Timeline

SIZE = (120, 40)


def _straight_hash(events: int) -> str:
    s = make_session()
    s.run(until_events=events)
    return s.state_hash()


async def test_step_back_returns_to_the_state_of_a_straight_run() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(3):
            await pilot.press("full_stop")
        await settle(pilot)
        assert app.session.events == PAUSED_AT + 3
        await pilot.press("comma")
        await settle(pilot)
        assert app.events == app.session.events == PAUSED_AT + 2
        assert app.session.state_hash() == _straight_hash(PAUSED_AT + 2)
        await pilot.press("b", "b")
        await settle(pilot)
        assert app.session.events == PAUSED_AT
        await pilot.press("b")  # before the dashboard's first moment: stays there
        await settle(pilot)
        assert app.session.events == PAUSED_AT
        assert "at 30" in screen_text(app)


async def test_io_steps_forward_and_back() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v", "v", "v")  # event -> fault -> syscall -> io
        await settle(pilot)
        assert app.granularity == "io"
        await pilot.press("full_stop")
        await settle(pilot)
        first = app.session.suspended_at
        assert first is not None and first.kind == "io_complete"
        where = app.session.position
        await pilot.press("full_stop", "full_stop")
        await settle(pilot)
        rec = app.session.suspended_at
        assert rec is not None and rec.kind == "io_complete" and rec.seq > first.seq
        await pilot.press("comma", "comma")
        await settle(pilot)
        assert app.session.position == where
        assert "step io" in screen_text(app)
        await pilot.press("v")  # -> page: the selected frame
        await settle(pilot)
        assert app.granularity == "page" and "step page 0x" in screen_text(app)


async def test_timeline_seek_and_run_until() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(6):
            await pilot.press("s")
        await settle(pilot)
        app.dashboard.query_one("#timeline", Timeline).post_message(
            Timeline.Seek(PAUSED_AT + 2))
        await settle(pilot)
        assert app.session.events == PAUSED_AT + 2
        assert app.session.state_hash() == _straight_hash(PAUSED_AT + 2)
        await pilot.press("u")
        await settle(pilot)
        for _ in range(20):
            await pilot.press("backspace")
        await pilot.press(*"nr_writeback == 0 and nr_dirty == 0", "enter")
        await settle(pilot)
        vm = app.session.kernel.vmstat
        assert vm.nr_writeback == 0 and vm.nr_dirty == 0
        assert app.session.events > PAUSED_AT + 2
        await pilot.press("t")
        await settle(pilot)
        for _ in range(10):
            await pilot.press("backspace")
        await pilot.press(*str(PAUSED_AT + 1), "enter")
        await settle(pilot)
        assert app.session.events == PAUSED_AT + 1
