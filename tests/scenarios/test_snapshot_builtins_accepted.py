"""No false refusals: the restore checks (the invariant checker with its struct page and
filesystem field checks, the PG_writeback pages against the bios, the data oracle and the
durable-data check) find nothing in the states the built-ins reach.

Each built-in runs to an early point (files written, memory touched, I/O in flight) on one
profile, the profiles taking turns so that each runs a third of the built-ins; there every
check restore runs must pass on the live kernel (a snapshot restores that very state, bit for
bit by its hash), and a machine small enough to keep this quick also goes through a real
snapshot and load. Every built-in on every profile, checked every 40 events up to 1,200,
found no refusal either, but takes many minutes: too long for the suite.
"""

from __future__ import annotations

import pytest

from kernelmodel.state.restore import vl_restore_problems
from scenarios.library import builtin_names
from scenarios.session import Session
from scenarios.snapshot import load_snapshot_bytes, snapshot_bytes

PROFILES = ("2.6.5", "2.6.6", "2.6.7")
POINT = 12
#: Largest machine that also takes the snapshot round trip (the rest check the live kernel).
ROUND_TRIP_MAX = 16 << 20
CASES = [(name, PROFILES[i % len(PROFILES)]) for i, name in enumerate(builtin_names())]


@pytest.mark.parametrize(("name", "profile"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_builtin_state_passes_every_restore_check(name: str, profile: str) -> None:
    s = Session.load(name, kernel=profile)
    s.run(until_events=POINT)
    problems = vl_restore_problems(s.kernel)
    assert problems == [], (name, profile, s.events, problems[:3])
    if s.scenario.machine.memory <= ROUND_TRIP_MAX:
        again = load_snapshot_bytes(snapshot_bytes(s), f"{name}.vmsnap")
        assert again.events == s.events
