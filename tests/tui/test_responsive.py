"""The dashboard stays responsive under load (tui/driver.py, tui/gcpace.py).

A frame's slice checks its wall-clock budget after every model event and at the model's
pause points inside one, so it never runs more than one pause point past the budget (an
event still running is paused there and goes on in the next slice, with the same result);
keys pressed between slices are handled before the next one; the garbage collector runs
between frames, not inside model events. The budget is checked here with a counting clock
(no timed assertions): the clock advances one unit per reading.
"""

from __future__ import annotations

import gc

from scenarios.session import Session
from tests.tui.conftest import settle
from tui.app import VmlabApp
from tui.driver import MODE_EVENTS, MODE_PAUSED, MODE_RUN, SPEEDS, SimDriver
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


def _progress(s: Session) -> tuple[int, int, bool]:
    return (s.events, s.kernel.trace.next_seq, s.in_event)


def test_a_slice_stops_at_the_first_pause_point_past_its_budget() -> None:
    s = _loaded_session()
    driver = SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns))
    driver.speed_index = len(SPEEDS) - 1
    driver.start(MODE_RUN)
    start = _progress(s)
    for budget in (1, 3, 7, 50):
        clock = CountingClock()
        result = driver.run_slice(float(budget), clock=clock)
        # one reading sets the deadline, one follows each pause point and each event: the
        # slice stops at the reading that finds the budget spent, inside an event or not
        assert clock.reads == budget + 1
        assert result.stop == ""
    assert _progress(s) != start
    assert driver.mode == MODE_RUN


def test_frames_of_any_budget_run_the_straight_run() -> None:
    """A run cut into slices of two pause points each ends where a straight run does."""
    from scenarios.bench_steps import storm_text
    from scenarios.loader import load_text

    text = storm_text(16)
    straight = Session(load_text(text, "storm"))
    straight.run(until_events=120)
    s = Session(load_text(text, "storm"))
    driver = SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns))
    driver.start(MODE_EVENTS, events=120)
    slices = 0
    while driver.mode != MODE_PAUSED:
        driver.run_slice(2.0, clock=CountingClock())
        slices += 1
    assert s.events == 120 and not s.in_event
    assert slices > 1000
    assert s.state_hash() == straight.state_hash()


async def test_keys_are_handled_between_slices_under_load() -> None:
    app = VmlabApp(_loaded_session(), running=True, flavour="test", tick=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.driver.speed_index = len(SPEEDS) - 1
        assert app.driver.mode == MODE_RUN
        before = _progress(app.session)
        for _ in range(3):
            clock = CountingClock()
            app.driver.run_slice(2.0, clock=clock)
            assert clock.reads == 3
        assert _progress(app.session) != before
        await pilot.press("space")  # the next key after a slice pauses at once
        await settle(pilot)
        assert app.driver.mode == MODE_PAUSED
        stopped = _progress(app.session)
        app.tick()
        assert _progress(app.session) == stopped, "a paused frame runs nothing"


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
