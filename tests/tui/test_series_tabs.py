"""Pilot tests of the counter plot (Stats tab) and the /proc tab."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Static

from scenarios.procfs.meminfo import meminfo
from scenarios.procfs.status import status
from tests.tui.conftest import screen_text, settle
from tests.tui.snapshot_app import make_app
from tui.widgets.counter_plot import CounterPlot, unit_of
from tui.widgets.vmstat_panel import VmstatPanel

SIZE = (120, 40)


async def test_counter_plot_has_axes_units_and_chosen_counters() -> None:
    app = make_app(events=120)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        panel = app.dashboard.query_one("#stats-panel", VmstatPanel)
        assert panel.plotted == ["nr_dirty", "nr_writeback"]
        # page counts never go below zero: the y axis starts at 0
        ticks = re.findall(r"(-?[\d.]+)┤", screen_text(app))
        assert ticks and min(float(t) for t in ticks) == 0.0, ticks
        assert len(app.session.series) > 3
        text = screen_text(app)
        for words in ("nr_dirty (pages)", "nr_writeback (pages)", "simulated time (ms)",
                      "one sample per 10 ms"):
            assert words in text, words
        table = app.dashboard.query_one("#vm-table", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("pgfault"))
        await pilot.press("enter")
        await settle(pilot)
        assert panel.plotted == ["nr_dirty", "nr_writeback", "pgfault"]
        assert "pgfault (count)" in screen_text(app)
        assert str(table.get_cell("pgfault", "plot")) == "●"
        await pilot.press("enter")
        await settle(pilot)
        assert panel.plotted == ["nr_dirty", "nr_writeback"]
        assert "pgfault (count)" not in screen_text(app)
        assert app.dashboard.query_one("#vm-plot", CounterPlot).is_mounted


def test_units() -> None:
    assert unit_of("nr_dirty") == ("pages", 1.0)
    assert unit_of("throttled_ns") == ("ms", 1e6)
    assert unit_of("pgpgout") == ("KiB", 1.0)
    assert unit_of("rmap_bytes")[0] == "KiB"
    assert unit_of("disk_sectors_written") == ("sectors", 1.0)


async def test_proc_tab_shows_the_files_of_the_model() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        k = app.session.kernel

        def shown() -> str:
            return str(app.dashboard.query_one("#proc-text", Static).content)

        assert shown() == meminfo(k)
        assert "/proc/meminfo" in screen_text(app)
        await pilot.click("#proc-status")
        await settle(pilot)
        pid = next(t.pid for t in k.tasks.values() if t.mm_id >= 0)
        assert shown() == status(k, pid) and "VmRSS:" in shown()
        await pilot.click("#proc-page-types")
        await settle(pilot)
        assert shown().splitlines()[-1].split()[:2] == ["total", str(k.mem_map.nframes)]
        app.step_events(5)  # the text follows the model
        await pilot.click("#proc-meminfo")
        await settle(pilot)
        assert shown() == meminfo(k)
