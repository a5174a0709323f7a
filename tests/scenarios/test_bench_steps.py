"""The ``steps`` workload of ``vmlab bench`` (scenarios/bench_steps.py) at a tiny size: the
model steps it measures are the stretches between pause points, so there are many more of
them than events, and none is longer than the event it is in."""

from __future__ import annotations

from scenarios.bench_steps import measure_steps, storm_text
from scenarios.benchmark import WORKLOADS


def test_steps_are_measured_inside_events_of_a_small_storm() -> None:
    assert "steps" in WORKLOADS
    stats, _what, who, secs = measure_steps(storm_text(16), 300_000_000)
    events = len(stats.event_whole)
    assert events > 50 and stats.steps > 10 * events
    assert 0 < stats.longest <= max(stats.event_whole)
    assert all(step <= whole + 1e-9 for step, whole in zip(stats.event_longest,
                                                             stats.event_whole, strict=True))
    assert 0 < stats.longest_event <= events
    assert who and secs > 0
    assert stats.longest_cpu > 0 and len(stats.event_longest_cpu) == events
