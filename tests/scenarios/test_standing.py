"""Each expectation as it stands (scenarios/standing.py): decided at a checkpoint already
hit, or open with what it waits for."""

from __future__ import annotations

from scenarios.session import Session
from scenarios.standing import OPEN, PASS, expectations_so_far, summary
from tests.scenarios.fixtures.make_fixtures import SCENARIO


def test_open_then_decided() -> None:
    s = Session.load(str(SCENARIO))
    before = expectations_so_far(s)
    assert [x.outcome for x in before] == [OPEN, OPEN]
    assert before[0].detail == 'decided at checkpoint "logged", not reached yet'
    assert before[1].detail == "decided at the end of the run"
    assert summary(before) == "2 open"
    s.run(until_checkpoint="logged")
    after = expectations_so_far(s)
    assert (after[0].outcome, after[0].detail) == (PASS, "fsync_calls is 1")
    assert after[1].outcome == OPEN
    assert summary(after) == "1 passed, 1 open"
    assert summary([]) == "no expectations"
