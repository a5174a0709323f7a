"""``Session.power_cut()``: the power goes at any point the caller chooses, as the
``powercut`` op does from a program, and nothing an integrity sync acknowledged is lost on
2.6.6 and 2.6.7; on 2.6.5 losses appear only where its scripted races are.

fsync-race-b is cut at every one of its events on each release (each cut in a fresh
session). shared-file-mmap (about 4,000 events) is cut at a fixed-seed sample of events and
right after its msync(MS_SYNC) returned, which must have acknowledged the whole file.
"""

from __future__ import annotations

import random

import pytest

from scenarios.session import Session, SessionError

RELEASES = ("2.6.5", "2.6.6", "2.6.7")


def _events(name: str, kernel: str) -> tuple[int, int | None]:
    """Events of a whole run (up to its own ``powercut``, if it has one), and the event after
    which checkpoint synced_all was hit."""
    s = Session.load(name, kernel=kernel)
    after: int | None = None
    while s.run(until_events=s.events + 1) == "events":
        if after is None and any(r.name == "synced_all" for r in s.checkpoints):
            after = s.events
    return s.events, after


def _cut_at(name: str, kernel: str, events: int) -> tuple[Session, int]:
    s = Session.load(name, kernel=kernel)
    s.run(until_events=events)
    return s, s.power_cut()


@pytest.mark.parametrize("kernel", RELEASES)
def test_power_cut_at_every_event_of_fsync_race_b(kernel: str) -> None:
    total, synced_all = _events("fsync-race-b", kernel)
    assert synced_all is not None
    losses: dict[int, int] = {}
    for n in range(total):  # the last event is the scenario's own powercut
        s, lost = _cut_at("fsync-race-b", kernel, n)
        assert s.powered_off and s.run() == "end" and s.end_reason == "power_cut"
        assert s.step() == 0
        if n >= 1:  # the summary a run prints after a cut agrees with power_cut()
            assert s.metrics()["acked_bytes_lost"] == lost
        if lost:
            losses[n] = lost
    if kernel == "2.6.5":
        # race B: sync returns before the page fdatasync waits on is written
        assert losses, "2.6.5 never lost the page race B exposes"
        assert min(losses) >= synced_all
        assert max(losses.values()) <= 4096
    else:
        assert losses == {}


def test_power_cut_twice_is_refused() -> None:
    s = Session.load("fsync-race-b")
    s.run(until_events=3)
    assert s.power_cut() == 0
    assert [r.name for r in s.checkpoints][-1] == "power_cut"
    with pytest.raises(SessionError, match="already off"):
        s.power_cut()


@pytest.mark.parametrize("kernel", ["2.6.6", "2.6.7"])
def test_msync_acknowledges_and_a_cut_after_it_loses_nothing(kernel: str) -> None:
    """msync(MS_SYNC) writes and waits like fsync, so the oracle counts the whole mapped file
    as acknowledged once it returns; before it, nothing is (the stores sit in the ptes)."""
    s = Session.load("shared-file-mmap", kernel=kernel)
    s.run(until_checkpoint="dirtied")
    assert all(not f.acked for f in s.kernel.oracle.files.values())
    s.run(until_checkpoint="synced")
    acked = sum(len(f.acked) for f in s.kernel.oracle.files.values())
    assert acked == (4 << 20) // 4096
    assert s.power_cut() == 0
    assert s.metrics()["data_verified"] == 1


@pytest.mark.parametrize("kernel", ["2.6.6", "2.6.7"])
def test_power_cut_at_sampled_events_of_shared_file_mmap(kernel: str) -> None:
    total, _ = _events("shared-file-mmap", kernel)
    sample = sorted(random.Random(21).sample(range(1, total + 1), 4))
    for n in sample:
        _, lost = _cut_at("shared-file-mmap", kernel, n)
        assert lost == 0, f"cut at event {n} of {total}"
