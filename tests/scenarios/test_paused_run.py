"""Runs paused for the host inside events (``Session.run(pause=...)``, scenarios/finestep.py):
the model's pause points hand control back, and the run goes on from there exactly as a run
that never paused: same trace, counters, checkpoints and state hash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kernelmodel.kernel.task import PF_MEMALLOC
from scenarios.bench_steps import storm_text
from scenarios.finestep import Position
from scenarios.loader import load_text
from scenarios.schema import Scenario
from scenarios.session import STOP_PAUSED, Session
from tests.scenarios.travel_support import small_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_scenario(tmp_path_factory.mktemp("paused"))


def _storm() -> Scenario:
    """16 MiB of RAM and two hogs of 10 MiB for 300 simulated ms: direct reclaim and
    kswapd refill and shrink the LRU lists in most events."""
    return load_text(storm_text(16).replace('duration = "600s"', 'duration = "300ms"'),
                     "paused-storm")


def _straight(profile: str) -> tuple[Session, str]:
    s = Session(_storm(), kernel=profile)
    out = io.StringIO()
    s.trace_to(out)
    s.run()
    return s, out.getvalue()


@pytest.mark.parametrize("profile", ["2.6.6", "2.6.7"])
def test_a_run_paused_at_every_seventh_point_is_the_straight_run(profile: str) -> None:
    a, trace_a = _straight(profile)
    b = Session(_storm(), kernel=profile)
    out = io.StringIO()
    b.trace_to(out)
    k = b.kernel
    asked = 0
    in_reclaim = 0

    def pause() -> bool:
        nonlocal asked
        asked += 1
        return asked % 7 == 0

    inside = 0
    while (reason := b.run(pause=pause)) == STOP_PAUSED:
        if not b.in_event:
            continue
        inside += 1
        assert b.suspended_at is None
        assert b.position == Position(b.events - 1, k.trace.next_seq)
        task = k.tasks.get(k.current)
        if task is not None and not task.is_kthread() and task.flags & PF_MEMALLOC:
            in_reclaim += 1  # paused inside a task's direct reclaim
    assert reason == "end" and b.end_reason == a.end_reason
    assert inside > 200 and in_reclaim > 0
    assert out.getvalue() == trace_a
    assert b.state_hash() == a.state_hash()
    assert b.metrics() == a.metrics()
    assert [(c.name, c.pid, c.time_ns, c.metrics) for c in b.checkpoints] == \
        [(c.name, c.pid, c.time_ns, c.metrics) for c in a.checkpoints]
    assert b.series.to_section() == a.series.to_section()


def _paused_inside(scenario: str, history: bool = False) -> Session:
    """A session paused inside an event well into the run."""
    s = Session.load(scenario)
    if history:
        s.keep_history()
    s.run(until_events=30)
    asked = 0

    def pause() -> bool:  # the third point asked inside an event
        nonlocal asked
        asked += s.in_event
        return asked == 3

    assert s.run(pause=pause) == STOP_PAUSED
    assert s.in_event and s.suspended_at is None
    return s


def test_step_and_run_end_a_paused_event_first(scenario: str) -> None:
    s = _paused_inside(scenario)
    n = s.events
    assert s.step(1) == 1  # the paused event's end counts as the step
    assert not s.in_event and s.events == n
    s = _paused_inside(scenario)
    assert s.run(until_events=n) == "events"
    assert not s.in_event and s.events == n


def test_going_back_from_a_paused_event_ends_it_first(scenario: str) -> None:
    s = _paused_inside(scenario, history=True)
    n = s.events
    assert s.step_back(1) == "event"
    assert not s.in_event and s.position.events == n - 1
    ref = Session.load(scenario)
    ref.run(until_events=n - 1)
    assert s.state_hash() == ref.state_hash()


def test_a_fine_step_goes_on_from_the_pause(scenario: str) -> None:
    s = _paused_inside(scenario)
    before = s.kernel.trace.next_seq
    reason = s.step_until("fault")
    assert reason in ("record", "end")
    if reason == "record":
        rec = s.suspended_at
        assert rec is not None and rec.kind == "fault" and rec.seq >= before


def test_the_run_needs_no_pause_between_events_before_it_moved(tmp_path: Path) -> None:
    """A pause that says yes at once still lets each call move (no call returns having run
    nothing), so a caller with a spent budget still gets through the run."""
    s = Session.load(small_scenario(tmp_path))
    calls = 0
    while s.run(pause=lambda: True) == STOP_PAUSED:
        calls += 1
        assert calls < 1_000_000
    assert s.end_reason
