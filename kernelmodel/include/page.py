"""struct page and mem_map (include/linux/mm.h, 2.6.6); its PG_ flags: ``page_flags``.

Every physical frame has one ``Page``; ``MemMap.pages[pfn]`` is the kernel's ``mem_map[pfn]``.
The flag bits and their helpers live in ``page_flags`` (include/linux/page-flags.h); this
module exports them as well, as linux/mm.h includes linux/page-flags.h, so a caller imports
``Page`` and ``PageDirty`` from one place.

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

# isort: off
# linux/mm.h includes page-flags.h: every public name of page_flags is a name of page too
# (a list, not a star import: a compiled module binds only the names it imports by name)
from kernelmodel.include.page_flags import (
    NR_PAGEFLAGS as NR_PAGEFLAGS,
    PAGEFLAG_NAMES as PAGEFLAG_NAMES,
    PG_NAMES_BY_RELEASE as PG_NAMES_BY_RELEASE,
    ClearPageActive as ClearPageActive,
    ClearPageAnon as ClearPageAnon,
    ClearPageChecked as ClearPageChecked,
    ClearPageCompound as ClearPageCompound,
    ClearPageDirect as ClearPageDirect,
    ClearPageDirty as ClearPageDirty,
    ClearPageError as ClearPageError,
    ClearPageLocked as ClearPageLocked,
    ClearPageLRU as ClearPageLRU,
    ClearPageMaplock as ClearPageMaplock,
    ClearPageMappedToDisk as ClearPageMappedToDisk,
    ClearPagePrivate as ClearPagePrivate,
    ClearPageReclaim as ClearPageReclaim,
    ClearPageReferenced as ClearPageReferenced,
    ClearPageReserved as ClearPageReserved,
    ClearPageSlab as ClearPageSlab,
    ClearPageSwapCache as ClearPageSwapCache,
    ClearPageUptodate as ClearPageUptodate,
    ClearPageWriteback as ClearPageWriteback,
    M_active as M_active,
    M_anon as M_anon,
    M_arch_1 as M_arch_1,
    M_checked as M_checked,
    M_compound as M_compound,
    M_direct as M_direct,
    M_dirty as M_dirty,
    M_error as M_error,
    M_highmem as M_highmem,
    M_locked as M_locked,
    M_lru as M_lru,
    M_maplock as M_maplock,
    M_mappedtodisk as M_mappedtodisk,
    M_nosave as M_nosave,
    M_private as M_private,
    M_reclaim as M_reclaim,
    M_referenced as M_referenced,
    M_reserved as M_reserved,
    M_slab as M_slab,
    M_swapcache as M_swapcache,
    M_uptodate as M_uptodate,
    M_writeback as M_writeback,
    PageActive as PageActive,
    PageAnon as PageAnon,
    PageChecked as PageChecked,
    PageCompound as PageCompound,
    PageDirect as PageDirect,
    PageDirty as PageDirty,
    PageError as PageError,
    PageLocked as PageLocked,
    PageLRU as PageLRU,
    PageMaplock as PageMaplock,
    PageMappedToDisk as PageMappedToDisk,
    PagePrivate as PagePrivate,
    PageReclaim as PageReclaim,
    PageReferenced as PageReferenced,
    PageReserved as PageReserved,
    PageSlab as PageSlab,
    PageSwapCache as PageSwapCache,
    PageUptodate as PageUptodate,
    PageWriteback as PageWriteback,
    PG_active as PG_active,
    PG_anon as PG_anon,
    PG_arch_1 as PG_arch_1,
    PG_checked as PG_checked,
    PG_compound as PG_compound,
    PG_direct as PG_direct,
    PG_dirty as PG_dirty,
    PG_error as PG_error,
    PG_highmem as PG_highmem,
    PG_locked as PG_locked,
    PG_lru as PG_lru,
    PG_maplock as PG_maplock,
    PG_mappedtodisk as PG_mappedtodisk,
    PG_nosave as PG_nosave,
    PG_private as PG_private,
    PG_reclaim as PG_reclaim,
    PG_referenced as PG_referenced,
    PG_reserved as PG_reserved,
    PG_slab as PG_slab,
    PG_swapcache as PG_swapcache,
    PG_uptodate as PG_uptodate,
    PG_writeback as PG_writeback,
    SetPageActive as SetPageActive,
    SetPageAnon as SetPageAnon,
    SetPageChecked as SetPageChecked,
    SetPageCompound as SetPageCompound,
    SetPageDirect as SetPageDirect,
    SetPageDirty as SetPageDirty,
    SetPageError as SetPageError,
    SetPageLocked as SetPageLocked,
    SetPageLRU as SetPageLRU,
    SetPageMaplock as SetPageMaplock,
    SetPageMappedToDisk as SetPageMappedToDisk,
    SetPagePrivate as SetPagePrivate,
    SetPageReclaim as SetPageReclaim,
    SetPageReferenced as SetPageReferenced,
    SetPageReserved as SetPageReserved,
    SetPageSlab as SetPageSlab,
    SetPageSwapCache as SetPageSwapCache,
    SetPageUptodate as SetPageUptodate,
    SetPageWriteback as SetPageWriteback,
    TestClearPageActive as TestClearPageActive,
    TestClearPageDirect as TestClearPageDirect,
    TestClearPageDirty as TestClearPageDirty,
    TestClearPageLocked as TestClearPageLocked,
    TestClearPageLRU as TestClearPageLRU,
    TestClearPageReclaim as TestClearPageReclaim,
    TestClearPageReferenced as TestClearPageReferenced,
    TestClearPageSlab as TestClearPageSlab,
    TestClearPageWriteback as TestClearPageWriteback,
    TestSetPageActive as TestSetPageActive,
    TestSetPageDirect as TestSetPageDirect,
    TestSetPageDirty as TestSetPageDirty,
    TestSetPageLocked as TestSetPageLocked,
    TestSetPageLRU as TestSetPageLRU,
    TestSetPageSlab as TestSetPageSlab,
    TestSetPageWriteback as TestSetPageWriteback,
    vl_flag_names as vl_flag_names,
    vl_release_flags as vl_release_flags,
)
# isort: on

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
        self.flags: int = 0  # state: column
        self._count: int = 0  # state: column
        self._mapcount: int = 0  # state: column
        self.private: int = 0  # state: column
        self.mapping: object | None = None
        self.index: int = 0  # state: column
        self.lru: int = LRU_NONE  # state: column
        self.pfn: int = pfn
        self.pte_chain: object | None = None
        self.pte_direct: int = 0  # state: column
        self.list_id: int = 0  # state: column
        self.dirtied_when: int = 0  # state: column

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
        self.nframes: int = nframes  # state: range=1..0x7FFFFFFF
        # the numeric fields of every page, one list per field in pfn order; ``mapping``,
        # ``pte_chain`` and the order of the LRU and free lists are references, so their
        # owners (page cache, anon_vma/rmap, the zone) store them by pfn and re-link the pages
        self.pages: list[Page] = [Page(pfn) for pfn in range(nframes)]  # state: columns

    def pfn_to_page(self, pfn: int) -> Page:
        """pfn_to_page(): ``mem_map + pfn``."""
        bug_on(pfn < 0 or pfn >= self.nframes, "pfn_to_page: pfn outside mem_map")
        return self.pages[pfn]

    def page_to_pfn(self, page: Page) -> int:
        """page_to_pfn(): ``page - mem_map`` (the model stores it in the page)."""
        return page.pfn

    def __repr__(self) -> str:
        return f"<mem_map {self.nframes} pages>"
