"""Drives a Session in slices: run, pause, step, run to a checkpoint, jump to a time.

The dashboard calls ``run_slice`` from a timer on its main thread (the model is never touched
from another thread): a slice dispatches events one at a time until its event cap or its wall-
clock budget is used, and an event still running when the budget is spent is paused at the
model's next pause point (``Session.run(pause=...)``, scenarios/finestep.py) and goes on in the
next slice, so each timer tick stays short however costly single events are (a direct reclaim
that refills 500,000 pages takes a second on a 1 GiB machine). The model is only ever moved by
``Session.run``, the call a script would make; the driver adds no state to it. Wall-clock time
decides only how much of the run fits in a frame, never what the simulation does.

Nothing here imports Textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from scenarios.session import STOP_END, STOP_PAUSED, STOP_TIME, Session
from tui.recorder import Recorder

MODE_PAUSED: Final = "paused"
MODE_RUN: Final = "running"
MODE_CHECKPOINT: Final = "to checkpoint"
MODE_TIME: Final = "to time"
MODE_EVENTS: Final = "stepping"

#: Speeds: the most events one frame may run.
SPEEDS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
DEFAULT_SPEED_INDEX: Final = 1

STOP_NONE: Final = ""
#: Not a stop: the slice's budget ran out inside an event (it goes on in the next slice).
STOP_OUT_OF_TIME: Final = "out of time"
STOP_CHECKPOINT_HIT: Final = "checkpoint"
STOP_EVENTS_DONE: Final = "events"


@dataclass(frozen=True)
class SliceResult:
    """What one slice did: events dispatched, and why the run stopped ("" if it did not)."""

    ran: int
    stop: str


class SimDriver:
    """The run state of one session: mode, speed and targets."""

    def __init__(self, session: Session, recorder: Recorder) -> None:
        self.session = session
        self.recorder = recorder
        self.mode = MODE_PAUSED
        self.speed_index = DEFAULT_SPEED_INDEX
        #: Target of MODE_TIME (simulated ns).
        self.target_ns = 0
        #: Target of MODE_EVENTS (the event count to stop at).
        self.target_events = 0
        #: Checkpoints already hit when MODE_CHECKPOINT started.
        self.checkpoint_base = 0
        #: Why the last run stopped ("end", "checkpoint", "time" or "").
        self.last_stop = STOP_NONE

    @property
    def speed(self) -> int:
        """Events per frame."""
        return SPEEDS[self.speed_index]

    @property
    def ended(self) -> bool:
        """True when the scenario can run no further (never while an event is in progress:
        suspended at a fine step or paused by the frame budget, the rest of that event is
        still to run, and its task's next slice may not be queued yet)."""
        s = self.session
        if s.in_event:
            return False
        k = s.kernel
        nxt = k.machine.clock.peek_time()
        return k.all_user_tasks_exited() or nxt < 0 or nxt > s.scenario.duration_ns

    def faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)

    def slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)

    def start(self, mode: str, target_ns: int = 0, events: int = 0) -> None:
        """Start running in ``mode``.

        Args:
            mode: MODE_RUN, MODE_CHECKPOINT, MODE_TIME or MODE_EVENTS.
            target_ns: MODE_TIME's target simulated time.
            events: MODE_EVENTS' number of events to run.
        """
        self.mode = mode
        self.target_ns = target_ns
        self.target_events = self.session.events + events
        self.checkpoint_base = len(self.session.checkpoints)
        self.last_stop = STOP_NONE

    def pause(self) -> None:
        self.mode = MODE_PAUSED

    def _one(self, pause: Callable[[], bool] | None = None) -> tuple[int, str]:
        """Run at most one event through Session.run (the one in progress, or the next);
        returns (events ended, stop reason). With ``pause``, the event may stop inside
        before it ends: (0, STOP_OUT_OF_TIME)."""
        s = self.session
        inside = s.in_event
        before = s.events
        until_ns = self.target_ns if self.mode == MODE_TIME else None
        reason = s.run(until_events=before if inside else before + 1, until_ns=until_ns,
                       pause=pause)
        if reason == STOP_PAUSED:
            return 0, STOP_OUT_OF_TIME
        ran = s.events - before + (1 if inside else 0)
        if ran:
            self.recorder.after_event()
        if reason == STOP_END:
            return ran, STOP_END
        if reason == STOP_TIME:
            return ran, STOP_TIME
        if self.mode == MODE_CHECKPOINT and len(s.checkpoints) > self.checkpoint_base:
            return ran, STOP_CHECKPOINT_HIT
        if self.mode == MODE_EVENTS and s.events >= self.target_events:
            return ran, STOP_EVENTS_DONE
        return ran, STOP_NONE

    def step(self, n: int) -> SliceResult:
        """Dispatch up to ``n`` events now, whatever the mode (stops at the end)."""
        ran = 0
        stop = STOP_NONE
        saved = self.mode
        self.mode = MODE_RUN
        while ran < n:
            got, stop = self._one()
            ran += got
            if stop or not got:
                break
        self.mode = saved
        if stop == STOP_END:
            self.last_stop = stop
        return SliceResult(ran, stop if stop == STOP_END else STOP_NONE)

    def run_slice(self, budget_s: float,
                  clock: Callable[[], float] = time.perf_counter) -> SliceResult:
        """Run one frame's worth of events in the current mode.

        Args:
            budget_s: wall-clock seconds the slice may use (checked after each event and
                at the model's pause points inside one: an event still running when it is
                spent is paused there and goes on in the next slice).
            clock: the wall clock (a parameter so tests can substitute one).

        Returns:
            Events run and the stop reason; a stop also pauses the driver.
        """
        if self.mode == MODE_PAUSED:
            return SliceResult(0, STOP_NONE)
        cap = self.speed if self.mode == MODE_RUN else SPEEDS[-1]
        deadline = clock() + budget_s

        def out_of_time() -> bool:
            return clock() >= deadline

        ran = 0
        stop = STOP_NONE
        while ran < cap:
            got, stop = self._one(out_of_time)
            ran += got
            if stop == STOP_OUT_OF_TIME:
                stop = STOP_NONE
                break
            if stop or not got or clock() >= deadline:
                break
        if stop:
            self.mode = MODE_PAUSED
            self.last_stop = stop
        return SliceResult(ran, stop)
