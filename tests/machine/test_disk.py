"""Tests for machine/disk.py: storage, service-time model, elevators, power cut, snapshots."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.borrowed import BorrowedBytes
from machine.clock import EV_DISK_DONE, EV_TIMER, Clock
from machine.disk import (
    MAX_SECTORS,
    READ_EXPIRE_NS,
    SPARSE_MAX,
    WRITE_EXPIRE_NS,
    Disk,
    DiskModel,
    DiskRequest,
)
from machine.state_generated import (
    load_clock,
    load_disk_model,
    load_disk_request,
    save_clock,
    save_disk_model,
    save_disk_request,
)

GIB_SECTORS = 2 * 1024 * 1024
SMALL_SECTORS = 4096


def run_until_idle(clock: Clock, disk: Disk, limit: int = 100_000) -> list[DiskRequest]:
    """Pop events as the board would, completing disk requests; return them in order."""
    done: list[DiskRequest] = []
    for _ in range(limit):
        ev = clock.pop()
        if ev is None:
            return done
        if ev.kind == EV_DISK_DONE:
            req = disk.complete()
            assert req.req_id == ev.a
            done.append(req)
    raise AssertionError("disk did not go idle")


def advance_to(clock: Clock, t: int) -> None:
    """Move the clock to time ``t`` with a dummy timer event (nothing else pending)."""
    clock.schedule(t, EV_TIMER, 0, 0)
    ev = clock.pop()
    assert ev is not None and ev.kind == EV_TIMER and clock.now == t


def pattern(n_sectors: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n_sectors * 512))


# ----- model parameters and the seek curve -----


def test_default_model_is_a_7200_rpm_disk() -> None:
    m = DiskModel()
    assert m.rotation_ns == 8_333_333
    assert m.avg_seek_ns == 8_500_000
    assert m.track_to_track_ns < m.avg_seek_ns < m.full_stroke_ns
    disk = Disk(Clock(), GIB_SECTORS)
    assert disk.ncyl == 645
    assert save_disk_model(load_disk_model(save_disk_model(m))) == save_disk_model(m)


def test_seek_curve_end_points() -> None:
    disk = Disk(Clock(), GIB_SECTORS)
    m = disk.model
    assert disk.seek_ns(0) == 0
    assert disk.seek_ns(1) == m.track_to_track_ns
    assert disk.seek_ns(disk.ncyl - 1) == m.full_stroke_ns
    # the two pieces meet at the boundary (continuity, up to rounding)
    b = disk.curve.boundary
    assert 1 < b < disk.ncyl - 1
    assert abs(disk.seek_ns(b) - disk.seek_ns(b - 1)) < 100_000


@pytest.mark.parametrize("nsectors", [100, 3256 * 2, 3256 * 10, 3256 * 40, GIB_SECTORS])
def test_seek_curve_monotone_exhaustive(nsectors: int) -> None:
    disk = Disk(Clock(), nsectors)
    prev = -1
    for d in range(disk.ncyl):
        t = disk.seek_ns(d)
        assert t >= prev, (d, t, prev)
        prev = t
    if disk.ncyl > 1:
        assert disk.seek_ns(1) == disk.model.track_to_track_ns


@settings(max_examples=200, deadline=None)
@given(
    nsectors=st.integers(1, 40 * GIB_SECTORS),
    x=st.integers(0, 10**9),
    y=st.integers(0, 10**9),
)
def test_longer_seek_costs_more(nsectors: int, x: int, y: int) -> None:
    disk = Disk(Clock(), nsectors)
    d1 = x % disk.ncyl
    d2 = y % disk.ncyl
    short, long_ = min(d1, d2), max(d1, d2)
    assert disk.seek_ns(short) <= disk.seek_ns(long_)
    if 0 < short < long_ and disk.ncyl >= 16:
        assert disk.seek_ns(short) < disk.seek_ns(long_)
    assert disk.seek_ns(long_) <= disk.model.full_stroke_ns


@pytest.mark.parametrize("nsectors", [GIB_SECTORS, 8 * GIB_SECTORS, 80 * GIB_SECTORS])
def test_average_random_seek_near_configured(nsectors: int) -> None:
    disk = Disk(Clock(), nsectors)
    rng = random.Random(20040404)
    n = 20_000
    total = 0
    for _ in range(n):
        a = rng.randrange(nsectors)
        b = rng.randrange(nsectors)
        total += disk.seek_ns(abs(disk.cylinder(a) - disk.cylinder(b)))
    avg = total / n
    assert abs(avg - 8_500_000) <= 0.15 * 8_500_000, avg


def test_model_rejects_impossible_parameters() -> None:
    with pytest.raises(ValueError, match="track_to_track < avg_seek < full_stroke"):
        DiskModel(avg_seek_ns=20_000_000)
    with pytest.raises(ValueError, match="rpm"):
        DiskModel(rpm=0)
    # an average barely above track-to-track cannot be met by a monotone curve
    with pytest.raises(ValueError, match="non-monotone"):
        Disk(Clock(), GIB_SECTORS, model=DiskModel(avg_seek_ns=900_000))


# ----- service time -----


def test_service_time_breakdown_adds_up() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS)
    advance_to(clock, 1_234_567)
    rid = disk.submit(500_000, 8, False, b"", 7)
    req = disk.in_service
    assert req is not None and req.req_id == rid
    assert req.start_ns == 1_234_567
    assert req.ctl_ns == disk.model.controller_overhead_ns
    assert req.seek_ns == disk.seek_ns(disk.cylinder(500_000))
    assert req.xfer_ns == disk.transfer_ns(8) == (4096 * 10**9 + 49_999_999) // 50_000_000
    assert req.rot_ns == disk.rotational_wait_ns(500_000, req.start_ns + req.ctl_ns + req.seek_ns)
    assert req.done_ns == req.start_ns + req.ctl_ns + req.seek_ns + req.rot_ns + req.xfer_ns
    (done,) = run_until_idle(clock, disk)
    assert done is req and clock.now == req.done_ns and done.cookie == 7
    assert disk.busy_ns == req.done_ns - req.start_ns
    assert disk.head == 500_008 and disk.head_travel == 500_000 and disk.seeks == 1


def test_rotational_latency_depends_on_time_and_is_below_one_revolution() -> None:
    rots: list[int] = []
    rotation = DiskModel().rotation_ns
    for k in range(40):
        clock = Clock()
        disk = Disk(clock, GIB_SECTORS)
        advance_to(clock, 10_000_000 + k * 337_001)
        disk.submit(123_456, 8, False, b"", 0)
        req = disk.in_service
        assert req is not None
        assert 0 <= req.rot_ns < rotation
        rots.append(req.rot_ns)
    assert len(set(rots)) > 30
    # one revolution later the platter is at the same angle
    disk = Disk(Clock(), GIB_SECTORS)
    t = 5_000_017
    assert disk.rotational_wait_ns(999, t) == disk.rotational_wait_ns(999, t + rotation)
    assert disk.rotational_wait_ns(999, t) != disk.rotational_wait_ns(999, t + rotation // 3)


def test_head_switch_on_same_cylinder_other_surface() -> None:
    disk = Disk(Clock(), GIB_SECTORS)
    spt = disk.spt
    assert disk.position_ns(10, 20) == 0
    assert disk.position_ns(10, spt + 10) == disk.model.head_switch_ns
    assert disk.position_ns(10, disk.cyl_sectors + 10) == disk.model.track_to_track_ns


def total_time_sync(disk: Disk, clock: Clock, sectors: list[int]) -> int:
    start = clock.now
    for s in sectors:
        disk.submit(s, 8, False, b"", 0)
        run_until_idle(clock, disk)
    return clock.now - start


def test_sequential_4k_requests_beat_random_ones() -> None:
    rng = random.Random(7)
    n = 64
    seq = [100_000 + 8 * i for i in range(n)]
    rnd = [rng.randrange(GIB_SECTORS // 8) * 8 for _ in range(n)]
    c1 = Clock()
    t_seq = total_time_sync(Disk(c1, GIB_SECTORS), c1, seq)
    c2 = Clock()
    t_rnd = total_time_sync(Disk(c2, GIB_SECTORS), c2, rnd)
    assert t_seq < t_rnd
    # each sequential request costs at most one revolution plus overheads
    m = DiskModel()
    per_req = m.rotation_ns + m.controller_overhead_ns + m.head_switch_ns + 100_000
    assert t_seq < n * per_req + m.full_stroke_ns


# ----- elevators -----


def run_batch(elevator: str, sectors: list[int]) -> tuple[Disk, list[DiskRequest]]:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS, elevator)
    for i, s in enumerate(sectors):
        disk.submit(s, 8, i % 3 == 0, pattern(8, i) if i % 3 == 0 else b"", i)
    assert disk.queue_depth == disk.max_queue_depth == len(sectors)
    done = run_until_idle(clock, disk)
    assert disk.queue_depth == 0
    return disk, done


def test_deadline_reduces_head_travel_versus_noop() -> None:
    rng = random.Random(99)
    sectors = [rng.randrange(GIB_SECTORS // 8) * 8 for _ in range(100)]
    noop, done_noop = run_batch("noop", sectors)
    dl, done_dl = run_batch("deadline", sectors)
    assert [r.cookie for r in done_noop] == list(range(100))
    assert sorted(r.cookie for r in done_dl) == list(range(100))
    assert dl.head_travel * 3 < noop.head_travel
    assert dl.requests == noop.requests == 100
    assert dl.busy_ns < noop.busy_ns
    assert dl.to_state()["chunk_data"] == noop.to_state()["chunk_data"]


def test_deadline_serves_one_way_ascending_sweeps() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS, "deadline")
    disk.submit(50_000, 8, False, b"", 0)  # in service; the head ends at 50_008
    for s in (90_000, 10_000, 60_000, 30_000, 70_000):
        disk.submit(s, 8, False, b"", s)
    done = run_until_idle(clock, disk)
    assert [r.sector for r in done] == [50_000, 60_000, 70_000, 90_000, 10_000, 30_000]


def test_expired_deadline_is_served_first() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS, "deadline")
    disk.submit(1_000_000, 8, False, b"", 0)
    late = disk.submit(100, 8, False, b"", 1)  # behind the sweep: C-SCAN alone would starve it
    late_req = disk.queue[0]
    assert late_req.deadline_ns == READ_EXPIRE_NS
    # a stream of requests always ahead of the head keeps the sweep busy
    next_ahead = 1_001_000
    for _ in range(2):
        disk.submit(next_ahead, 8, False, b"", 2)
        next_ahead += 1000
    ahead_at_dispatch = -1
    for _ in range(10_000):
        ev = clock.pop()
        assert ev is not None
        req = disk.complete()
        if req.req_id == late:
            break
        if disk.in_service is late_req:
            ahead_at_dispatch = sum(1 for r in disk.queue if r.sector >= disk.head)
        else:
            assert clock.now < late_req.deadline_ns  # before expiry the sweep goes on
        disk.submit(next_ahead, 8, False, b"", 2)
        next_ahead += 1000
    else:
        raise AssertionError("late request never served")
    assert ahead_at_dispatch >= 1
    assert late_req.start_ns >= late_req.deadline_ns
    assert late_req.start_ns < late_req.deadline_ns + 2 * DiskModel().full_stroke_ns


def test_write_deadline_is_five_seconds() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS)
    disk.submit(0, 8, False, b"", 0)
    disk.submit(8, 8, True, bytes(4096), 0)
    assert disk.queue[0].deadline_ns == WRITE_EXPIRE_NS


def test_unknown_elevator_rejected() -> None:
    with pytest.raises(ValueError, match="unknown elevator"):
        Disk(Clock(), 100, "cfq")


# ----- data, durability, power cut -----


def test_write_visible_only_after_completion() -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS)
    data = pattern(8, 1)
    disk.submit(64, 8, True, data, 0)
    assert disk.read_sectors(64, 8) == bytes(4096)
    rid = disk.submit(64, 8, False, b"", 0)
    done = run_until_idle(clock, disk)
    assert disk.read_sectors(64, 8) == data
    assert done[1].req_id == rid and done[1].data == data
    assert disk.writes == 1 and disk.reads == 1
    assert disk.sectors_written == 8 and disk.sectors_read == 8


def test_power_cut_loses_queued_and_in_flight_writes_only() -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS, "noop")
    a, b, c = pattern(8, 1), pattern(8, 2), pattern(8, 3)
    disk.submit(0, 8, True, a, 0)
    disk.submit(800, 8, True, b, 0)
    disk.submit(1600, 8, True, c, 0)
    ev = clock.pop()
    assert ev is not None and ev.kind == EV_DISK_DONE
    disk.complete()  # a is durable; b is in flight; c is queued
    assert disk.queue_depth == 2 and len(disk.queue) == 1
    assert disk.power_cut() == 2
    assert clock.pending() == 0 and clock.pop() is None
    assert disk.in_service is None and disk.queue == [] and disk.queue_depth == 0
    assert disk.read_sectors(0, 8) == a
    assert disk.read_sectors(800, 8) == bytes(4096)
    assert disk.read_sectors(1600, 8) == bytes(4096)
    assert disk.power_cut() == 0
    # the drive works again after the cut
    disk.submit(800, 8, True, b, 0)
    run_until_idle(clock, disk)
    assert disk.read_sectors(800, 8) == b


def test_sparse_store() -> None:
    disk = Disk(Clock(), 1024 * GIB_SECTORS)  # 1 TiB costs nothing until written
    assert disk.vl_chunks_allocated() == 0
    disk.write_sectors(5 * 1024 * GIB_SECTORS // 10, bytes(512 * 64))
    assert disk.vl_chunks_allocated() == 0
    disk.write_sectors(1024 * GIB_SECTORS - 1, b"\x01" * 512)
    assert disk.vl_chunks_allocated() == 1
    assert disk.read_sectors(1024 * GIB_SECTORS - 2, 2) == bytes(512) + b"\x01" * 512
    # a chunk written back to zeros is dropped from the saved state
    disk.write_sectors(1024 * GIB_SECTORS - 1, bytes(512))
    st_ = disk.to_state()
    assert st_["chunks"] == [] and st_["chunk_data"] == b""


def _one_word_page(at: int, word: bytes) -> bytes:
    """A page of zeros with ``word`` at byte ``at`` (a swapped-out page touched once)."""
    return bytes(at) + word + bytes(4096 - at - len(word))


def test_sparse_chunks_read_and_save_as_whole_ones() -> None:
    """Chunks written whole with a short non-zero span are kept sparse: every read (whole,
    partial, across chunks), the saved state and a borrowed save see the same bytes as a
    disk keeping them whole; a partial write over a sparse chunk makes it whole again."""
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS)
    pages = [_one_word_page(4092, b"\x01\x02\x03\x04"), _one_word_page(0, b"\xff" * 4),
             _one_word_page(1000, bytes(range(1, 201))), pattern(8, 3)]
    for i, page in enumerate(pages):
        disk.submit(8 * i, 8, True, page, 0)
    run_until_idle(clock, disk)
    assert disk.vl_chunks_allocated() == 4 and disk.vl_chunks_whole() == 1
    whole = b"".join(pages)
    assert disk.read_sectors(0, 32) == whole
    for sector, n in [(7, 2), (2, 1), (9, 3), (15, 9), (17, 1)]:
        assert disk.read_sectors(sector, n) == whole[sector * 512 : (sector + n) * 512]
    state = disk.to_state()
    assert state["chunks"] == [0, 1, 2, 3] and state["chunk_data"] == whole
    lent = disk.to_state(borrow=True)["chunk_data"]
    assert isinstance(lent, BorrowedBytes) and lent.to_bytes() == whole
    # lent without a copy: the sparse chunks as zeros, span, zeros
    assert [len(p) for p in lent.parts] == [4092, 4, 4, 4092, 1000, 200, 2896, 4096]
    again = Disk.from_state(state, clock)
    assert again.vl_chunks_whole() == 1 and again.read_sectors(0, 32) == whole
    # a partial write: the sparse chunk becomes whole, old bytes kept around the new ones
    disk.write_sectors(15, b"\x07" * 512)
    expect = pages[1][:3584] + b"\x07" * 512
    assert disk.read_sectors(8, 8) == expect and disk.vl_chunks_whole() == 2
    # rewritten whole: sparse again; rewritten as zeros: gone
    disk.write_sectors(8, pages[0])
    disk.write_sectors(16, bytes(4096))
    assert disk.vl_chunks_whole() == 1 and disk.vl_chunks_allocated() == 3
    assert disk.read_sectors(8, 16) == pages[0] + bytes(4096)


def test_unaligned_write_sectors_spans_chunks() -> None:
    disk = Disk(Clock(), SMALL_SECTORS)
    data = pattern(11, 5)
    disk.write_sectors(5, data)
    assert disk.read_sectors(5, 11) == data
    assert disk.read_sectors(0, 5) == bytes(5 * 512)
    assert disk.read_sectors(16, 8) == bytes(4096)
    assert disk.vl_chunks_allocated() == 2


@pytest.mark.parametrize(
    ("sector", "nsect", "write", "data", "message"),
    [
        (-1, 1, False, b"", "outside the disk"),
        (4095, 2, False, b"", "outside the disk"),
        (0, 0, False, b"", "sector count must be positive"),
        (0, 2, True, bytes(512), "write payload is 512 bytes, expected 1024"),
    ],
)
def test_submit_validation(sector: int, nsect: int, write: bool, data: bytes, message: str) -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS)
    with pytest.raises(ValueError, match=message) as exc:
        disk.submit(sector, nsect, write, data, 0)
    assert "\n" not in str(exc.value)
    assert disk.queue_depth == 0 and clock.pending() == 0


def test_direct_access_validation_and_misuse() -> None:
    disk = Disk(Clock(), SMALL_SECTORS)
    with pytest.raises(ValueError, match="multiple of 512"):
        disk.write_sectors(0, b"abc")
    with pytest.raises(ValueError, match="outside the disk"):
        disk.read_sectors(4090, 8)
    with pytest.raises(RuntimeError, match="no request in service"):
        disk.complete()
    with pytest.raises(ValueError, match="nsectors"):
        Disk(Clock(), 0)


# ----- against a bytearray reference -----

op_strategy = st.tuples(
    st.booleans(),
    st.integers(0, SMALL_SECTORS - 1),
    st.integers(1, 24),
    st.integers(0, 2**31),
)


def apply_and_check(disk: Disk, done: list[DiskRequest], ref: bytearray) -> None:
    for req in done:
        lo = req.sector * 512
        hi = lo + req.nsect * 512
        if req.write:
            ref[lo:hi] = req.data
        else:
            assert req.data == bytes(ref[lo:hi])
    assert disk.read_sectors(0, SMALL_SECTORS) == bytes(ref)


def clip(sector: int, nsect: int) -> int:
    return min(nsect, SMALL_SECTORS - sector)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op_strategy, min_size=1, max_size=30))
def test_noop_batch_matches_bytearray_model(ops: list[tuple[bool, int, int, int]]) -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS, "noop")
    ids = []
    for write, sector, nsect, seed in ops:
        n = clip(sector, nsect)
        ids.append(disk.submit(sector, n, write, pattern(n, seed) if write else b"", seed))
    done = run_until_idle(clock, disk)
    # every submission completes exactly once, in its own request or merged into another
    assert sorted(t for r in done for t in r.tags) == sorted(ids)
    assert disk.requests + disk.merges == len(ids)
    apply_and_check(disk, done, bytearray(SMALL_SECTORS * 512))


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op_strategy, min_size=1, max_size=30))
def test_deadline_sync_sequence_matches_bytearray_model(
    ops: list[tuple[bool, int, int, int]],
) -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS, "deadline")
    done: list[DiskRequest] = []
    for write, sector, nsect, seed in ops:
        n = clip(sector, nsect)
        disk.submit(sector, n, write, pattern(n, seed) if write else b"", seed)
        done.extend(run_until_idle(clock, disk))
    apply_and_check(disk, done, bytearray(SMALL_SECTORS * 512))
    assert disk.requests == len(ops)
    assert disk.max_queue_depth == 1


# ----- snapshots -----


def busy_disk(elevator: str) -> tuple[Clock, Disk]:
    """A disk with data on it, a request in service and a queue."""
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS, elevator)
    disk.write_sectors(77, pattern(3, 77))
    rng = random.Random(3)
    for i in range(12):
        s = rng.randrange(GIB_SECTORS - 16)
        write = i % 2 == 0
        disk.submit(s, 16, write, pattern(16, i) if write else b"", i)
    for _ in range(4):
        ev = clock.pop()
        assert ev is not None
        disk.complete()
    assert disk.in_service is not None and len(disk.queue) == 7
    return clock, disk


def finished(clock: Clock, disk: Disk) -> list[tuple[int, int, bytes]]:
    return [(r.req_id, r.done_ns, r.data) for r in run_until_idle(clock, disk)]


def test_to_state_round_trip_idle() -> None:
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS, "noop", DiskModel(rpm=5400, heads=2))
    state = disk.to_state()
    assert Disk.from_state(state, clock).to_state() == state
    disk.write_sectors(10, pattern(20, 1))
    state = disk.to_state()
    again = Disk.from_state(state, clock)
    assert again.to_state() == state
    assert again.read_sectors(0, SMALL_SECTORS) == disk.read_sectors(0, SMALL_SECTORS)
    assert again.model.rpm == 5400 and again.elevator == "noop"


def test_borrowed_state_lends_the_chunks() -> None:
    """``to_state(borrow=True)``: the same state with the medium's chunks lent, not joined."""
    clock = Clock()
    disk = Disk(clock, SMALL_SECTORS, "noop", DiskModel(rpm=5400, heads=2))
    disk.write_sectors(16, pattern(20, 1))
    disk.write_sectors(64, bytes(8 * 512))  # zeros: no chunk
    copied = disk.to_state()
    lent = disk.to_state(borrow=True)
    data = lent.pop("chunk_data")
    assert isinstance(data, BorrowedBytes)
    assert data.to_bytes() == copied.pop("chunk_data") and lent == copied
    assert len(data.parts) == len(copied["chunks"]) == 3


@pytest.mark.parametrize("elevator", ["noop", "deadline"])
def test_to_state_round_trip_mid_service(elevator: str) -> None:
    clock, disk = busy_disk(elevator)
    cstate = save_clock(clock)
    state = disk.to_state()
    clock2 = load_clock(cstate)
    disk2 = Disk.from_state(state, clock2)
    assert disk2.to_state() == state
    assert disk2.queue_depth == disk.queue_depth == 8
    assert disk2.in_service is not None and disk2.done_seq == disk.done_seq
    # the restored pair runs on exactly as the original
    assert finished(clock2, disk2) == finished(clock, disk)
    assert disk2.to_state() == disk.to_state()


def test_to_state_is_plain_data_and_survives_msgpack() -> None:
    msgpack = pytest.importorskip("msgpack")
    clock, disk = busy_disk("deadline")
    state = disk.to_state()
    raw = msgpack.packb({"clock": save_clock(clock), "disk": state})
    back = msgpack.unpackb(raw, raw=False)
    clock2 = load_clock(back["clock"])
    disk2 = Disk.from_state(back["disk"], clock2)
    assert disk2.to_state() == state


def test_power_cut_after_restore_cancels_the_restored_event() -> None:
    clock, disk = busy_disk("deadline")
    clock2 = load_clock(save_clock(clock))
    disk2 = Disk.from_state(disk.to_state(), clock2)
    assert clock2.pending() == 1
    assert disk2.power_cut() == 8
    assert clock2.pending() == 0


def test_request_round_trip_and_repr() -> None:
    req = DiskRequest(5, 100, 8, True, b"\x07" * 4096, 42, 10, 20)
    req.start_ns = 11
    assert save_disk_request(load_disk_request(save_disk_request(req))) == save_disk_request(req)
    assert "W sector=100" in repr(req)
    assert "idle" in repr(Disk(Clock(), 100))


# ----- request merging (elv_merge) -----


def _busy(elevator: str = "deadline") -> tuple[Clock, Disk]:
    """A disk with one long read in service far away, so new requests queue up."""
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS, elevator)
    disk.submit(GIB_SECTORS - 64, 8, False, b"", 0)
    assert disk.in_service is not None
    return clock, disk


@pytest.mark.parametrize("elevator", ["deadline", "noop"])
def test_back_and_front_merges_join_adjacent_queued_writes(elevator: str) -> None:
    clock, disk = _busy(elevator)
    a = disk.submit(1000, 8, True, pattern(8, 1), 1)
    b = disk.submit(1008, 8, True, pattern(8, 2), 2)   # back merge
    c = disk.submit(992, 8, True, pattern(8, 3), 3)    # front merge
    assert len(disk.queue) == 1 and disk.merges == 2
    req = disk.queue[0]
    assert (req.req_id, req.sector, req.nsect, req.tags) == (a, 992, 24, [c, a, b])
    assert len({a, b, c}) == 3
    # the merged payloads, kept as parts, joined once in sector order
    assert req.vl_parts == [pattern(8, 3), pattern(8, 1), pattern(8, 2)]
    assert req.vl_join() == pattern(8, 3) + pattern(8, 1) + pattern(8, 2)
    assert req.vl_parts == [] and req.data == pattern(8, 3) + pattern(8, 1) + pattern(8, 2)
    done = run_until_idle(clock, disk)
    assert [r.tags for r in done][-1] == [c, a, b]
    assert disk.read_sectors(992, 24) == pattern(8, 3) + pattern(8, 1) + pattern(8, 2)
    assert disk.requests == 2 and disk.writes == 1 and disk.sectors_written == 24


def test_merged_read_returns_the_whole_range() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS)
    disk.write_sectors(2000, pattern(16, 9))
    disk.submit(GIB_SECTORS - 64, 8, False, b"", 0)
    disk.submit(2000, 8, False, b"", 1)
    disk.submit(2008, 8, False, b"", 2)
    done = run_until_idle(clock, disk)
    assert done[-1].data == pattern(16, 9) and done[-1].nsect == 16


def test_no_merge_across_directions_gaps_size_limit_or_into_service() -> None:
    clock, disk = _busy()
    disk.submit(1000, 8, True, pattern(8, 1), 1)
    disk.submit(1008, 8, False, b"", 2)                      # other direction
    disk.submit(1017, 8, True, pattern(8, 3), 3)             # a gap of one sector
    disk.submit(GIB_SECTORS - 56, 8, False, b"", 4)          # follows the one in service
    assert disk.merges == 0 and len(disk.queue) == 4
    big = MAX_SECTORS - 8
    disk.submit(5000, big, True, pattern(big, 5), 5)
    disk.submit(5000 + big, 8, True, pattern(8, 6), 6)      # exactly MAX_SECTORS: merges
    disk.submit(5000 + MAX_SECTORS, 8, True, pattern(8, 7), 7)  # would exceed: new request
    assert disk.merges == 1 and len(disk.queue) == 6
    assert max(r.nsect for r in disk.queue) == MAX_SECTORS
    run_until_idle(clock, disk)


def test_idle_disk_starts_at_once_so_nothing_merges() -> None:
    clock = Clock()
    disk = Disk(clock, GIB_SECTORS)
    disk.submit(1000, 8, True, pattern(8, 1), 1)
    run_until_idle(clock, disk)
    disk.submit(1008, 8, True, pattern(8, 2), 2)
    run_until_idle(clock, disk)
    assert disk.merges == 0 and disk.requests == 2


def test_merged_queue_round_trips_through_state() -> None:
    clock, disk = _busy()
    disk.submit(1000, 8, True, pattern(8, 1), 1)
    disk.submit(1008, 8, True, pattern(8, 2), 2)
    state = disk.to_state()
    clock2 = load_clock(save_clock(clock))
    again = Disk.from_state(state, clock2)
    assert again.to_state() == state
    assert again.queue[0].tags == disk.queue[0].tags
    assert finished(clock, disk) == finished(clock2, again)


def test_request_state_without_its_own_tag_is_refused() -> None:
    _, disk = _busy()
    disk.submit(1000, 8, True, pattern(8, 1), 1)
    bad = save_disk_request(disk.queue[0])
    bad["tags"] = [12345]
    with pytest.raises(ValueError, match="tags"):
        load_disk_request(bad)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4095), st.binary(min_size=1, max_size=300)),
                max_size=3))
def test_a_chunk_is_sparse_exactly_when_its_nonzero_span_is_short(
        writes: list[tuple[int, bytes]]) -> None:
    """The reference rule: strip the zeros at both ends; what is left, if any, is kept
    sparse when it is at most SPARSE_MAX bytes long, else the chunk is kept whole."""
    page = bytearray(4096)
    for at, data in writes:
        page[at : at + len(data)] = data[: 4096 - at]
    disk = Disk(Clock(), SMALL_SECTORS)
    disk.write_sectors(0, bytes(page))
    rest = bytes(page).strip(b"\0")
    assert disk.vl_chunks_allocated() == (1 if rest else 0)
    assert disk.vl_chunks_whole() == (1 if len(rest) > SPARSE_MAX else 0)
    assert disk.read_sectors(0, 8) == bytes(page)
