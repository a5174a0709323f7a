"""Fine steps: each granularity stops on exactly the next such record (or change), and
run_until stops where its check first holds; none of it changes the run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from scenarios.finestep import Position, StepError, file_tags, page_signature
from scenarios.session import Session
from tests.scenarios.travel_support import small_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_scenario(tmp_path_factory.mktemp("travel"))


@pytest.fixture(scope="module")
def straight(scenario: str) -> tuple[list[dict[str, object]], str]:
    """Every trace record of a straight run, and its final state hash."""
    s = Session.load(scenario)
    out = io.StringIO()
    s.trace_to(out)
    s.run()
    return [json.loads(line) for line in out.getvalue().splitlines()], s.state_hash()


@pytest.mark.parametrize(("kind", "trace_kind"),
                         [("fault", "fault"), ("syscall", "syscall"), ("io", "io_complete")])
def test_each_record_granularity_stops_on_exactly_the_next_record(
        scenario: str, straight: tuple[list[dict[str, object]], str], kind: str,
        trace_kind: str) -> None:
    records, final_hash = straight
    want = [r["seq"] for r in records if r["kind"] == trace_kind]
    assert len(want) >= 16
    s = Session.load(scenario)
    got = []
    while s.step_until(kind) == "record":
        rec = s.suspended_at
        assert rec is not None and rec.kind == trace_kind
        assert s.position == Position(s.events - 1, rec.seq + 1)
        got.append(rec.seq)
    assert got == want
    assert s.state_hash() == final_hash  # stopping changed nothing


def _change_points(scenario: str, signature: object) -> list[Position]:
    """Positions where ``signature(kernel)`` differs from the previous record or event end,
    found by a plain observer (no suspension)."""
    s = Session.load(scenario)
    k = s.kernel
    last = [signature(k)]  # type: ignore[operator]
    found: list[Position] = []

    def look(pos: Position) -> None:
        now = signature(k)  # type: ignore[operator]
        if now != last[0]:
            last[0] = now
            found.append(pos)

    k.trace.vl_hook = lambda ev: look(Position(k.machine.events - 1, ev.seq + 1))
    while s.run(until_events=s.events + 1) == "events":
        look(s.position)
    return found


def test_page_and_tag_steps_stop_at_every_change_and_nowhere_else(
        scenario: str, straight: tuple[list[dict[str, object]], str]) -> None:
    records, _ = straight
    pfn = next(int(r["b"]) for r in records if r["kind"] == "cow")  # a page that is copied to
    want = _change_points(scenario, lambda k: page_signature(k, pfn))
    assert len(want) >= 3
    s = Session.load(scenario)
    got = []
    while s.step_until("page", pfn=pfn) != "end":
        got.append(s.position)
    assert got == want
    want_tags = _change_points(scenario, lambda k: file_tags(k, "log"))
    assert len(want_tags) >= 10
    s = Session.load(scenario)
    got = []
    while s.step_until("tag", path="log") != "end":
        got.append(s.position)
    assert got == want_tags


def test_event_steps_and_n(scenario: str) -> None:
    s = Session.load(scenario)
    assert s.step_until("fault", 5) == "record"
    five = s.position
    assert s.step_until("event") == "event"  # finishes the suspended event
    assert s.suspended_at is None and s.position.events == five.events + 1
    t = Session.load(scenario)
    for _ in range(5):
        t.step_until("fault")
    assert t.position == five


def test_run_until_stops_where_the_check_first_holds(scenario: str) -> None:
    s = Session.load(scenario)
    assert s.run_until("pgfault > 100") == "predicate"
    assert s.kernel.vmstat.pgfault == 101
    assert s.run_until("cow_faults >= 10 and nr_dirty >= 0") == "predicate"
    assert s.kernel.vmstat.cow_faults == 10
    assert s.run_until("pgfault > 1000000") == "end"


def test_bad_granularities_are_one_line_errors(scenario: str) -> None:
    s = Session.load(scenario)
    with pytest.raises(StepError, match="did you mean"):
        s.step_until("faults")
    with pytest.raises(StepError, match="outside mem_map"):
        s.step_until("page", pfn=10**9)
    with pytest.raises(StepError, match='no file "lgo"'):
        s.step_until("tag", path="lgo")
    with pytest.raises(StepError, match="run_until"):
        s.run_until("nr_dirtyy == 0")


def test_a_snapshot_finishes_the_suspended_event(scenario: str, tmp_path: Path) -> None:
    from scenarios.snapshot import load_snapshot, save_snapshot

    s = Session.load(scenario)
    s.step_until("fault", 3)
    save_snapshot(s, tmp_path / "mid.vmsnap")
    assert s.suspended_at is None
    r = load_snapshot(tmp_path / "mid.vmsnap")
    assert r.state_hash() == s.state_hash()
