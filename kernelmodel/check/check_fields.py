"""Fields no other checker looks at: the buddy and LRU links of pages on no list, and every
struct page field against the structures that should agree with it (model only; it checks
the rules of the 2.6.5-2.6.7 designs the kernel runs, no kernel function of its own).

A run keeps these consistent by construction, so they matter most for a restored state
(``restore.vl_restore_problems`` runs every checker): a hand-edited snapshot with a
recomputed hash can hold a page on no list whose ``lru_prev`` points anywhere, a
``free_order`` of -2, a ``private`` value no swap-cache entry explains, a ``list_id`` naming
a list the page is not on, or a ``pte_direct`` under a design without pte chains. Each check
names the first contradiction it finds per kind; a forged state that contradicts nothing is
accepted. What the other checkers already see is left to them: the LRU lists against
PG_lru/PG_active and their counts (page_alloc.vl_check_lru), the free blocks against
free_pages and nr_free (vl_check_free_accounting), ``_mapcount`` and PG_anon against the
page tables and the rmap walk (check_mm), PG_direct's pte and the pte chains
(rmap_pte_chain.pc_check_page), PG_swapcache and its entry against swapper_space
(check_swap), PG_dirty/PG_writeback against the radix-tree tags, ``mapping``/``index`` of
page-cache pages against the trees (check.py).

Checked here (include/linux/mm.h, include/linux/page-flags.h, mm/page_alloc.c, 2.6.6):
    * every list (active, inactive, each free_area) walks from its head back to it, with
      ``lru_prev`` the inverse of ``lru_next``; a page on no list has both links -1;
    * ``free_order`` is -1 or an order below MAX_ORDER; ``page.lru`` names the LRU list the
      page is linked on (LRU_NONE when on none);
    * a page inside a free block holds none of the flags free_pages_check refuses (PG_lru,
      PG_active, PG_locked, PG_writeback, PG_reclaim, PG_anon, PG_swapcache, ...) nor
      PG_dirty (free_pages_check clears it), and no ``list_id`` or ``pte_direct``;
    * no flag bit at or above NR_PAGEFLAGS, and none of the flags this model never sets:
      PG_slab, PG_highmem, PG_checked, PG_arch_1, PG_private (blocksize is PAGE_SIZE, so no
      page has buffer_heads), PG_nosave, PG_maplock, PG_compound;
    * PG_reserved: frames 0 .. N (the BIOS page and the kernel image, freed by nothing) and
      ZERO_PAGE only; a boot frame holds nothing but PG_reserved (count 0, no fields set);
      ZERO_PAGE holds a reference;
    * a page in no free block and not a boot frame has a reference; a page-cache or
      swap-cache page holds one for the cache beyond its ptes and each LRU pagevec slot
      holds one more (a lower bound: an op in progress holds references the state does not
      list, so a count above the holders named is not a contradiction);
    * PG_error and PG_mappedtodisk only on file pages (never with PG_anon or PG_swapcache);
    * PG_writeback only on a page of a bio in flight, or of the bio an mpage_writepages walk
      is still building (its pages are under writeback before it is submitted, mpage.py);
      restore only (``check_writeback_io``: unit tests set the flag by hand);
    * ``private`` != 0 only as the swap entry of a PG_swapcache page in the 2.6.6 form
      (2.6.5's swap cache keeps the entry in ``index``);
    * PG_direct and ``pte_direct`` only with the pte-chain rmap, and each only with the other;
    * ``list_id`` names one of 2.6.5's four mapping lists, and the page is on that list of its
      own mapping (lists writeback only; 0 under tags);
    * ``dirtied_when``: 0 under tags writeback (only the 2.6.5 lists set it), else a time no
      later than now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.mmzone import MAX_ORDER
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    LRU_NONE,
    NR_PAGEFLAGS,
    PAGEFLAG_NAMES,
    M_active,
    M_anon,
    M_arch_1,
    M_checked,
    M_compound,
    M_direct,
    M_dirty,
    M_error,
    M_highmem,
    M_locked,
    M_lru,
    M_maplock,
    M_mappedtodisk,
    M_nosave,
    M_private,
    M_reclaim,
    M_reserved,
    M_slab,
    M_swapcache,
    M_writeback,
)
from kernelmodel.mm.filemap import AddressSpace

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

#: Flags no code of the model sets.
_NEVER: Final = (M_slab | M_highmem | M_checked | M_arch_1 | M_private | M_nosave | M_maplock
                 | M_compound)
#: Flags a page in a free block cannot hold (free_pages_check refuses them; PG_dirty is
#: cleared on the way in).
_NOT_FREE: Final = (M_lru | M_active | M_locked | M_writeback | M_reclaim | M_anon
                    | M_swapcache | M_dirty | M_direct)
#: Flags only file pages get (block_write_full_page's -ENOSPC, the read and write paths).
_FILE_ONLY: Final = M_error | M_mappedtodisk


def _flag_names(mask: int) -> str:
    names = [name for bit, name in enumerate(PAGEFLAG_NAMES) if mask & (1 << bit)]
    return "|".join("PG_" + n for n in names) or f"{mask:#x}"


def _walk(zone: Zone, head: int, mark: int, on: bytearray, out: list[str], name: str) -> None:
    """Follow one list from its sentinel, marking its nodes ``mark`` in ``on``."""
    n = zone.spanned_pages
    total = len(zone.lru_next)
    prev = head
    node = zone.lru_next[head]
    steps = 0
    while node != head:
        if node < 0 or node >= n or steps > n:
            out.append(f"{name}: lru_next of node {prev} is {node}, not a page of the zone")
            return
        if on[node]:
            out.append(f"{name}: page {zone.zone_start_pfn + node:#x} is on two lists")
            return
        if zone.lru_prev[node] != prev:
            out.append(f"{name}: page {zone.zone_start_pfn + node:#x} has lru_prev "
                       f"{zone.lru_prev[node]}, expected {prev}")
            return
        on[node] = mark
        prev = node
        node = zone.lru_next[node]
        steps += 1
    if not 0 <= head < total or zone.lru_prev[head] != prev:
        out.append(f"{name}: the head's lru_prev is {zone.lru_prev[head]}, expected {prev}")


def _check_links(k: Kernel, out: list[str]) -> bytearray:
    """The list links, free_order and page.lru; returns which nodes lie in a free block."""
    zone = k.pgdat.zone
    n = zone.spanned_pages
    on = bytearray(n)
    _walk(zone, zone.active_list, 1, on, out, "active_list")
    _walk(zone, zone.inactive_list, 2, on, out, "inactive_list")
    for order, area in enumerate(zone.free_area):
        _walk(zone, area.head, 3, on, out, f"free_area[{order}]")
    want_lru = (LRU_NONE, LRU_ACTIVE, LRU_INACTIVE, LRU_NONE)
    pages = k.mem_map.pages
    free = bytearray(n)
    reported = False
    for node in range(n):
        pfn = zone.zone_start_pfn + node
        order = zone.free_order[node]
        if not reported and not on[node] and (zone.lru_next[node] != -1
                                              or zone.lru_prev[node] != -1):
            out.append(f"page {pfn:#x}: on no list but its lru links are "
                       f"{zone.lru_next[node]}, {zone.lru_prev[node]} (not -1)")
            reported = True
        if order < -1 or order >= MAX_ORDER:
            if not reported:
                out.append(f"page {pfn:#x}: free_order {order} is not -1 or 0..{MAX_ORDER - 1}")
                reported = True
        elif order >= 0:
            end = min(n, node + (1 << order))
            free[node:end] = b"\x01" * (end - node)
        if not reported and pages[pfn].lru != want_lru[on[node]]:
            out.append(f"page {pfn:#x}: page.lru is {pages[pfn].lru} but the page is on "
                       f"{('no list', 'active_list', 'inactive_list', 'a free list')[on[node]]}")
            reported = True
    return free


def _cache_holders(k: Kernel) -> tuple[dict[int, int], dict[int, int]]:
    """(pfn -> references the LRU pagevecs hold, pfn -> the 2.6.5 list the page is on)."""
    pvec: dict[int, int] = {}
    for pfn in k.lru_pvecs.lru_add + k.lru_pvecs.lru_add_active:
        pvec[pfn] = pvec.get(pfn, 0) + 1
    listed: dict[int, int] = {}
    if k.cfg.writeback == "lists":
        from kernelmodel.mm.page_lists import PL_CLEAN, PL_LOCKED, vl_mapping_list

        for inode in k.sb.s_inodes.values():
            for list_id in range(PL_CLEAN, PL_LOCKED + 1):
                for pfn in vl_mapping_list(inode.i_mapping, list_id):
                    listed[pfn] = list_id
    return pvec, listed


def _pending_bio_pfns(state: object, out: set[int]) -> None:
    """The pfns of every ``bio_pages`` list in an op's state, however deeply nested."""
    if isinstance(state, dict):
        for key, value in state.items():
            if key == "bio_pages" and isinstance(value, list):
                out.update(v for v in value if isinstance(v, int))
            else:
                _pending_bio_pfns(value, out)
    elif isinstance(state, list):
        for value in state:
            _pending_bio_pfns(value, out)


def _pages_in_bios(k: Kernel) -> set[int]:
    """Pages of a bio in flight, or of the bio an mpage_writepages walk is still building
    (mpage.py: its pages are under writeback before the bio is submitted)."""
    out: set[int] = set()
    for bio in k.bios.values():
        out.update(bio.pfns)
    from kernelmodel.kernel.frame_state import vl_kstack_state

    for task in k.tasks.values():
        for op_state in vl_kstack_state(task.kstack):
            _pending_bio_pfns(op_state, out)
    return out


def _boot_frame_problem(page: Page) -> str:
    """What a boot frame (PG_reserved, not ZERO_PAGE) holds beyond PG_reserved, or ""."""
    if page.flags != M_reserved:
        return f"flags {_flag_names(page.flags)}"
    for name, value in (("count", page._count), ("mapcount", page._mapcount),
                        ("private", page.private), ("index", page.index),
                        ("pte_direct", page.pte_direct), ("list_id", page.list_id),
                        ("dirtied_when", page.dirtied_when)):
        if value != 0:
            return f"{name} {value}"
    if page.mapping is not None or page.pte_chain is not None:
        return "a mapping or a pte chain"
    return ""


def _page_problem(k: Kernel, page: Page, in_free: bool, refs: int, listed: int) -> str:
    """The first rule of the module docstring ``page`` breaks (besides PG_reserved), or ""."""
    flags = page.flags
    if flags < 0 or flags >> NR_PAGEFLAGS:
        return f"flags {flags:#x} set bits at or above NR_PAGEFLAGS ({NR_PAGEFLAGS})"
    if flags & _NEVER:
        return f"{_flag_names(flags & _NEVER)}, which this model never sets"
    if in_free:
        if flags & _NOT_FREE or page.list_id != 0 or page.pte_direct != 0:
            what = _flag_names(flags & _NOT_FREE) if flags & _NOT_FREE else "list_id/pte_direct"
            return f"in a free block but has {what}"
    elif page._count < 1:
        return f"count {page._count} but in no free block"
    file_page = isinstance(page.mapping, AddressSpace)
    swapcache = (flags & M_swapcache) != 0
    if not in_free:
        need = page._mapcount + refs + (1 if file_page or swapcache else 0)
        if page._count < need:
            return (f"count {page._count} below the {need} references its ptes, cache and "
                    f"pagevecs hold")
    if flags & _FILE_ONLY and flags & (M_anon | M_swapcache):
        return f"{_flag_names(flags & _FILE_ONLY)} on an anonymous or swap-cache page"
    if page.private != 0:
        from kernelmodel.mm.swapcache_fields import vl_swapcache_by_mapping

        if not swapcache:
            return f"private {page.private} without PG_swapcache (no page has buffers)"
        if vl_swapcache_by_mapping(k):
            return f"private {page.private} on a swap-cache page of 2.6.5's form (entry in index)"
    pte_chain = k.cfg.rmap == "pte_chain"
    if flags & M_direct and not pte_chain:
        return f"PG_direct with rmap={k.cfg.rmap} (only pte chains have it)"
    if page.pte_direct != 0 and not flags & M_direct:
        return f"pte_direct {page.pte_direct:#x} without PG_direct"
    if page.list_id != listed:
        if k.cfg.writeback != "lists":
            return (f"list_id {page.list_id} with writeback={k.cfg.writeback} (page->list is "
                    f"the 2.6.5 list writeback's)")
        return f"list_id {page.list_id} but the page is on list {listed} of its mapping"
    if page.dirtied_when != 0 and k.cfg.writeback != "lists":
        return f"dirtied_when {page.dirtied_when} with writeback={k.cfg.writeback}"
    if page.dirtied_when < 0 or page.dirtied_when > k.now():
        return f"dirtied_when {page.dirtied_when} outside 0..now ({k.now()})"
    return ""


def _check_pages(k: Kernel, free: bytearray, out: list[str]) -> None:
    """Every page against the rules of the module docstring; the first problem only.

    Most pages break no rule in an obvious way, so the loop first tests the common case
    (cheap comparisons only) and asks ``_page_problem`` for the full rules only when a field
    is set that needs a closer look.
    """
    zone = k.pgdat.zone
    start = zone.zone_start_pfn
    n = zone.spanned_pages
    pvec, listed = _cache_holders(k)
    zero = k.zero_page.pfn
    closer = M_reserved | _NEVER | M_direct | M_swapcache
    boot = True
    for page in k.mem_map.pages:
        pfn = page.pfn
        flags = page.flags
        if flags & M_reserved and pfn != zero:
            if not boot:
                out.append(f"page {pfn:#x}: PG_reserved after the boot frames (only frames 0.."
                           f"N and ZERO_PAGE are reserved)")
                return
            problem = _boot_frame_problem(page)
            if problem:
                out.append(f"page {pfn:#x}: a reserved boot frame with {problem}")
                return
            continue
        boot = False
        node = pfn - start
        in_free = 0 <= node < n and free[node] != 0
        if not (flags & closer or flags < 0 or flags >> NR_PAGEFLAGS or page.private
                or page.pte_direct or page.list_id or page.dirtied_when or pfn in pvec
                or pfn == zero or (flags & _FILE_ONLY and flags & M_anon)):
            # the common case: a plain free, file or anonymous page
            if in_free:
                if not flags & _NOT_FREE:
                    continue
            elif page._count >= 1 and page._count >= page._mapcount + (
                    1 if isinstance(page.mapping, AddressSpace) else 0):
                continue
        if pfn == zero and (not flags & M_reserved or page._count < 1):
            out.append(f"page {pfn:#x}: ZERO_PAGE without PG_reserved or a reference")
            return
        problem = _page_problem(k, page, in_free, pvec.get(pfn, 0), listed.get(pfn, 0))
        if problem:
            out.append(f"page {pfn:#x}: {problem}")
            return


def check_fields(k: Kernel) -> list[str]:
    """Every contradiction of the module docstring's kinds (the first of each kind) but the
    last one (``check_writeback_io``)."""
    out: list[str] = []
    free = _check_links(k, out)
    _check_pages(k, free, out)
    return out


def check_writeback_io(k: Kernel) -> list[str]:
    """PG_writeback pages against the I/O in flight: the first page under writeback that no
    bio in flight and no bio being built holds, as a one-item list ([]: none).

    Restore runs it (``restore.vl_restore_problems``); the after-every-event checker does not,
    because unit tests set PG_writeback by hand on pages no bio holds.
    """
    in_bio = _pages_in_bios(k)
    for page in k.mem_map.pages:
        if page.flags & M_writeback and page.pfn not in in_bio:
            return [f"page {page.pfn:#x}: PG_writeback but in no bio in flight"]
    return []
