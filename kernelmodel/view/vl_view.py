"""Whole-map views of mem_map for the dashboard (no kernel counterpart or release; model
scaffolding).

The dashboard colours every physical frame by what the kernel is using it for. Classifying
262,144 ``struct page`` objects (a 1 GiB machine) on every refresh is a loop the interpreter
is too slow for, so it lives here, in the compiled package, and returns plain bytes: one
state byte per frame. Zoomed-out cells summarise a run of frames with ``vl_frame_summary``.

These functions only read. They never change a page, take no lock (the model is single
threaded) and keep no state between calls, so calling them between two events cannot change
what the simulation does.

Frame states, in the order a page's flags decide them (the first that applies wins):

    =================  ===================================================================
    FS_LOCKED          PG_locked on a frame in use (I/O or a truncate/reclaim in progress)
    FS_WRITEBACK       PG_writeback
    FS_DIRTY           PG_dirty
    FS_SWAPCACHE       PG_swapcache
    FS_ANON            PG_anon (mapped anonymous memory)
    FS_FILE            page cache, clean (``mapping`` set, none of the above)
    FS_KERNEL          in use by the kernel: PG_reserved, page tables, page directories,
                       the zero page, or any other allocated frame with no mapping
    FS_FREE            on the buddy allocator's free lists (``_count == 0``)
    =================  ===================================================================

Invariants:
    * ``len(vl_frame_states(k)) == k.mem_map.nframes`` and every byte is below
      NR_FRAME_STATES;
    * a summary byte is ``state | fill << FS_FILL_SHIFT`` with ``fill`` in 0..FS_FILL_MAX,
      ``fill == 0`` exactly when every frame of the cell is free, and ``state`` the most
      notable state in the cell: FS_LOCKED, then FS_WRITEBACK, then FS_DIRTY if any frame of
      the cell is in one of them (a lone dirty page among 63 clean ones must not vanish when
      zoomed out); otherwise the most common non-free state (ties go to the higher number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.page import (
    M_anon,
    M_dirty,
    M_locked,
    M_reserved,
    M_swapcache,
    M_writeback,
    Page,
)

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

FS_FREE: Final = 0
FS_KERNEL: Final = 1
FS_ANON: Final = 2
FS_FILE: Final = 3
FS_DIRTY: Final = 4
FS_WRITEBACK: Final = 5
FS_SWAPCACHE: Final = 6
FS_LOCKED: Final = 7
#: Number of frame states (the state byte is below this).
NR_FRAME_STATES: Final = 8

#: Names of the states, indexed by state byte (the legend's words).
FRAME_STATE_NAMES: Final = (
    "free",
    "kernel",
    "anon",
    "file",
    "dirty",
    "writeback",
    "swapcache",
    "locked",
)

#: A summary byte keeps the state in its low three bits and the fill level above them.
FS_STATE_MASK: Final = 0x07
FS_FILL_SHIFT: Final = 3
#: Fill levels: 0 = every frame free, 1..4 = up to a quarter, half, three quarters, all used.
FS_FILL_MAX: Final = 4
#: Summary byte of a cell past the last frame.
FS_NO_FRAME: Final = 0xFF

#: Cells of at least this many frames are counted with bytes.count (one C scan per state).
_COUNT_SCAN_MIN: Final = 32
#: States a zoomed-out cell shows whenever one of its frames is in them, most notable first:
#: they are what a learner watches (I/O in flight, pages waiting to be written).
_NOTABLE_STATES: Final = (FS_LOCKED, FS_WRITEBACK, FS_DIRTY)
#: The state bytes as one-byte strings, for bytes.count.
_STATE_BYTES: Final = tuple(bytes([s]) for s in range(NR_FRAME_STATES))


def vl_frame_state(page: Page) -> int:
    """The state byte of one frame (FS_*), decided by its flags, count and mapping."""
    flags = page.flags
    if page._count == 0 and (flags & M_reserved) == 0:
        return FS_FREE
    if flags & M_locked:
        return FS_LOCKED
    if flags & M_writeback:
        return FS_WRITEBACK
    if flags & M_dirty:
        return FS_DIRTY
    if flags & M_swapcache:
        return FS_SWAPCACHE
    if flags & M_anon:
        return FS_ANON
    if page.mapping is not None and (flags & M_reserved) == 0:
        return FS_FILE
    return FS_KERNEL


def vl_frame_states(k: Kernel) -> bytes:
    """One state byte per frame of ``k.mem_map``, in pfn order.

    Caller: between events (the map must not change while it is read).
    """
    pages = k.mem_map.pages
    n = len(pages)
    out = bytearray(n)
    i = 0
    while i < n:
        out[i] = vl_frame_state(pages[i])
        i += 1
    return bytes(out)


def vl_frame_state_counts(states: bytes) -> list[int]:
    """How many frames are in each state: a list of NR_FRAME_STATES counts."""
    counts = [0] * NR_FRAME_STATES
    s = 0
    while s < NR_FRAME_STATES:
        counts[s] = states.count(_STATE_BYTES[s])
        s += 1
    return counts


def _fill_level(used: int, count: int) -> int:
    """Quarters of the cell in use, rounded up (0 only when nothing is used)."""
    if used <= 0:
        return 0
    return (used * FS_FILL_MAX + count - 1) // count


def vl_frame_summary(states: bytes, start: int, count: int) -> int:
    """Summarise ``count`` frames from ``start`` as one cell's summary byte.

    Frames past the end of ``states`` are ignored; a cell with no frame at all gives
    FS_NO_FRAME.

    Args:
        states: the output of ``vl_frame_states``.
        start: first pfn of the cell.
        count: frames per cell (at least 1).
    """
    n = len(states)
    end = start + count
    if end > n:
        end = n
    if start >= end or start < 0:
        return FS_NO_FRAME
    counts = [0] * NR_FRAME_STATES
    if end - start >= _COUNT_SCAN_MIN:
        s = 0
        while s < NR_FRAME_STATES:
            counts[s] = states.count(_STATE_BYTES[s], start, end)
            s += 1
    else:
        i = start
        while i < end:
            counts[states[i] & FS_STATE_MASK] += 1
            i += 1
    used = (end - start) - counts[FS_FREE]
    fill = _fill_level(used, end - start) << FS_FILL_SHIFT
    for notable in _NOTABLE_STATES:
        if counts[notable] > 0:
            return notable | fill
    best = FS_FREE
    best_count = 0
    s = 1
    while s < NR_FRAME_STATES:
        if counts[s] > 0 and counts[s] >= best_count:
            best = s
            best_count = counts[s]
        s += 1
    return best | fill


def vl_frame_summary_row(states: bytes, start: int, per_cell: int, ncells: int) -> bytes:
    """Summary bytes of ``ncells`` consecutive cells of ``per_cell`` frames from ``start``.

    With ``per_cell == 1`` a used frame has fill FS_FILL_MAX and a free one fill 0, so one
    encoding serves every zoom level. Cells past the last frame are FS_NO_FRAME.
    """
    out = bytearray(ncells)
    n = len(states)
    c = 0
    pfn = start
    while c < ncells:
        if per_cell == 1:
            if 0 <= pfn < n:
                s = states[pfn] & FS_STATE_MASK
                out[c] = s | ((FS_FILL_MAX if s != FS_FREE else 0) << FS_FILL_SHIFT)
            else:
                out[c] = FS_NO_FRAME
        else:
            out[c] = vl_frame_summary(states, pfn, per_cell)
        pfn += per_cell
        c += 1
    return bytes(out)
