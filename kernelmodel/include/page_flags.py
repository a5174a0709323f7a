"""The PG_ flag bits of struct page and their helpers (include/linux/page-flags.h, 2.6.6).

The flag helpers (``PageDirty``, ``SetPageLocked``, ``TestClearPageWriteback``, ...) are
module-level functions named as the kernel's macros, written out by hand with precomputed
masks, because they sit on every hot path of the model. ``kernelmodel.include.page`` exports
them too, as linux/mm.h includes linux/page-flags.h.

One flag layout for every profile: the model always uses the 2.6.6 bit numbers (PG_locked = 0
... PG_swapcache = 21). Kernel profiles differ in which fields and flags their code uses, not in
the numbering; ``vl_flag_names`` and ``vl_release_flags`` show a flag word as a given release
numbered and named it (2.6.5 called bit 15 ``chainlock`` and had no anon/swapcache bits; 2.6.7
moved swapcache to bit 16 and dropped ``direct``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from kernelmodel.include.page import Page

# ---- PG_ bit numbers (2.6.6 include/linux/page-flags.h) ---------------------------------------

PG_locked: Final = 0
PG_error: Final = 1
PG_referenced: Final = 2
PG_uptodate: Final = 3
PG_dirty: Final = 4
PG_lru: Final = 5
PG_active: Final = 6
PG_slab: Final = 7
PG_highmem: Final = 8
PG_checked: Final = 9
PG_arch_1: Final = 10
PG_reserved: Final = 11
PG_private: Final = 12
PG_writeback: Final = 13
PG_nosave: Final = 14
PG_maplock: Final = 15
PG_direct: Final = 16
PG_mappedtodisk: Final = 17
PG_reclaim: Final = 18
PG_compound: Final = 19
PG_anon: Final = 20
PG_swapcache: Final = 21

#: Number of PG_ bits the model uses.
NR_PAGEFLAGS: Final = 22

# Precomputed masks (1 << PG_x); every bit is below 31, so these are safe constants.
M_locked: Final = 1 << PG_locked
M_error: Final = 1 << PG_error
M_referenced: Final = 1 << PG_referenced
M_uptodate: Final = 1 << PG_uptodate
M_dirty: Final = 1 << PG_dirty
M_lru: Final = 1 << PG_lru
M_active: Final = 1 << PG_active
M_slab: Final = 1 << PG_slab
M_highmem: Final = 1 << PG_highmem
M_checked: Final = 1 << PG_checked
M_arch_1: Final = 1 << PG_arch_1
M_reserved: Final = 1 << PG_reserved
M_private: Final = 1 << PG_private
M_writeback: Final = 1 << PG_writeback
M_nosave: Final = 1 << PG_nosave
M_maplock: Final = 1 << PG_maplock
M_direct: Final = 1 << PG_direct
M_mappedtodisk: Final = 1 << PG_mappedtodisk
M_reclaim: Final = 1 << PG_reclaim
M_compound: Final = 1 << PG_compound
M_anon: Final = 1 << PG_anon
M_swapcache: Final = 1 << PG_swapcache

# fmt: off
#: Flag names of the model's layout (2.6.6), indexed by bit number.
PAGEFLAG_NAMES: Final = (
    "locked", "error", "referenced", "uptodate", "dirty", "lru", "active", "slab",
    "highmem", "checked", "arch_1", "reserved", "private", "writeback", "nosave", "maplock",
    "direct", "mappedtodisk", "reclaim", "compound", "anon", "swapcache",
)

#: Each release's own bit numbering, indexed by bit number ("" = no flag at that bit).
PG_NAMES_BY_RELEASE: Final[dict[str, tuple[str, ...]]] = {
    "2.6.5": (
        "locked", "error", "referenced", "uptodate", "dirty", "lru", "active", "slab",
        "highmem", "checked", "arch_1", "reserved", "private", "writeback", "nosave",
        "chainlock", "direct", "mappedtodisk", "reclaim", "compound", "", "",
    ),
    "2.6.6": PAGEFLAG_NAMES,
    "2.6.7": (
        "locked", "error", "referenced", "uptodate", "dirty", "lru", "active", "slab",
        "highmem", "checked", "arch_1", "reserved", "private", "writeback", "nosave",
        "maplock", "swapcache", "mappedtodisk", "reclaim", "compound", "anon", "",
    ),
}

#: Where each model bit (2.6.6 numbering) sits in a release; -1 = the release has no such flag.
#: 2.6.5 bit 15 is chainlock, the same lock maplock renamed; 2.6.7 moved swapcache to bit 16.
_RELEASE_BIT: Final[dict[str, tuple[int, ...]]] = {
    "2.6.5": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, -1, -1),
    "2.6.6": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21),
    "2.6.7": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -1, 17, 18, 19, 20, 16),
}

#: Bit values 1 << n for n < NR_PAGEFLAGS (a table, so no variable shift is ever compiled).
_BIT: Final = (
    0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800,
    0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000,
)
# fmt: on

# ---- flag helpers (include/linux/page-flags.h) ------------------------------------------------
#
# The kernel's SetPageWriteback/ClearPageWriteback/Test*PageWriteback also adjust
# page_state.nr_writeback; here they touch only the bit, and page_writeback.py (which owns
# the counters) accounts nr_writeback from their return values.


def PageLocked(page: Page) -> bool:
    """test_bit(PG_locked)."""
    return (page.flags & M_locked) != 0


def SetPageLocked(page: Page) -> None:
    """set_bit(PG_locked)."""
    page.flags |= M_locked


def ClearPageLocked(page: Page) -> None:
    """clear_bit(PG_locked)."""
    page.flags &= ~M_locked


def TestSetPageLocked(page: Page) -> bool:
    """test_and_set_bit(PG_locked): set the bit and return its old value."""
    old = page.flags
    page.flags = old | M_locked
    return (old & M_locked) != 0


def TestClearPageLocked(page: Page) -> bool:
    """test_and_clear_bit(PG_locked): clear the bit and return its old value."""
    old = page.flags
    page.flags = old & ~M_locked
    return (old & M_locked) != 0


def PageError(page: Page) -> bool:
    """test_bit(PG_error)."""
    return (page.flags & M_error) != 0


def SetPageError(page: Page) -> None:
    """set_bit(PG_error)."""
    page.flags |= M_error


def ClearPageError(page: Page) -> None:
    """clear_bit(PG_error)."""
    page.flags &= ~M_error


def PageReferenced(page: Page) -> bool:
    """test_bit(PG_referenced)."""
    return (page.flags & M_referenced) != 0


def SetPageReferenced(page: Page) -> None:
    """set_bit(PG_referenced)."""
    page.flags |= M_referenced


def ClearPageReferenced(page: Page) -> None:
    """clear_bit(PG_referenced)."""
    page.flags &= ~M_referenced


def TestClearPageReferenced(page: Page) -> bool:
    """test_and_clear_bit(PG_referenced): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_referenced
    return (old & M_referenced) != 0


def PageUptodate(page: Page) -> bool:
    """test_bit(PG_uptodate)."""
    return (page.flags & M_uptodate) != 0


def SetPageUptodate(page: Page) -> None:
    """set_bit(PG_uptodate)."""
    page.flags |= M_uptodate


def ClearPageUptodate(page: Page) -> None:
    """clear_bit(PG_uptodate)."""
    page.flags &= ~M_uptodate


def PageDirty(page: Page) -> bool:
    """test_bit(PG_dirty)."""
    return (page.flags & M_dirty) != 0


def SetPageDirty(page: Page) -> None:
    """set_bit(PG_dirty)."""
    page.flags |= M_dirty


def ClearPageDirty(page: Page) -> None:
    """clear_bit(PG_dirty)."""
    page.flags &= ~M_dirty


def TestSetPageDirty(page: Page) -> bool:
    """test_and_set_bit(PG_dirty): set it and return the old value."""
    old = page.flags
    page.flags = old | M_dirty
    return (old & M_dirty) != 0


def TestClearPageDirty(page: Page) -> bool:
    """test_and_clear_bit(PG_dirty): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_dirty
    return (old & M_dirty) != 0


def PageLRU(page: Page) -> bool:
    """test_bit(PG_lru)."""
    return (page.flags & M_lru) != 0


def SetPageLRU(page: Page) -> None:
    """set_bit(PG_lru)."""
    page.flags |= M_lru


def ClearPageLRU(page: Page) -> None:
    """Model convenience: 2.6.6 clears PG_lru only through TestClearPageLRU."""
    page.flags &= ~M_lru


def TestSetPageLRU(page: Page) -> bool:
    """test_and_set_bit(PG_lru): set it and return the old value."""
    old = page.flags
    page.flags = old | M_lru
    return (old & M_lru) != 0


def TestClearPageLRU(page: Page) -> bool:
    """test_and_clear_bit(PG_lru): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_lru
    return (old & M_lru) != 0


def PageActive(page: Page) -> bool:
    """test_bit(PG_active)."""
    return (page.flags & M_active) != 0


def SetPageActive(page: Page) -> None:
    """set_bit(PG_active)."""
    page.flags |= M_active


def ClearPageActive(page: Page) -> None:
    """clear_bit(PG_active)."""
    page.flags &= ~M_active


def TestSetPageActive(page: Page) -> bool:
    """test_and_set_bit(PG_active): set it and return the old value."""
    old = page.flags
    page.flags = old | M_active
    return (old & M_active) != 0


def TestClearPageActive(page: Page) -> bool:
    """test_and_clear_bit(PG_active): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_active
    return (old & M_active) != 0


def PageSlab(page: Page) -> bool:
    """test_bit(PG_slab)."""
    return (page.flags & M_slab) != 0


def SetPageSlab(page: Page) -> None:
    """set_bit(PG_slab)."""
    page.flags |= M_slab


def ClearPageSlab(page: Page) -> None:
    """clear_bit(PG_slab)."""
    page.flags &= ~M_slab


def TestSetPageSlab(page: Page) -> bool:
    """test_and_set_bit(PG_slab): set it and return the old value."""
    old = page.flags
    page.flags = old | M_slab
    return (old & M_slab) != 0


def TestClearPageSlab(page: Page) -> bool:
    """test_and_clear_bit(PG_slab): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_slab
    return (old & M_slab) != 0


def PageChecked(page: Page) -> bool:
    """test_bit(PG_checked)."""
    return (page.flags & M_checked) != 0


def SetPageChecked(page: Page) -> None:
    """set_bit(PG_checked)."""
    page.flags |= M_checked


def ClearPageChecked(page: Page) -> None:
    """clear_bit(PG_checked)."""
    page.flags &= ~M_checked


def PageReserved(page: Page) -> bool:
    """test_bit(PG_reserved)."""
    return (page.flags & M_reserved) != 0


def SetPageReserved(page: Page) -> None:
    """set_bit(PG_reserved)."""
    page.flags |= M_reserved


def ClearPageReserved(page: Page) -> None:
    """clear_bit(PG_reserved)."""
    page.flags &= ~M_reserved


def PagePrivate(page: Page) -> bool:
    """test_bit(PG_private)."""
    return (page.flags & M_private) != 0


def SetPagePrivate(page: Page) -> None:
    """set_bit(PG_private)."""
    page.flags |= M_private


def ClearPagePrivate(page: Page) -> None:
    """clear_bit(PG_private)."""
    page.flags &= ~M_private


def PageWriteback(page: Page) -> bool:
    """test_bit(PG_writeback)."""
    return (page.flags & M_writeback) != 0


def SetPageWriteback(page: Page) -> None:
    """Set PG_writeback (the caller accounts nr_writeback; see the note above)."""
    page.flags |= M_writeback


def ClearPageWriteback(page: Page) -> None:
    """Clear PG_writeback (the caller accounts nr_writeback; see the note above)."""
    page.flags &= ~M_writeback


def TestSetPageWriteback(page: Page) -> bool:
    """test_and_set_bit(PG_writeback): set it and return the old value."""
    old = page.flags
    page.flags = old | M_writeback
    return (old & M_writeback) != 0


def TestClearPageWriteback(page: Page) -> bool:
    """test_and_clear_bit(PG_writeback): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_writeback
    return (old & M_writeback) != 0


def PageMaplock(page: Page) -> bool:
    """test_bit(PG_maplock): the rmap bit-spinlock is held (rmap_lock / page_map_lock)."""
    return (page.flags & M_maplock) != 0


def SetPageMaplock(page: Page) -> None:
    """set_bit(PG_maplock)."""
    page.flags |= M_maplock


def ClearPageMaplock(page: Page) -> None:
    """clear_bit(PG_maplock)."""
    page.flags &= ~M_maplock


def PageDirect(page: Page) -> bool:
    """test_bit(PG_direct)."""
    return (page.flags & M_direct) != 0


def SetPageDirect(page: Page) -> None:
    """set_bit(PG_direct)."""
    page.flags |= M_direct


def ClearPageDirect(page: Page) -> None:
    """clear_bit(PG_direct)."""
    page.flags &= ~M_direct


def TestSetPageDirect(page: Page) -> bool:
    """test_and_set_bit(PG_direct): set it and return the old value."""
    old = page.flags
    page.flags = old | M_direct
    return (old & M_direct) != 0


def TestClearPageDirect(page: Page) -> bool:
    """test_and_clear_bit(PG_direct): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_direct
    return (old & M_direct) != 0


def PageMappedToDisk(page: Page) -> bool:
    """test_bit(PG_mappedtodisk)."""
    return (page.flags & M_mappedtodisk) != 0


def SetPageMappedToDisk(page: Page) -> None:
    """set_bit(PG_mappedtodisk)."""
    page.flags |= M_mappedtodisk


def ClearPageMappedToDisk(page: Page) -> None:
    """clear_bit(PG_mappedtodisk)."""
    page.flags &= ~M_mappedtodisk


def PageReclaim(page: Page) -> bool:
    """test_bit(PG_reclaim)."""
    return (page.flags & M_reclaim) != 0


def SetPageReclaim(page: Page) -> None:
    """set_bit(PG_reclaim)."""
    page.flags |= M_reclaim


def ClearPageReclaim(page: Page) -> None:
    """clear_bit(PG_reclaim)."""
    page.flags &= ~M_reclaim


def TestClearPageReclaim(page: Page) -> bool:
    """test_and_clear_bit(PG_reclaim): clear it and return the old value."""
    old = page.flags
    page.flags = old & ~M_reclaim
    return (old & M_reclaim) != 0


def PageCompound(page: Page) -> bool:
    """test_bit(PG_compound)."""
    return (page.flags & M_compound) != 0


def SetPageCompound(page: Page) -> None:
    """set_bit(PG_compound)."""
    page.flags |= M_compound


def ClearPageCompound(page: Page) -> None:
    """clear_bit(PG_compound)."""
    page.flags &= ~M_compound


def PageAnon(page: Page) -> bool:
    """test_bit(PG_anon)."""
    return (page.flags & M_anon) != 0


def SetPageAnon(page: Page) -> None:
    """set_bit(PG_anon)."""
    page.flags |= M_anon


def ClearPageAnon(page: Page) -> None:
    """clear_bit(PG_anon)."""
    page.flags &= ~M_anon


def PageSwapCache(page: Page) -> bool:
    """test_bit(PG_swapcache)."""
    return (page.flags & M_swapcache) != 0


def SetPageSwapCache(page: Page) -> None:
    """set_bit(PG_swapcache)."""
    page.flags |= M_swapcache


def ClearPageSwapCache(page: Page) -> None:
    """clear_bit(PG_swapcache)."""
    page.flags &= ~M_swapcache


# ---- display ----------------------------------------------------------------------------------


def vl_release_flags(flags: int, release: str) -> int:
    """The flag word as ``release`` numbered its bits (model bits it lacks are dropped).

    Args:
        flags: a model flag word (2.6.6 numbering).
        release: "2.6.5", "2.6.6" or "2.6.7".
    """
    where = _RELEASE_BIT[release]
    out = 0
    bit = 0
    while bit < NR_PAGEFLAGS:
        if flags & _BIT[bit]:
            to = where[bit]
            if to >= 0:
                out |= _BIT[to]
        bit += 1
    return out


def vl_flag_names(flags: int, release: str = "2.6.6") -> list[str]:
    """Names of the set flags as ``release`` called them, in that release's bit order.

    A model flag the release did not have (PG_anon or PG_swapcache in 2.6.5, PG_direct in
    2.6.7) is not shown. Bits above the model's range show as ``bitN``.

    Args:
        flags: a model flag word (2.6.6 numbering).
        release: "2.6.5", "2.6.6" or "2.6.7".
    """
    names = PG_NAMES_BY_RELEASE[release]
    word = vl_release_flags(flags, release)
    out: list[str] = []
    bit = 0
    while bit < NR_PAGEFLAGS:
        if word & _BIT[bit]:
            out.append(names[bit])
        bit += 1
    high = flags >> NR_PAGEFLAGS
    bit = NR_PAGEFLAGS
    while high != 0:
        if high & 1:
            out.append(f"bit{bit}")
        high >>= 1
        bit += 1
    return out
