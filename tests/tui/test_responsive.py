"""The dashboard stays responsive under load (tui/driver.py, tui/gcpace.py).

A frame's slice checks its wall-clock budget after every model event, so it never runs more
than one event past the check; keys pressed between slices are handled before the next one;
the garbage collector runs between frames, not inside model events. The budget is checked
here with a counting clock (no timed assertions): the clock advances one unit per reading.
"""

from __future__ import annotations

import gc

from scenarios.session import Session
from tests.tui.conftest import settle
from tui.app import VmlabApp
from tui.driver import MODE_PAUSED, MODE_RUN, SPEEDS, SimDriver
from tui.gcpace import GcPacer
from tui.recorder import Recorder

SIZE = (120, 40)


class CountingClock:
    """A wall clock that moves one unit each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        value = self.now
        self.now += 1.0
        return value


def _loaded_session() -> Session:
    """swap-storm run into its swapping phase: reclaim and swap I/O in every slice."""
    s = Session.load("swap-storm")
    s.run(until_checkpoint="filled")
    assert s.kernel.vmstat.pswpout > 0
    return s


def test_a_slice_stops_at_the_first_event_past_its_budget() -> None:
    s = _loaded_session()
    driver = SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns))
    driver.speed_index = len(SPEEDS) - 1
    driver.start(MODE_RUN)
    for budget in (1, 3, 7):
        clock = CountingClock()
        before = s.events
        result = driver.run_slice(float(budget), clock=clock)
        # one reading sets the deadline, one follows each event: the budget is spent after
        # exactly ``budget`` events, and the slice stops there
        assert result.ran == budget == s.events - before
        assert clock.reads == budget + 1
        assert result.stop == ""
    assert driver.mode == MODE_RUN


async def test_keys_are_handled_between_slices_under_load() -> None:
    app = VmlabApp(_loaded_session(), running=True, flavour="test", tick=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.driver.speed_index = len(SPEEDS) - 1
        assert app.driver.mode == MODE_RUN
        before = app.session.events
        for _ in range(3):
            result = app.driver.run_slice(2.0, clock=CountingClock())
            assert result.ran == 2
        assert app.session.events == before + 6
        await pilot.press("space")  # the next key after a slice pauses at once
        await settle(pilot)
        assert app.driver.mode == MODE_PAUSED
        stopped = app.session.events
        app.tick()
        assert app.session.events == stopped, "a paused frame runs nothing"


async def test_the_collector_runs_between_frames_only() -> None:
    was_enabled = gc.isenabled()
    app = VmlabApp(_loaded_session(), running=True, flavour="test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.gc_pacer.active and not gc.isenabled()
        frames = app.gc_pacer.young_collections
        app.tick()
        assert app.gc_pacer.young_collections == frames + 1
        await pilot.press("space")
        await settle(pilot)
    assert gc.isenabled() == was_enabled, "the collector is given back on exit"
    assert not app.gc_pacer.active


def test_pacer_start_and_stop_restore_the_collector() -> None:
    was_enabled = gc.isenabled()
    pacer = GcPacer()
    pacer.after_frame()
    pacer.full()
    assert (pacer.young_collections, pacer.full_collections) == (0, 0), "inactive: no-ops"
    pacer.start()
    assert not gc.isenabled()
    pacer.after_frame()
    pacer.full()
    assert (pacer.young_collections, pacer.full_collections) == (1, 1)
    pacer.stop()
    pacer.stop()
    assert gc.isenabled() == was_enabled
