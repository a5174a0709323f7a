"""Behaviour is kept: every built-in on every profile reaches the recorded end.

``fixtures/behaviour-baseline.json`` (written by ``fixtures/make_behaviour.py``) holds, for
each built-in and profile, the end reason, the event count, whether every expectation held,
every metric and the final state hash. A change meant to keep behaviour keeps all of them;
one meant to change results bumps ``BEHAVIOUR_VERSION`` and writes the file again.
"""

from __future__ import annotations

import json

import pytest

from tests.scenarios.fixtures.make_behaviour import BASELINE, cases, run_one

_RECORDED: dict[str, dict[str, object]] = json.loads(BASELINE.read_text())


def test_the_baseline_covers_every_builtin_on_every_profile() -> None:
    assert sorted(_RECORDED) == sorted(f"{n}@{p}" for n, p in cases())


@pytest.mark.parametrize(("name", "profile"), cases(), ids=[f"{n}@{p}" for n, p in cases()])
def test_builtin_reaches_its_recorded_end(name: str, profile: str) -> None:
    want = _RECORDED[f"{name}@{profile}"]
    got = run_one(name, profile)
    assert got["metrics"] == want["metrics"]
    assert (got["end_reason"], got["events"], got["passed"]) == \
        (want["end_reason"], want["events"], want["passed"])
    assert got["state_hash"] == want["state_hash"]
