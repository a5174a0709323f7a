"""The session's run loop, checkpoint recording and expectation evaluation (session.py).

These tests drive ``Session`` with a scripted stand-in for the kernel (through the ``_boot``
seam), so that every stopping rule and every evaluation path is exercised with exact,
hand-checkable event sequences. Runs on the real kernel are in test_session.py.
"""

from __future__ import annotations

import io
import json

import pytest

from kernelmodel.include.vmstat import TraceRing
from scenarios.loader import load_text
from scenarios.session import Session
from scenarios.state import state_hash

SCENARIO = """
name = "scripted"
duration = "1s"
[[tasks]]
name = "t"
program = ["checkpoint a", "checkpoint b", "loop 2", "checkpoint c", "end"]

[[expect]]
at = "a"
check = "nr_dirty == 1"

[[expect]]
at = "b"
check = "nr_dirty > nr_dirty@a"

[[expect]]
name = "all c"
at = "c"
check = "nr_dirty >= 3"

[[expect]]
check = "nr_dirty == 0 and data_verified"
"""

Script = list[tuple[int, dict[str, object]]]


class FakeClock:
    def __init__(self, times: list[int]) -> None:
        self.now = 0
        self.times = times

    def peek_time(self) -> int:
        return self.times[0] if self.times else -1


class FakeMachine:
    def __init__(self, kernel: FakeKernel, script: Script) -> None:
        self.kernel = kernel
        self.script = list(script)
        self.clock = FakeClock([t for t, _ in script])
        self.events = 0

    def step(self) -> bool:
        if not self.script:
            return False
        t, effects = self.script.pop(0)
        self.clock.times.pop(0)
        self.clock.now = t
        self.events += 1
        self.kernel.apply(t, effects)
        return True


class FakeKernel:
    """Just the Kernel API the session uses, driven by a script of (time, effects)."""

    def __init__(self, script: Script) -> None:
        self.machine = FakeMachine(self, script)
        self.checkpoints: list[tuple[str, int, int]] = []
        self.trace = TraceRing(size=8)
        self.counters = {"nr_dirty": 0}
        self.problems: list[str] = []
        self.exited = False

    def apply(self, t: int, effects: dict[str, object]) -> None:
        for key, value in effects.items():
            if key == "cp":
                assert isinstance(value, str)
                self.checkpoints.append((value, 1, t))
            elif key == "exit":
                self.exited = True
            elif key == "trace":
                assert isinstance(value, int)
                for i in range(value):
                    self.trace.emit(t, "syscall", 1, i, 0, "x")
            elif key == "problem":
                assert isinstance(value, str)
                self.problems.append(value)
            else:
                assert isinstance(value, int)
                self.counters[key] = value

    def all_user_tasks_exited(self) -> bool:
        return self.exited

    def metrics(self) -> dict[str, int]:
        return dict(self.counters)

    def verify_data(self) -> list[str]:
        return list(self.problems)

    def check_invariants(self) -> list[str]:
        return []

    def verify_durable(self) -> tuple[int, list[str]]:
        return 0, []

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        return {"counters": dict(self.counters), "now": self.machine.clock.now}


def session(script: Script, text: str = SCENARIO) -> Session:
    class Scripted(Session):
        def _boot(self) -> FakeKernel:  # type: ignore[override]
            return FakeKernel(script)

    return Scripted(load_text(text))


GOOD: Script = [
    (10, {"nr_dirty": 1, "cp": "a"}),
    (20, {"nr_dirty": 2, "cp": "b"}),
    (30, {"nr_dirty": 3, "cp": "c"}),
    (40, {"nr_dirty": 4, "cp": "c"}),
    (50, {"nr_dirty": 0, "exit": True}),
    (60, {}),
]


def test_runs_to_the_end_and_all_expectations_hold() -> None:
    s = session(GOOD)
    assert s.run() == "end"
    assert s.end_reason == "exited"
    assert s.events == 5 and s.sim_time_ns == 50
    assert [(r.name, r.pid, r.time_ns) for r in s.checkpoints] == [
        ("a", 1, 10), ("b", 1, 20), ("c", 1, 30), ("c", 1, 40)]
    results = s.evaluate_expectations()
    assert [(r.name, r.ok, r.detail) for r in results] == [
        ("a: nr_dirty == 1", True, "nr_dirty is 1"),
        ("b: nr_dirty > nr_dirty@a", True, "nr_dirty is 2, nr_dirty@a is 1"),
        ("all c", True, "nr_dirty is 4 (all 2 hits)"),
        ("nr_dirty == 0 and data_verified", True, "nr_dirty is 0; data_verified is 1"),
    ]


def test_failing_hit_and_unreached_checkpoint() -> None:
    script: Script = [
        (10, {"nr_dirty": 1, "cp": "a"}),
        (20, {"nr_dirty": 1, "cp": "b"}),
        (30, {"nr_dirty": 5, "cp": "c"}),
        (1_500, {"nr_dirty": 2, "cp": "c"}),
        (2_000, {"exit": True}),
    ]
    s = session(script)
    assert s.run(until_ns=1_000) == "time"
    assert s.sim_time_ns == 30
    assert s.run() == "end" and s.end_reason == "exited"
    results = s.evaluate_expectations()
    assert results[1] == type(results[1])(
        "b: nr_dirty > nr_dirty@a", False,
        "nr_dirty is 1, nr_dirty@a is 1 (want nr_dirty > nr_dirty@a)")
    assert results[2].ok is False
    assert results[2].detail == "nr_dirty is 2 (want >= 3) (hit 2 of 2, pid 1, at 1.5us)"


def test_checkpoint_never_reached() -> None:
    s = session([(10, {"nr_dirty": 1, "cp": "a"}), (20, {"exit": True})])
    s.run()
    results = {r.name: r for r in s.evaluate_expectations()}
    assert results["all c"].ok is False
    assert results["all c"].detail == 'checkpoint "c" was not reached'
    assert results["b: nr_dirty > nr_dirty@a"].detail == 'checkpoint "b" was not reached'


def test_stop_rules() -> None:
    s = session(GOOD)
    assert s.run(until_events=2) == "events" and s.events == 2
    assert s.run(until_events=2) == "events" and s.events == 2  # already there: no event runs
    assert s.run(until_checkpoint="c") == "checkpoint" and s.sim_time_ns == 30
    assert s.run(until_checkpoint="c") == "checkpoint" and s.sim_time_ns == 40
    assert s.run(predicate=lambda x: x.events >= 5) == "predicate"
    assert s.run() == "end"
    with pytest.raises(ValueError, match='no checkpoint named "cc" in scripted '
                                         r'\(did you mean "c"\?\)'):
        s.run(until_checkpoint="cc")


def test_step_counts_events() -> None:
    s = session(GOOD)
    assert s.step() == 1
    assert s.step(3) == 3
    assert s.step(10) == 2  # only two events left
    assert s.step() == 0
    assert len(s.checkpoints) == 4


def test_duration_and_idle_end() -> None:
    s = session([(10, {}), (2_000_000_000, {})])  # the second event is past duration = 1s
    assert s.run() == "end" and s.end_reason == "duration" and s.events == 1
    s = session([(10, {})])
    assert s.run() == "end" and s.end_reason == "idle"


def test_notes_explain_a_failed_oracle() -> None:
    s = session([(10, {"problem": "file log page 3: byte 12 is 0x00, want 0x5a"}),
                 (20, {"exit": True})])
    s.run()
    end = s.evaluate_expectations()[-1]
    assert end.ok is False
    assert end.detail == ("nr_dirty is 0; data_verified is 0 (want true); 1 problem(s), first: "
                          "file log page 3: byte 12 is 0x00, want 0x5a")


def test_progress_callback() -> None:
    seen: list[tuple[int, int]] = []
    s = session(GOOD)
    s.run(progress=lambda now, events: seen.append((now, events)))
    assert seen[-1] == (50, 5)


def test_trace_lines_and_overflow() -> None:
    out = io.StringIO()
    s = session([(10, {"trace": 3}), (20, {"trace": 20}), (30, {"exit": True})])
    s.trace_to(out)
    s.run()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0] == {"seq": 0, "time_ns": 10, "kind": "syscall", "pid": 1, "a": 0, "b": 0,
                        "s": "x"}
    assert [x["seq"] for x in lines[:3]] == [0, 1, 2]
    assert lines[3]["kind"] == "trace_dropped" and lines[3]["a"] == 12  # ring of 8
    assert [x["seq"] for x in lines[4:]] == list(range(15, 23))


def test_state_hash_is_the_hash_of_to_state() -> None:
    s = session(GOOD)
    s.run()
    assert s.state_hash() == state_hash({"counters": {"nr_dirty": 0}, "now": 50})
    assert len(s.state_hash()) == 64


def test_metrics_adds_session_values() -> None:
    s = session(GOOD)
    s.step(2)
    m = s.metrics()
    assert m == {"nr_dirty": 2, "data_verified": 1, "invariants_ok": 1, "sim_time_ns": 20,
                 "events": 2, "acked_bytes_lost": 0}
