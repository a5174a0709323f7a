"""Tests for machine/physmem.py: u32 and byte access, frame helpers, bounds, snapshots."""

from __future__ import annotations

import mmap
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.borrowed import BorrowedBytes
from machine.physmem import PAGE_SIZE, MachineCheck, PhysicalMemory

NFRAMES = 4
SIZE = NFRAMES * PAGE_SIZE


def test_geometry() -> None:
    pm = PhysicalMemory(NFRAMES)
    assert pm.nframes == NFRAMES
    assert PAGE_SIZE == 4096
    assert isinstance(pm.mem, mmap.mmap)  # zero-filled lazily by the host
    assert len(pm.mem) == SIZE
    assert all(pm.frame_is_zero(p) for p in range(NFRAMES))


@pytest.mark.parametrize("n", [0, -1])
def test_nframes_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError, match="nframes"):
        PhysicalMemory(n)


def test_u32_is_little_endian_and_masked() -> None:
    pm = PhysicalMemory(1)
    pm.write_u32(0, 0x11223344)
    assert bytes(pm.mem[0:4]) == b"\x44\x33\x22\x11"
    assert pm.read_u32(0) == 0x11223344
    pm.write_u32(8, -1)
    assert pm.read_u32(8) == 0xFFFFFFFF
    pm.write_u32(12, (1 << 33) | 5)
    assert pm.read_u32(12) == 5
    pm.mem[16:20] = b"\x01\x02\x03\x04"
    assert pm.read_u32(16) == 0x04030201


def test_unaligned_u32() -> None:
    pm = PhysicalMemory(1)
    pm.write_u32(5, 0xA1B2C3D4)
    assert bytes(pm.mem[4:10]) == b"\x00\xd4\xc3\xb2\xa1\x00"
    assert pm.read_u32(5) == 0xA1B2C3D4
    assert pm.read_u32(4) == 0xB2C3D400
    pm.write_u32(PAGE_SIZE - 4, 0xCAFEBABE)
    assert pm.read_u32(PAGE_SIZE - 4) == 0xCAFEBABE


@pytest.mark.parametrize("paddr", [-1, SIZE - 3, SIZE, SIZE + 100])
def test_u32_out_of_range_is_a_machine_check(paddr: int) -> None:
    pm = PhysicalMemory(NFRAMES)
    with pytest.raises(MachineCheck, match="machine check: physical address"):
        pm.read_u32(paddr)
    with pytest.raises(MachineCheck):
        pm.write_u32(paddr, 1)
    assert pm.frame_is_zero(NFRAMES - 1)


def test_machine_check_message_names_ram_size() -> None:
    pm = PhysicalMemory(4096)
    with pytest.raises(MachineCheck, match=r"0x1000000 .* beyond 16 MiB of RAM"):
        pm.read_u32(16 << 20)


def test_byte_ranges() -> None:
    pm = PhysicalMemory(NFRAMES)
    pm.write(PAGE_SIZE - 2, b"abcdef")
    assert pm.read(PAGE_SIZE - 2, 6) == b"abcdef"
    assert isinstance(pm.read(0, 3), bytes)
    pm.write(0, b"")
    assert pm.read(0, 0) == b""
    with pytest.raises(MachineCheck):
        pm.write(SIZE - 2, b"xyz")
    with pytest.raises(MachineCheck):
        pm.read(SIZE - 2, 3)
    with pytest.raises(MachineCheck):
        pm.read(-1, 1)
    assert len(pm.mem) == SIZE


def test_frame_helpers() -> None:
    pm = PhysicalMemory(NFRAMES)
    pm.fill_frame(1, 0x6B)
    assert pm.frame_bytes(1) == b"\x6b" * PAGE_SIZE
    assert not pm.frame_is_zero(1)
    assert pm.frame_is_zero(0) and pm.frame_is_zero(2)
    pm.copy_frame(2, 1)
    assert pm.frame_bytes(2) == pm.frame_bytes(1)
    pm.copy_frame(2, 2)
    assert pm.frame_bytes(2) == b"\x6b" * PAGE_SIZE
    pm.zero_frame(1)
    assert pm.frame_is_zero(1)
    assert not pm.frame_is_zero(2)
    pm.write_u32(3 * PAGE_SIZE + PAGE_SIZE - 4, 1)
    assert not pm.frame_is_zero(3)
    with pytest.raises(ValueError):
        pm.fill_frame(0, 256)


@pytest.mark.parametrize("pfn", [-1, NFRAMES, 1 << 20])
def test_bad_pfn_is_a_machine_check(pfn: int) -> None:
    pm = PhysicalMemory(NFRAMES)
    with pytest.raises(MachineCheck, match="frame"):
        pm.zero_frame(pfn)
    with pytest.raises(MachineCheck):
        pm.frame_bytes(pfn)
    with pytest.raises(MachineCheck):
        pm.frame_is_zero(pfn)
    with pytest.raises(MachineCheck):
        pm.fill_frame(pfn, 1)
    with pytest.raises(MachineCheck):
        pm.copy_frame(pfn, 0)
    with pytest.raises(MachineCheck):
        pm.copy_frame(0, pfn)


def test_state_is_sparse_and_round_trips() -> None:
    pm = PhysicalMemory(NFRAMES)
    assert pm.to_state() == {"nframes": NFRAMES, "pfns": b"", "data": b""}
    pm.write_u32(2 * PAGE_SIZE + 8, 0xDEADBEEF)
    pm.fill_frame(3, 0x11)
    state = pm.to_state()
    assert state["pfns"] == b"\x02\x00\x00\x00\x03\x00\x00\x00"
    data = state["data"]
    assert isinstance(data, bytes) and len(data) == 2 * PAGE_SIZE
    again = PhysicalMemory.from_state(state)
    assert again.to_state() == state
    assert again.mem[:] == pm.mem[:]
    assert again.read_u32(2 * PAGE_SIZE + 8) == 0xDEADBEEF


def test_state_runs_of_frames_keep_pfn_order() -> None:
    """Consecutive non-zero frames are copied as one run; gaps and the last frame too."""
    pm = PhysicalMemory(NFRAMES)
    want = [0, 1, NFRAMES - 1]  # a run of two, a gap, the last frame
    for pfn in want:
        pm.fill_frame(pfn, pfn + 1)
    state = pm.to_state()
    assert state["pfns"] == b"".join(p.to_bytes(4, "little") for p in want)
    assert state["data"] == b"".join(bytes([p + 1]) * PAGE_SIZE for p in want)
    again = PhysicalMemory.from_state(state)
    assert again.mem[:] == pm.mem[:] and again.to_state() == state


def test_borrowed_state_is_the_copied_state_without_the_copy() -> None:
    """``to_state(borrow=True)`` lends the runs of RAM itself: the same bytes as the copy,
    and a store made afterwards shows through (it is valid only until RAM changes)."""
    pm = PhysicalMemory(NFRAMES)
    for pfn in (0, 1, NFRAMES - 1):
        pm.fill_frame(pfn, pfn + 3)
    copied = pm.to_state()
    lent = pm.to_state(borrow=True)
    data = lent["data"]
    assert isinstance(data, BorrowedBytes)
    assert data.to_bytes() == copied["data"] and data.nbytes == 3 * PAGE_SIZE
    assert len(data.parts) == 2 and lent["pfns"] == copied["pfns"]
    pm.fill_frame(NFRAMES - 1, 0x77)
    assert data.to_bytes()[2 * PAGE_SIZE] == 0x77
    empty = PhysicalMemory(NFRAMES).to_state(borrow=True)["data"]
    assert isinstance(empty, BorrowedBytes) and empty.to_bytes() == b"" and empty.nbytes == 0


def test_frame_equals_compares_any_buffer_in_place() -> None:
    pm = PhysicalMemory(NFRAMES)
    pm.fill_frame(2, 0x42)
    assert pm.frame_equals(2, b"\x42" * PAGE_SIZE)
    assert pm.frame_equals(2, array("I", [0x42424242] * (PAGE_SIZE // 4)))
    assert pm.frame_equals(3, bytes(PAGE_SIZE))
    assert not pm.frame_equals(2, b"\x42" * (PAGE_SIZE - 1) + b"\x00")
    assert not pm.frame_equals(2, b"\x42" * (PAGE_SIZE // 2))  # a prefix is not the frame
    with pytest.raises(MachineCheck):
        pm.frame_equals(NFRAMES, bytes(PAGE_SIZE))


def test_from_state_rejects_a_run_past_the_end() -> None:
    pfns = (NFRAMES - 1).to_bytes(4, "little") + NFRAMES.to_bytes(4, "little")
    with pytest.raises(ValueError):
        PhysicalMemory.from_state({"nframes": NFRAMES, "pfns": pfns, "data": bytes(2 * PAGE_SIZE)})


def test_from_state_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        PhysicalMemory.from_state({"nframes": 2, "pfns": b"\x00\x00\x00", "data": b""})
    with pytest.raises(ValueError):
        PhysicalMemory.from_state({"nframes": 2, "pfns": b"\x00\x00\x00\x00", "data": b""})
    with pytest.raises(ValueError):
        PhysicalMemory.from_state(
            {"nframes": 2, "pfns": b"\x05\x00\x00\x00", "data": bytes(PAGE_SIZE)}
        )
    with pytest.raises(ValueError, match="out of order"):
        PhysicalMemory.from_state(
            {"nframes": 4, "pfns": b"\x02\x00\x00\x00\x01\x00\x00\x00",
             "data": bytes(2 * PAGE_SIZE)})
    with pytest.raises(ValueError, match="positive"):
        PhysicalMemory.from_state({"nframes": 0, "pfns": b"", "data": b""})
    with pytest.raises(ValueError, match="contents"):
        PhysicalMemory(2, bytearray(PAGE_SIZE))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=NFRAMES, max_size=NFRAMES))
def test_state_round_trips_any_pattern_of_zero_frames(fills: list[int]) -> None:
    """Runs and gaps in every arrangement (first, last, none, all frames zero)."""
    pm = PhysicalMemory(NFRAMES)
    for pfn, value in enumerate(fills):
        pm.fill_frame(pfn, value)
    pm.write_u32(PAGE_SIZE - 4, fills[0] and 9)  # a frame that is not one repeated byte
    state = pm.to_state()
    again = PhysicalMemory.from_state(state)
    assert again.mem[:] == pm.mem[:] and again.to_state() == state


_op = st.one_of(
    st.tuples(st.just("u32"), st.integers(0, SIZE - 4), st.integers(0, 0xFFFFFFFF)),
    st.tuples(st.just("bytes"), st.integers(0, SIZE - 1), st.binary(min_size=0, max_size=64)),
    st.tuples(st.just("zero"), st.integers(0, NFRAMES - 1), st.just(0)),
    st.tuples(st.just("fill"), st.integers(0, NFRAMES - 1), st.integers(0, 255)),
    st.tuples(st.just("copy"), st.integers(0, NFRAMES - 1), st.integers(0, NFRAMES - 1)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_op, max_size=40), st.lists(st.integers(0, SIZE - 4), max_size=20))
def test_matches_bytearray_model(ops: list[tuple[str, int, object]], probes: list[int]) -> None:
    pm = PhysicalMemory(NFRAMES)
    model = bytearray(SIZE)
    for kind, x, y in ops:
        if kind == "u32":
            assert isinstance(y, int)
            pm.write_u32(x, y)
            model[x : x + 4] = y.to_bytes(4, "little")
        elif kind == "bytes":
            assert isinstance(y, bytes)
            data = y[: SIZE - x]
            pm.write(x, data)
            model[x : x + len(data)] = data
        elif kind == "zero":
            pm.zero_frame(x)
            model[x * PAGE_SIZE : (x + 1) * PAGE_SIZE] = bytes(PAGE_SIZE)
        elif kind == "fill":
            assert isinstance(y, int)
            pm.fill_frame(x, y)
            model[x * PAGE_SIZE : (x + 1) * PAGE_SIZE] = bytes([y]) * PAGE_SIZE
        else:
            assert isinstance(y, int)
            pm.copy_frame(x, y)
            model[x * PAGE_SIZE : (x + 1) * PAGE_SIZE] = model[y * PAGE_SIZE : (y + 1) * PAGE_SIZE]
    assert pm.mem[:] == model
    for p in probes:
        assert pm.read_u32(p) == int.from_bytes(model[p : p + 4], "little")
        assert pm.read(p, 4) == bytes(model[p : p + 4])
    for pfn in range(NFRAMES):
        chunk = bytes(model[pfn * PAGE_SIZE : (pfn + 1) * PAGE_SIZE])
        assert pm.frame_bytes(pfn) == chunk
        assert pm.frame_is_zero(pfn) == (chunk == bytes(PAGE_SIZE))
    state = pm.to_state()
    again = PhysicalMemory.from_state(state)
    assert again.to_state() == state
    assert again.mem[:] == model
