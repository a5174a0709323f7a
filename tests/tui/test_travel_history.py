"""Pilot tests: after going back the event log and the plots keep their history up to that
moment; the plot's lines take the theme's colours and stay readable on a light theme."""

from __future__ import annotations

from pathlib import Path

from textual.color import Color

from scenarios.session import Session
from tests.scenarios.travel_support import small_scenario
from tests.tui.conftest import settle
from tests.tui.snapshot_app import make_app
from tui.app import VmlabApp
from tui.frame_style import contrast_ratio
from tui.widgets.counter_plot import LINE_CONTRAST, CounterPlot, line_colours
from tui.widgets.event_log import EventLog

SIZE = (120, 40)


async def test_going_back_keeps_the_log_and_the_plot_up_to_there(tmp_path: Path) -> None:
    # 1,691 trace records by event 15, where the history starts: more than a checkpoint's
    # trace ring keeps (1,024), so the log's start cannot come from the restored kernel
    app = VmlabApp(Session.load(small_scenario(tmp_path)), running=False, flavour="",
                   tick=False)
    app.driver.step(15)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")  # the Stats tab: its plot
        for _ in range(40):
            await pilot.press("full_stop")
        await settle(pilot)
        seqs = [e.seq for e in app.recorder.events]
        times = list(app.session.series.times)
        rows = len(times)
        assert seqs[0] == 0 and rows > 2  # the whole run so far, from boot
        await pilot.press("t")
        await settle(pilot)
        for _ in range(10):
            await pilot.press("backspace")
        await pilot.press(*"30", "enter")  # back to event 30 of 55
        await settle(pilot)
        s = app.session
        assert s.events == 30 and s.kernel.trace.since(0)[0].seq > 0
        now_seq = s.kernel.trace.next_seq
        kept = [e.seq for e in app.recorder.events]
        assert kept == [q for q in seqs if q < now_seq]  # cut at the moment, not restarted
        assert kept[0] == 0 and kept[-1] == now_seq - 1
        for log in app.dashboard.query(EventLog):  # the dock and the Events tab
            assert [e.seq for e in log.rows] == kept[-len(log.rows):]
            assert log.rows and log.rows[0].seq == 0
        after = list(s.series.times)
        assert after == times[:len(after)] and 0 < len(after) < rows
        assert all(t <= s.sim_time_ns for t in after)
        plot = app.dashboard.query_one("#vm-plot", CounterPlot)
        assert plot._shown is not None and plot._shown[0] is s.series
        assert plot._shown[1] == s.sim_time_ns  # drawn again at the moment gone back to
        # and on again: the same history as a run that never went back
        for _ in range(5):
            await pilot.press("full_stop")
        await settle(pilot)
        assert [e.seq for e in app.recorder.events] == list(range(s.kernel.trace.next_seq))


def _rendered_colours(plot: CounterPlot) -> set[tuple[int, int, int]]:
    text = plot.render()
    out: set[tuple[int, int, int]] = set()
    for span in text.spans:  # type: ignore[union-attr]
        style = span.style
        if not isinstance(style, str) and style.color is not None \
                and style.color.triplet is not None:
            out.add(tuple(style.color.triplet))  # type: ignore[arg-type]
    return out


async def test_plot_lines_follow_the_theme_and_stay_readable() -> None:
    app = make_app(events=120)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        plot = app.dashboard.query_one("#vm-plot", CounterPlot)
        for theme in ("textual-dark", "textual-light", "solarized-light", "catppuccin-latte"):
            app.theme = theme
            await settle(pilot)
            variables = app.theme_variables
            colours = line_colours(variables)
            surface = Color.parse(variables["surface"])
            for c in colours:
                assert isinstance(c, tuple)
                assert contrast_ratio(Color(*c), surface) >= LINE_CONTRAST - 0.05, (theme, c)
            # dirty and writeback (the default two) are drawn in the theme's first two
            drawn = _rendered_colours(plot)
            assert {colours[0], colours[1]} <= drawn, theme
        assert line_colours({"background": "ansi_default"})[0] == "red"
