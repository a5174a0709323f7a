"""The dashboard's whole-map view of mem_map (kernelmodel/inspect/frame_state.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kernelmodel.include.page import (
    M_anon,
    M_dirty,
    M_locked,
    M_reserved,
    M_swapcache,
    M_uptodate,
    M_writeback,
    Page,
)
from kernelmodel.inspect.frame_state import (
    FRAME_STATE_NAMES,
    FS_ANON,
    FS_DIRTY,
    FS_FILE,
    FS_FILL_MAX,
    FS_FILL_SHIFT,
    FS_FREE,
    FS_KERNEL,
    FS_LOCKED,
    FS_NO_FRAME,
    FS_STATE_MASK,
    FS_SWAPCACHE,
    FS_WRITEBACK,
    NR_FRAME_STATES,
    vl_frame_state,
    vl_frame_state_counts,
    vl_frame_states,
    vl_frame_summary,
    vl_frame_summary_row,
)
from machine.isa import OP_SYSCALL, Insn
from tests.kernelmodel.conftest import boot_kernel, run_until_exit


def _page(flags: int, count: int = 1, mapping: object | None = None) -> Page:
    page = Page(7)
    page.flags = flags
    page._count = count
    page.mapping = mapping
    return page


def test_each_state_is_decided_by_flags_in_priority_order() -> None:
    owner = object()
    assert vl_frame_state(_page(0, count=0)) == FS_FREE
    assert vl_frame_state(_page(M_reserved, count=0)) == FS_KERNEL
    assert vl_frame_state(_page(0)) == FS_KERNEL
    assert vl_frame_state(_page(M_uptodate, mapping=owner)) == FS_FILE
    assert vl_frame_state(_page(M_anon, mapping=owner)) == FS_ANON
    assert vl_frame_state(_page(M_anon | M_swapcache, mapping=owner)) == FS_SWAPCACHE
    assert vl_frame_state(_page(M_dirty | M_swapcache | M_anon, mapping=owner)) == FS_DIRTY
    assert vl_frame_state(_page(M_writeback | M_dirty, mapping=owner)) == FS_WRITEBACK
    assert vl_frame_state(_page(M_locked | M_writeback, mapping=owner)) == FS_LOCKED
    assert len(FRAME_STATE_NAMES) == NR_FRAME_STATES


def test_states_of_a_booted_kernel_agree_with_the_allocator() -> None:
    k = boot_kernel(mem_mib=4, disk_mib=64, swap_mib=8)
    states = vl_frame_states(k)
    assert len(states) == k.mem_map.nframes
    counts = vl_frame_state_counts(states)
    assert counts[FS_FREE] == k.pgdat.zone.free_pages
    assert states[0] == FS_KERNEL
    assert states[k.zero_page.pfn] == FS_KERNEL
    assert sum(counts) == len(states)


def test_states_see_dirty_page_cache_after_a_write() -> None:
    from kernelmodel.include.syscall_abi import O_RDWR, SYS_close, SYS_open, SYS_write

    k = boot_kernel(mem_mib=4, disk_mib=64, swap_mib=8)
    k.create_file("f", 0, "zero", 1)
    prog = [
        Insn(OP_SYSCALL, SYS_open, O_RDWR, s="f"),
        Insn(OP_SYSCALL, SYS_write, 0, 8192, 5, "f"),
        Insn(OP_SYSCALL, SYS_close, s="f"),
    ]
    k.spawn("w", k.add_program("w", prog))
    run_until_exit(k)
    counts = vl_frame_state_counts(vl_frame_states(k))
    assert counts[FS_DIRTY] + counts[FS_WRITEBACK] + counts[FS_FILE] >= 2


def _reference_summary(states: bytes, start: int, count: int) -> int:
    cell = states[max(start, 0) : start + count] if start >= 0 else b""
    if not cell:
        return FS_NO_FRAME
    used = [s for s in cell if s != FS_FREE]
    if not used:
        return FS_FREE
    notable = [s for s in (FS_LOCKED, FS_WRITEBACK, FS_DIRTY) if s in used]
    if notable:
        best = notable[0]
    else:
        best = max(range(1, NR_FRAME_STATES), key=lambda s: (used.count(s), s))
    fill = -(-len(used) * FS_FILL_MAX // len(cell))
    return best | fill << FS_FILL_SHIFT


@given(
    st.binary(min_size=0, max_size=300).map(lambda b: bytes(x % NR_FRAME_STATES for x in b)),
    st.integers(min_value=-2, max_value=310),
    st.integers(min_value=1, max_value=70),
)
def test_summary_matches_a_reference(states: bytes, start: int, count: int) -> None:
    got = vl_frame_summary(states, start, count)
    assert got == _reference_summary(states, start, count)
    if got != FS_NO_FRAME:
        assert (got >> FS_FILL_SHIFT) <= FS_FILL_MAX
        assert (got >> FS_FILL_SHIFT == 0) == (got & FS_STATE_MASK == FS_FREE)


@given(
    st.binary(min_size=1, max_size=200).map(lambda b: bytes(x % NR_FRAME_STATES for x in b)),
    st.integers(min_value=0, max_value=210),
    st.integers(min_value=1, max_value=16),
    st.integers(min_value=0, max_value=40),
)
def test_summary_row_is_cell_by_cell_summary(
    states: bytes, start: int, per_cell: int, ncells: int
) -> None:
    row = vl_frame_summary_row(states, start, per_cell, ncells)
    assert len(row) == ncells
    for c in range(ncells):
        assert row[c] == _reference_summary(states, start + c * per_cell, per_cell)


def test_summary_ties_go_to_the_higher_state() -> None:
    states = bytes([FS_ANON, FS_SWAPCACHE, FS_FREE, FS_FREE])
    got = vl_frame_summary(states, 0, 4)
    assert got & FS_STATE_MASK == FS_SWAPCACHE
    assert got >> FS_FILL_SHIFT == 2


def test_a_lone_dirty_frame_shows_in_its_cell() -> None:
    # one dirty page among 63 clean ones: the commonest state is file, the cell says dirty
    states = bytes([FS_FILE] * 40 + [FS_DIRTY] + [FS_FILE] * 23)
    assert vl_frame_summary(states, 0, 64) & FS_STATE_MASK == FS_DIRTY
    assert vl_frame_summary(states, 0, 8) & FS_STATE_MASK == FS_FILE
    assert vl_frame_summary(states, 40, 8) & FS_STATE_MASK == FS_DIRTY


def test_locked_beats_writeback_beats_dirty() -> None:
    cell = [FS_ANON] * 10
    for present, shown in (((FS_DIRTY,), FS_DIRTY), ((FS_DIRTY, FS_WRITEBACK), FS_WRITEBACK),
                           ((FS_DIRTY, FS_WRITEBACK, FS_LOCKED), FS_LOCKED)):
        states = bytes(cell + list(present))
        for count in (len(states), 64):  # short cells count in a loop, long ones by scan
            got = vl_frame_summary(states * (count // len(states) + 1), 0, count)
            assert got & FS_STATE_MASK == shown
