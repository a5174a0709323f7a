"""The model's behaviour version: which results this vmlab gives for a scenario and seed.

A snapshot records the behaviour version its state was produced under; a run resumed from a
snapshot of another behaviour version says so in one line (``vmlab resume``, the dashboard,
``vmlab snapshot report``), because it may go on differently from the run that wrote it.

The rule: **bump BEHAVIOUR_VERSION by one in every change that alters what a run does** —
any change to ``machine/``, ``kernelmodel/`` or the scenario assembler that changes an event,
a counter, a byte or the state hash of any scenario at any seed (a fidelity fix, a new
heuristic, a different rng draw). A change that only adds (a new scenario, a new option
that is off by default), speeds up, or changes the snapshot *format* (that is
``SNAPSHOT_VERSION``, with a migration) leaves it alone. When in doubt: if the state hash of
a built-in at its end changes, bump it. ``tests/scenarios/test_snapshot_fixtures.py`` holds a
snapshot written at the current behaviour version and fails when the model no longer
reproduces it; bump this constant and regenerate that fixture
(``python -m tests.scenarios.fixtures.make_fixtures``).
``tests/scenarios/test_behaviour_baseline.py`` holds every built-in's end on every profile
(metrics, events, outcome, state hash); write it again in the same change
(``python -m tests.scenarios.fixtures.make_behaviour``).
"""

from __future__ import annotations

from typing import Final

#: The model's behaviour version (see the module docstring for when to bump it).
BEHAVIOUR_VERSION: Final = 3

#: What a snapshot from before behaviour versions were recorded (formats 1 to 3) counts as.
UNRECORDED: Final = 0


def describe(version: int) -> str:
    """"behaviour version 3", or what an unrecorded one means."""
    if version == UNRECORDED:
        return "an unrecorded behaviour version (before vmlab recorded it)"
    return f"behaviour version {version}"


def behaviour_notice(written: int, where: str) -> str | None:
    """One line saying that a snapshot comes from another behaviour version; None if not."""
    if written == BEHAVIOUR_VERSION:
        return None
    return (f"{where} was written by {describe(written)}; this vmlab is behaviour version "
            f"{BEHAVIOUR_VERSION}: the run may go on differently from the one that wrote it "
            f"(and from its report)")


def snapshot_behaviour(doc: dict[str, object]) -> int:
    """The behaviour version a checked snapshot map records."""
    value = doc.get("behaviour_version")
    return value if isinstance(value, int) and not isinstance(value, bool) else UNRECORDED
