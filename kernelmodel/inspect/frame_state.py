"""What each physical frame is used for, decided once for the dashboard, ``vmlab snapshot
diff`` and the /proc views (no kernel counterpart or release; model scaffolding).

The classification is a pure function of a page's fields (``vl_frame_state_of``,
``vl_frame_list_of``, ``vl_frame_holds_of``): its flags, ``_count``, ``lru`` and what kind of
object ``page->mapping`` points at. A live kernel feeds it ``struct page`` (``vl_frame_state``,
``vl_frame_class``); a saved state feeds it the same fields read from plain data
(``kernelmodel.inspect.saved``), so the two can never classify a frame differently.

The dashboard colours every physical frame by its state. Classifying 262,144 ``struct page``
objects (a 1 GiB machine) on every refresh is a loop the interpreter is too slow for, so it
lives in the compiled package and returns plain bytes: one state byte per frame. Zoomed-out
cells summarise a run of frames with ``vl_frame_summary``.

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

from kernelmodel.include.mm_types import AnonMm, AnonVma
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    M_anon,
    M_dirty,
    M_locked,
    M_reserved,
    M_swapcache,
    M_writeback,
    Page,
)
from kernelmodel.mm.swap_state import SwapperSpace

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


#: What ``page->mapping`` points at: NULL, a file's address_space, &swapper_space (2.6.5's
#: swap cache) or an anonymous object (anon_vma, anonmm).
MAPPING_NONE: Final = 0
MAPPING_FILE: Final = 1
MAPPING_SWAPPER: Final = 2
MAPPING_ANON: Final = 3

#: Which list a frame is on: the buddy allocator's free lists, the zone's active or inactive
#: LRU list, none because it is reserved, or none at all (page tables, pages isolated by
#: reclaim, pages on a pagevec on their way to the LRU).
LIST_FREE: Final = 0
LIST_ACTIVE: Final = 1
LIST_INACTIVE: Final = 2
LIST_RESERVED: Final = 3
LIST_UNLISTED: Final = 4
#: The lists' names, indexed by LIST_*.
FRAME_LIST_NAMES: Final = ("free", "active", "inactive", "reserved", "unlisted")

#: What a frame holds, as ``snapshot diff`` groups pages (the file's path follows "file").
HOLDS_NONE: Final = 0
HOLDS_FILE: Final = 1
HOLDS_ANON: Final = 2
HOLDS_SWAPCACHE: Final = 3
#: The names, indexed by HOLDS_*.
FRAME_HOLDS_NAMES: Final = ("none", "file", "anon", "swap cache")


def vl_frame_state_of(flags: int, count: int, mapping: int) -> int:
    """The state byte (FS_*) of a frame with these ``flags``, ``_count`` and MAPPING_* kind."""
    if count == 0 and (flags & M_reserved) == 0:
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
    if mapping != MAPPING_NONE and (flags & M_reserved) == 0:
        return FS_FILE
    return FS_KERNEL


def vl_frame_list_of(flags: int, count: int, lru: int) -> int:
    """The list (LIST_*) a frame with these ``flags``, ``_count`` and ``lru`` is on."""
    if count == 0:
        return LIST_FREE
    if lru == LRU_ACTIVE:
        return LIST_ACTIVE
    if lru == LRU_INACTIVE:
        return LIST_INACTIVE
    if flags & M_reserved:
        return LIST_RESERVED
    return LIST_UNLISTED


def vl_frame_holds_of(flags: int, mapping: int) -> int:
    """What a frame holds (HOLDS_*): a file's page, anonymous memory (PG_anon), a swap-cache
    page that no pte maps, or nothing of these."""
    if mapping == MAPPING_FILE:
        return HOLDS_FILE
    if flags & M_anon:
        return HOLDS_ANON
    if flags & M_swapcache:
        return HOLDS_SWAPCACHE
    return HOLDS_NONE


def vl_mapping_kind(page: Page) -> int:
    """The MAPPING_* kind of ``page->mapping`` (an owner of another type counts as a file's
    address_space, the one the kernel has in general)."""
    mapping = page.mapping
    if mapping is None:
        return MAPPING_NONE
    if isinstance(mapping, SwapperSpace):
        return MAPPING_SWAPPER
    if isinstance(mapping, (AnonVma, AnonMm)):
        return MAPPING_ANON
    return MAPPING_FILE


def vl_frame_state(page: Page) -> int:
    """The state byte of one frame (FS_*), decided by its flags, count and mapping."""
    return vl_frame_state_of(page.flags, page._count, vl_mapping_kind(page))


def vl_frame_class(page: Page) -> tuple[int, int, int]:
    """(FS_* state, LIST_* list, HOLDS_* contents) of one frame: what ``snapshot diff`` and
    the dashboard say of it, as ``kernelmodel.inspect.saved`` computes it from a saved
    state."""
    kind = vl_mapping_kind(page)
    flags = page.flags
    return (vl_frame_state_of(flags, page._count, kind),
            vl_frame_list_of(flags, page._count, page.lru), vl_frame_holds_of(flags, kind))


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


def vl_flag_words(k: Kernel) -> dict[int, int]:
    """How many frames carry each model flag word, in order of first appearance by pfn (the
    /proc page-types census; a whole-map scan, so it is compiled with the others)."""
    out: dict[int, int] = {}
    for page in k.mem_map.pages:
        flags = page.flags
        out[flags] = out.get(flags, 0) + 1
    return out


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
