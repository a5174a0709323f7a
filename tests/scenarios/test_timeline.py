"""Time travel: seek and step_back reach the state a straight run reaches, bit for bit."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.session import Session, SessionError
from tests.scenarios.travel_support import small_scenario

_SETTINGS = settings(max_examples=3, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_scenario(tmp_path_factory.mktemp("timeline"))


_TRAVELLERS: dict[str, Session] = {}
#: Events of each traveller's whole run (fixed, unlike its checkpoints, which a seek past
#: the latest one adds to: hypothesis needs the same bounds on every replay of a case).
_ENDS: dict[str, int] = {}


def _traveller(name: str) -> Session:
    """One session per scenario, run to its end with history (small spacing: many
    checkpoints, so seeks restore from the middle as well as from the start)."""
    s = _TRAVELLERS.get(name)
    if s is None:
        s = Session.load(name)
        h = s.keep_history(spacing_s=0.01)
        s.run()
        end = s.events
        _ENDS[name] = end
        # checkpoints in the middle whatever the wall time of this build: seeks restore
        # from them as well as from the start
        s.seek(0)
        for n in (end // 3, 2 * end // 3):
            s.run(until_events=n)
            h.take(s)
        _TRAVELLERS[name] = s
    return s


def _straight_hashes(name: str, points: list[int]) -> dict[int, str]:
    s = Session.load(name)
    out = {}
    for n in sorted(set(points)):
        s.run(until_events=n)
        out[n] = s.state_hash()
    return out


@pytest.mark.parametrize("which", ["small", "fsync-race-a", "shared-file-mmap"])
@_SETTINGS
@given(data=st.data())
def test_seek_is_bit_identical_to_a_straight_run(which: str, small: str,
                                                 data: st.DataObject) -> None:
    name = small if which == "small" else which
    s = _traveller(name)
    assert len(s.history.checkpoints) >= 2  # type: ignore[union-attr]
    end = s.history.checkpoints[-1].position.events  # type: ignore[union-attr]
    points = data.draw(st.lists(st.integers(0, end), min_size=2, max_size=4))
    want = _straight_hashes(name, points)
    for n in points:  # in the drawn order: back and forth
        assert s.seek(n) == n
        assert s.state_hash() == want[n], f"seek({n})"


@_SETTINGS
@given(data=st.data())
def test_step_back_by_fault_reaches_the_straight_run_suspended_there(
        small: str, data: st.DataObject) -> None:
    s = _traveller(small)
    forward = data.draw(st.integers(5, 600))
    back = data.draw(st.integers(1, 4))
    s.seek(0)
    s.step_until("fault", forward)
    assert s.step_back(back, "fault") == "record"
    here = s.position
    straight = Session.load(small)
    straight.step_until("fault", forward - back)
    assert straight.position == here
    assert s.suspended_at is not None and s.suspended_at.kind == "fault"
    assert s.state_hash() == straight.state_hash()
    straight.finish_event()
    s.finish_event()
    assert s.state_hash() == straight.state_hash()


#: Built-ins and the granularities whose records they write.
_BUILTIN_STEPS = {"fsync-race-a": ("event", "syscall", "io"),
                  "shared-file-mmap": ("event", "fault", "syscall", "io")}


@pytest.mark.parametrize("name", sorted(_BUILTIN_STEPS))
@_SETTINGS
@given(data=st.data())
def test_step_back_on_builtins_is_bit_identical_to_a_straight_run(
        name: str, data: st.DataObject) -> None:
    """Seek to a random event, step forward by a random unit, step back some of them: the
    state is the one a straight run has at that place, to the bit, inside an event or not."""
    s = _traveller(name)
    end = _ENDS[name]
    kind = data.draw(st.sampled_from(_BUILTIN_STEPS[name]))
    forward = data.draw(st.integers(2, 6))
    back = data.draw(st.integers(1, forward - 1))
    s.seek(data.draw(st.integers(0, end)))
    for _ in range(forward):
        if s.step_until(kind) == "end":
            break
    s.step_back(back, kind)
    here = s.position
    straight = Session.load(name)
    straight.run(until_events=here.events)
    while straight.position < here:
        straight.step_until(kind)
    assert straight.position == here, (kind, forward, back)
    assert (s.suspended_at is None) == (straight.suspended_at is None)
    assert s.state_hash() == straight.state_hash()
    s.finish_event()
    straight.finish_event()
    assert s.state_hash() == straight.state_hash()


def test_step_back_by_event_page_and_tag(small: str) -> None:
    s = _traveller(small)
    s.seek(20)
    assert s.step_back(3) == "event" and s.position.events == 17
    s.step_until("fault", 2)
    inside = s.position
    assert s.suspended_at is not None
    assert s.step_back() == "event"  # to the start of the suspended event
    assert s.suspended_at is None and s.position.events == inside.events
    s.seek(40)
    before = s.position
    s.step_until("tag", path="log")
    changed = s.position
    s.step_until("tag", path="log")
    assert s.step_back(1, "tag", path="log") in ("record", "event")
    assert s.position == changed and changed > before


def test_going_back_needs_history_and_stays_after_its_start(small: str) -> None:
    s = Session.load(small)
    s.run(until_events=10)
    with pytest.raises(SessionError, match="keeps no history"):
        s.seek(5)
    assert s.seek(12) == 12  # forward needs none
    s.keep_history()
    with pytest.raises(SessionError, match="before the history's first checkpoint"):
        s.seek(5)
    s.run(until_events=15)
    assert s.step_back(100) == "start" and s.position.events == 12
    assert s.step_back(1, "fault") == "start"


def test_the_budget_thins_checkpoints(small: str) -> None:
    s = Session.load(small)
    h = s.keep_history(budget_bytes=1, spacing_s=3600)  # only the checkpoints taken here
    spacing = h.spacing_s
    for n in (10, 20, 30, 40, 50):
        s.run(until_events=n)
        h.take(s)
    assert h.thinned > 0 and len(h.checkpoints) == 2 and h.spacing_s > spacing
    assert h.checkpoints[0].position.events == 0  # the first is never dropped
    s.run()
    final = s.state_hash()
    s.seek(30)
    s.run()
    assert s.state_hash() == final


def test_before_a_checkpoint_thinning_dropped(small: str) -> None:
    """A step back replays from a checkpoint; the replay may take a new one and thinning
    may then drop the one it started from: the one before it is still found."""
    s = Session.load(small)
    h = s.keep_history(spacing_s=3600)
    kept = []
    for n in (10, 20, 30):
        s.run(until_events=n)
        kept.append(h.take(s))
    h.checkpoints.remove(kept[1])  # as _thin does
    assert h.before(kept[1]) is h.before(kept[2]) is kept[0]
    assert h.before(kept[0]) is not None and h.before(h.checkpoints[0]) is None


def test_going_back_rewinds_the_story_and_the_counters_over_time() -> None:
    """After a seek the story shown so far and the sampled counters are those a straight run
    has at that event, and running on from there gives the straight run's again."""
    def seen(s: Session) -> tuple[object, ...]:
        return ([(h.index, h.event, h.time_ns) for h in s.story], s.story_text,
                list(s.series.times), [list(c) for c in s.series.columns])

    s = Session.load("fsync-race-a", kernel="2.6.5")
    s.keep_history(spacing_s=0.01)
    s.run()
    end = seen(s)
    middle = s.events // 2
    straight = Session.load("fsync-race-a", kernel="2.6.5")
    straight.run(until_events=middle)
    s.seek(middle)
    assert seen(s) == seen(straight)
    assert len(s.story) < len(end[0])  # type: ignore[arg-type]
    s.run()
    assert seen(s) == end
