"""struct page, its flag bits and mem_map (include/linux/mm.h, include/linux/page-flags.h, 2.6.6).

Every physical frame has one ``Page``; ``MemMap.pages[pfn]`` is the kernel's ``mem_map[pfn]``.
The flag helpers (``PageDirty``, ``SetPageLocked``, ``TestClearPageWriteback``, ...) are
module-level functions named as the kernel's macros, written out by hand with precomputed
masks, because they sit on every hot path of the model.

One flag layout for every profile: the model always uses the 2.6.6 bit numbers (PG_locked = 0
... PG_swapcache = 21). Kernel profiles differ in which fields and flags their code uses, not in
the numbering; ``vl_flag_names`` and ``vl_release_flags`` show a flag word as a given release
numbered and named it (2.6.5 called bit 15 ``chainlock`` and had no anon/swapcache bits; 2.6.7
moved swapcache to bit 16 and dropped ``direct``).

Which release has which ``Page`` field (i386; ``STRUCT_PAGE_LAYOUT`` holds the sizes):

    =============  ========  ========  ========  =========================================
    field          2.6.5     2.6.6     2.6.7     notes
    =============  ========  ========  ========  =========================================
    flags          yes       yes       yes
    _count         count     count     _count    atomic_t; renamed in 2.6.7
    _mapcount      -         -         mapcount  kept by the model in every profile
    private        yes       yes       yes       buffer_heads, or swp_entry_t (swapcache)
    list_id        list      -         -         the 2.6.5 per-mapping list of the page
    mapping        yes       yes       yes       AddressSpace; AnonVma/AnonMm when PG_anon
                                                 (NULL with pte chains); 2.6.5 swap cache:
                                                 SwapperSpace (swapcache_fields.py)
    index          yes       yes       yes
    lru            yes       yes       yes       a list id; the order lives in the zone
    pte_chain      pte       pte       -         union pte {chain; direct}; gone in rmap 9
    pte_direct     pte       pte       -
    pfn            -         -         -         model only (the kernel: page - mem_map)
    dirtied_when   -         -         -         model only: 2.6.5 list-mode ordering key
    =============  ========  ========  ========  =========================================

``_mapcount`` counts the ptes that map the page (0 = unmapped, as 2.6.7's ``mapcount``; the
-1 bias came only in 2.6.9). The pte-chain profiles keep it too, equal to the number of ptes
on the chain, so the checker can compare every profile the same way and ``page_mapped`` has
one definition.

Invariants:
    * ``page._count >= 0``; a page with ``_count == 0`` is free or reserved-and-unused;
    * ``page._mapcount >= 0`` and ``page._mapcount <= page._count`` for a non-reserved page;
    * ``page.lru`` is LRU_NONE, LRU_ACTIVE or LRU_INACTIVE and agrees with the zone's lists;
    * ``mem_map.pages[pfn].pfn == pfn``.
"""

from __future__ import annotations

from typing import Final, final

from kernelmodel.include.bug import bug_on

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

# ---- page.lru list ids -------------------------------------------------------------------------

#: The page is on no zone LRU list (free, isolated by reclaim, or never added).
LRU_NONE: Final = 0
#: The page is on its zone's active_list.
LRU_ACTIVE: Final = 1
#: The page is on its zone's inactive_list.
LRU_INACTIVE: Final = 2

RELEASES: Final = ("2.6.5", "2.6.6", "2.6.7")


@final
class Page:
    """struct page (include/linux/mm.h): the kernel's descriptor of one physical frame.

    Attributes:
        flags: the PG_ bits (2.6.6 numbering; no node/zone bits are encoded).
        _count: reference count (page_count); 0 means free.
        _mapcount: number of ptes mapping the page (page_mapcount); 0 = unmapped.
        private: buffer-head marker if PG_private, swp_entry_t value if PG_swapcache.
        mapping: the AddressSpace of a page-cache page, or the AnonVma of an anonymous page
            (PG_anon); owned by other modules, so typed as a plain object.
        index: offset in the mapping (pgoff_t), or the swap entry in 2.6.5's swapcache.
        lru: LRU_NONE / LRU_ACTIVE / LRU_INACTIVE; the list order is the zone's.
        pfn: frame number (model only).
        pte_chain: the 2.6.5/2.6.6 pte.chain (a PteChain of the rmap module) or None.
        pte_direct: the 2.6.5/2.6.6 pte.direct: the one pte's address when PG_direct.
        list_id: the 2.6.5 mapping list (page->list) holding the page; 0 none.
        dirtied_when: model-only ordering key used by the 2.6.5 list mode.
    """

    def __init__(self, pfn: int) -> None:
        self.flags: int = 0
        self._count: int = 0
        self._mapcount: int = 0
        self.private: int = 0
        self.mapping: object | None = None
        self.index: int = 0
        self.lru: int = LRU_NONE
        self.pfn: int = pfn
        self.pte_chain: object | None = None
        self.pte_direct: int = 0
        self.list_id: int = 0
        self.dirtied_when: int = 0

    def __repr__(self) -> str:
        names = vl_flag_names(self.flags, "2.6.6")
        flags = "|".join(names) if names else "0"
        return (
            f"<page pfn={self.pfn:#x} flags={flags} count={self._count} "
            f"mapcount={self._mapcount} mapping={vl_describe_mapping(self.mapping)} "
            f"index={self.index}>"
        )


def vl_describe_mapping(mapping: object | None) -> str:
    """Short text for ``page.mapping`` in reprs: its ``vl_describe()``, or its class name."""
    if mapping is None:
        return "NULL"
    describe = getattr(mapping, "vl_describe", None)
    if describe is not None and callable(describe):
        return str(describe())
    return type(mapping).__name__


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


# ---- reference and map counts (include/linux/mm.h) --------------------------------------------


def page_count(page: Page) -> int:
    """page_count(): the reference count (atomic_read of count / _count)."""
    return page._count


def set_page_count(page: Page, v: int) -> None:
    """set_page_count(): the allocator's and boot code's direct store of the count."""
    page._count = v


def page_mapcount(page: Page) -> int:
    """page_mapcount() (2.6.7): the number of ptes that map the page."""
    return page._mapcount


def get_page(page: Page) -> None:
    """get_page(): take a reference (atomic_inc of the count)."""
    page._count += 1


def put_page_testzero(page: Page) -> bool:
    """put_page_testzero(): drop a reference and say whether it was the last one.

    Returns:
        True when the count reached zero: the caller must free the page (page_alloc).

    Caller: holds a reference (dropping one from a count of zero is a BUG, as in the kernel).
    """
    bug_on(page._count == 0, "put_page_testzero: page_count(p) == 0")
    page._count -= 1
    return page._count == 0


def page_mapped(page: Page) -> bool:
    """page_mapped(): the page is mapped by at least one pte.

    2.6.7 tests ``mapcount != 0``. 2.6.6 tests ``page->pte.direct != 0`` (the union's wider
    member, so a PAE pte address is seen whole); in the model every profile keeps
    ``_mapcount`` equal to the number of mapping ptes, so this one test serves all of them.
    """
    return page._mapcount != 0


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


# ---- struct page size per release --------------------------------------------------------------

#: i386 struct page per release, in declaration order: (field, bytes, bytes with PAE+HIGHPTE).
STRUCT_PAGE_LAYOUT: Final[dict[str, tuple[tuple[str, int, int], ...]]] = {
    "2.6.5": (
        ("flags", 4, 4),
        ("count", 4, 4),
        ("list", 8, 8),
        ("mapping", 4, 4),
        ("index", 4, 4),
        ("lru", 8, 8),
        ("pte", 4, 8),
        ("private", 4, 4),
    ),
    "2.6.6": (
        ("flags", 4, 4),
        ("count", 4, 4),
        ("mapping", 4, 4),
        ("index", 4, 4),
        ("lru", 8, 8),
        ("pte", 4, 8),
        ("private", 4, 4),
    ),
    "2.6.7": (
        ("flags", 4, 4),
        ("_count", 4, 4),
        ("mapcount", 4, 4),
        ("private", 4, 4),
        ("mapping", 4, 4),
        ("index", 4, 4),
        ("lru", 8, 8),
    ),
}


def sizeof_struct_page(release: str, pae_highpte: bool = False) -> int:
    """sizeof(struct page) on i386: 40/32/32 bytes, or 44/36/32 with PAE and CONFIG_HIGHPTE.

    Args:
        release: "2.6.5", "2.6.6" or "2.6.7".
        pae_highpte: pte_addr_t is a u64 physical address (CONFIG_HIGHMEM64G + HIGHPTE).
    """
    total = 0
    for _name, size, size_pae in STRUCT_PAGE_LAYOUT[release]:
        total += size_pae if pae_highpte else size
    return total


#: The field the 2.6.5 page lists need (``page->list``); 2.6.6 removed it with the lists.
PAGE_LIST_FIELD_BYTES: Final = 8


def vl_sizeof_struct_page_for(release: str, writeback: str) -> int:
    """sizeof(struct page) of a kernel whose writeback design may not be its release's.

    A release's layout holds ``page->list`` exactly when its writeback uses the page lists
    (2.6.5). A configuration that mixes designs (2.6.7 with writeback=lists, 2.6.5 with tags)
    is given the field its writeback needs, so the comparison shows what each design costs.
    """
    size = sizeof_struct_page(release)
    has_list = any(name == "list" for name, _s, _p in STRUCT_PAGE_LAYOUT[release])
    if writeback == "lists" and not has_list:
        size += PAGE_LIST_FIELD_BYTES
    elif writeback != "lists" and has_list:
        size -= PAGE_LIST_FIELD_BYTES
    return size


def mem_map_bytes(release: str, nframes: int, pae_highpte: bool = False) -> int:
    """Bytes of mem_map for ``nframes`` frames (128 MiB: 1 310 720 in 2.6.5, 1 048 576 later)."""
    return nframes * sizeof_struct_page(release, pae_highpte)


# ---- mem_map -----------------------------------------------------------------------------------


@final
class MemMap:
    """mem_map: the array of struct page, one per physical frame (a flat, single-node machine)."""

    def __init__(self, nframes: int) -> None:
        """Create ``nframes`` zeroed pages (memmap_init then marks them reserved; page_alloc)."""
        bug_on(nframes <= 0, "MemMap: nframes <= 0")
        self.nframes: int = nframes
        self.pages: list[Page] = [Page(pfn) for pfn in range(nframes)]

    def pfn_to_page(self, pfn: int) -> Page:
        """pfn_to_page(): ``mem_map + pfn``."""
        bug_on(pfn < 0 or pfn >= self.nframes, "pfn_to_page: pfn outside mem_map")
        return self.pages[pfn]

    def page_to_pfn(self, page: Page) -> int:
        """page_to_pfn(): ``page - mem_map`` (the model stores it in the page)."""
        return page.pfn

    def to_state(self) -> dict[str, object]:
        """The numeric fields of every page, one list per field (pfn order).

        ``mapping``, ``pte_chain`` and the order of the LRU and free lists are references,
        so they are not here: their owners (page cache, anon_vma/rmap, the zone) store them
        by pfn and re-link the pages after ``from_state``.
        """
        pages = self.pages
        return {
            "nframes": self.nframes,
            "flags": [p.flags for p in pages],
            "_count": [p._count for p in pages],
            "_mapcount": [p._mapcount for p in pages],
            "private": [p.private for p in pages],
            "index": [p.index for p in pages],
            "lru": [p.lru for p in pages],
            "pte_direct": [p.pte_direct for p in pages],
            "list_id": [p.list_id for p in pages],
            "dirtied_when": [p.dirtied_when for p in pages],
        }

    @staticmethod
    def from_state(state: dict[str, object]) -> MemMap:
        """Rebuild mem_map from ``to_state`` output (mapping and pte_chain left None).

        Raises:
            ValueError: the state is malformed.
        """
        nframes = state["nframes"]
        if not isinstance(nframes, int) or nframes <= 0:
            raise ValueError("mem_map state: nframes must be a positive int")
        mm = MemMap(nframes)
        flags = _int_column(state, "flags", nframes)
        count = _int_column(state, "_count", nframes)
        mapcount = _int_column(state, "_mapcount", nframes)
        private = _int_column(state, "private", nframes)
        index = _int_column(state, "index", nframes)
        lru = _int_column(state, "lru", nframes)
        direct = _int_column(state, "pte_direct", nframes)
        list_id = _int_column(state, "list_id", nframes)
        dirtied = _int_column(state, "dirtied_when", nframes)
        for pfn in range(nframes):
            p = mm.pages[pfn]
            p.flags = flags[pfn]
            p._count = count[pfn]
            p._mapcount = mapcount[pfn]
            p.private = private[pfn]
            p.index = index[pfn]
            p.lru = lru[pfn]
            p.pte_direct = direct[pfn]
            p.list_id = list_id[pfn]
            p.dirtied_when = dirtied[pfn]
        return mm

    def __repr__(self) -> str:
        return f"<mem_map {self.nframes} pages>"


def _int_column(state: dict[str, object], key: str, n: int) -> list[int]:
    """Fetch ``state[key]`` as a list of ``n`` ints (ValueError otherwise)."""
    col = state.get(key)
    if not isinstance(col, list) or len(col) != n:
        raise ValueError(f"mem_map state: {key} must be a list of {n} ints")
    out: list[int] = []
    for v in col:
        if not isinstance(v, int):
            raise ValueError(f"mem_map state: {key} holds a non-int")
        out.append(v)
    return out
