"""No false refusals: the restore checks (the invariant checker with its struct page and
filesystem field checks, the data oracle and the durable-data check) find nothing in the
states the built-ins reach, on every profile.

Each built-in runs on each profile to two early points; there every check restore runs must
pass on the live kernel (a snapshot restores that very state, bit for bit by its hash). One
profile per built-in (taking turns) also goes through a real snapshot and load at the second
point, for the machines small enough to keep this quick.
"""

from __future__ import annotations

import pytest

from kernelmodel.restore import vl_restore_problems
from scenarios.library import builtin_names
from scenarios.session import Session
from scenarios.snapshot import load_snapshot_bytes, snapshot_bytes

PROFILES = ("2.6.5", "2.6.6", "2.6.7")
POINTS = (15, 120)
#: Largest machine that also takes the snapshot round trip (the rest check the live kernel).
ROUND_TRIP_MAX = 32 << 20


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_states_pass_every_restore_check(name: str) -> None:
    turn = builtin_names().index(name) % len(PROFILES)
    for i, profile in enumerate(PROFILES):
        s = Session.load(name, kernel=profile)
        for point in POINTS:
            ended = s.run(until_events=point) != "events"
            problems = vl_restore_problems(s.kernel)
            assert problems == [], (name, profile, s.events, problems[:3])
            if ended:
                break
        if i == turn and s.scenario.machine.memory <= ROUND_TRIP_MAX:
            again = load_snapshot_bytes(snapshot_bytes(s), f"{name}.vmsnap")
            assert again.events == s.events
