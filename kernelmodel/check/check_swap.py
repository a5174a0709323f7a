"""Invariant checks of the swap and reclaim state (the model's debugging aid; no kernel
source or release).

``check_swap(k)`` returns a list of problems (empty when all is well); the invariant checker
runs it after every event in tests. It checks:

* the swap map on its own (swapfile.vl_check_swap_map): in-use counts, the free-slot bounds,
  nr_swap_pages;
* every slot's count against its users: the swap ptes found by walking every mm's page
  tables, plus one if the slot's page is in the swap cache (a count stuck at SWAP_MAP_MAX is
  only required to cover them);
* the swap cache: each page in swapper_space is PG_swapcache with its entry = its key
  (``private``; 2.6.5: ``index``, with ``mapping`` = swapper_space), is not free, has an
  anon_vma, an anonmm or no mapping (2.6.6 form), and holds a reference for the cache beyond
  its ptes; every PG_swapcache page is in the tree; nrpages and vmstat.nr_swapcache agree;
* the LRU lists (page_alloc.vl_check_lru: links, lengths, PG_lru/PG_active, page.lru), no free
  page on a list or in an LRU pagevec, pagevec pages off the lists with a reference;
* PG_reclaim only on pages under writeback.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import KernelBug
from kernelmodel.include.mm_inline import vl_check_lru
from kernelmodel.include.mm_types import AnonMm, AnonVma
from kernelmodel.include.mmzone import vl_free_blocks
from kernelmodel.include.page import (
    M_lru,
    M_reclaim,
    M_swapcache,
    M_writeback,
    Page,
)
from kernelmodel.include.swap import SWAP_MAP_BAD, SWAP_MAP_MAX
from kernelmodel.lib.radix_tree import vl_radix_tree_items
from kernelmodel.mm.pgtable import pte_to_swp_entry, swp_entry, swp_offset, swp_type
from kernelmodel.mm.swapcache_fields import page_swp_entry, vl_swapcache_by_mapping
from kernelmodel.mm.swapfile import vl_check_swap_map
from machine.i386 import PTE_FILE, PTE_P, PTE_PROTNONE, USER_PTRS_PER_PGD

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

_NOT_SWAP: Final = PTE_P | PTE_PROTNONE | PTE_FILE


def vl_count_swap_ptes(k: Kernel) -> dict[int, int]:
    """Swap entry value -> number of swap ptes holding it, over every mm's page tables."""
    counts: dict[int, int] = {}
    mem = k.machine.mem
    for mm in k.mm_registry.mms.values():
        pgd = array("I", mem.read(mm.pgd << 12, 4 * USER_PTRS_PER_PGD))
        for pde in pgd:
            if (pde & PTE_P) == 0:
                continue
            table = array("I", mem.read(pde & 0xFFFFF000, 4096))
            for pte in table:
                if pte != 0 and (pte & _NOT_SWAP) == 0:
                    entry = pte_to_swp_entry(pte)
                    counts[entry] = counts.get(entry, 0) + 1
    return counts


def _check_slot_users(k: Kernel, ptes: dict[int, int], cached: dict[int, Page]) -> list[str]:
    """Each slot's swap_map count against its swap ptes and swap-cache page."""
    out: list[str] = []
    sw = k.swap
    for entry in ptes:
        t = swp_type(entry)
        off = swp_offset(entry)
        if t >= len(sw.swap_info) or off <= 0 or off >= sw.swap_info[t].max:
            out.append(f"swap pte holds bad entry {entry:#x}")
    for t, si in enumerate(sw.swap_info):
        smap = si.swap_map
        for off in range(1, si.max):
            cnt = smap[off]
            if cnt == SWAP_MAP_BAD:
                continue
            entry = swp_entry(t, off)
            want = ptes.get(entry, 0) + (1 if entry in cached else 0)
            if cnt == SWAP_MAP_MAX:
                if want == 0:
                    out.append(f"swap slot {t}:{off} stuck at SWAP_MAP_MAX without users")
            elif cnt != want:
                out.append(
                    f"swap slot {t}:{off}: swap_map {cnt} != {ptes.get(entry, 0)} swap ptes"
                    f" + {1 if entry in cached else 0} swap cache"
                )
    return out


def _check_swap_cache(k: Kernel) -> tuple[list[str], dict[int, Page]]:
    """The swapper_space tree against the pages' flags; returns problems and entry -> page."""
    out: list[str] = []
    cached: dict[int, Page] = {}
    sp = k.swapper_space
    by_mapping = vl_swapcache_by_mapping(k)
    for index, item in vl_radix_tree_items(sp.page_tree):
        if not isinstance(item, Page):
            out.append(f"swap cache: key {index:#x} holds a non-page")
            continue
        cached[index] = item
        where = f"swap cache page pfn {item.pfn:#x} (entry {index:#x})"
        if (item.flags & M_swapcache) == 0:
            out.append(f"{where}: PG_swapcache clear")
        if page_swp_entry(k, item) != index:
            field = "index" if by_mapping else "private"
            out.append(f"{where}: {field} {page_swp_entry(k, item):#x} != key")
        if item._count < 1 + item._mapcount:
            out.append(f"{where}: count {item._count} < 1 + mapcount {item._mapcount}")
        if by_mapping:
            if item.mapping is not sp or item.private != 0:
                out.append(f"{where}: mapping is not swapper_space (2.6.5 form)")
        elif item.mapping is not None and not isinstance(item.mapping, (AnonVma, AnonMm)):
            out.append(f"{where}: mapping is not an anon_vma or anonmm")
    flagged = 0
    for page in k.mem_map.pages:
        if page.flags & M_swapcache:
            flagged += 1
            if cached.get(page_swp_entry(k, page)) is not page:
                out.append(f"page pfn {page.pfn:#x}: PG_swapcache but not in swapper_space")
    if flagged != len(cached) or sp.nrpages != len(cached):
        out.append(
            f"swap cache: {len(cached)} pages in the tree, nrpages {sp.nrpages}, "
            f"{flagged} PG_swapcache pages"
        )
    if k.vmstat.nr_swapcache != len(cached):
        out.append(f"nr_swapcache {k.vmstat.nr_swapcache} != {len(cached)} swap-cache pages")
    return (out, cached)


def _check_lru(k: Kernel) -> list[str]:
    """LRU lists, pagevecs and free pages."""
    out: list[str] = []
    zone = k.pgdat.zone
    try:
        vl_check_lru(zone, k.mem_map)
    except KernelBug as e:
        out.append(f"LRU: {e}")
    pages = k.mem_map.pages
    free = bytearray(k.mem_map.nframes)
    for pfn, order in vl_free_blocks(zone):
        for p in range(pfn, pfn + (1 << order)):
            free[p] = 1
            if pages[p].flags & M_lru:
                out.append(f"page pfn {p:#x} is free and on an LRU list")
    pv = k.lru_pvecs
    seen: set[int] = set()
    for pfn in pv.lru_add + pv.lru_add_active:
        page = pages[pfn]
        if pfn in seen:
            out.append(f"page pfn {pfn:#x} twice in the LRU pagevecs")
        seen.add(pfn)
        if free[pfn]:
            out.append(f"page pfn {pfn:#x} is free and in an LRU pagevec")
        if page.flags & M_lru:
            out.append(f"page pfn {pfn:#x} is in an LRU pagevec with PG_lru set")
        if page._count < 1:
            out.append(f"page pfn {pfn:#x} is in an LRU pagevec without a reference")
    return out


def _check_reclaim_flags(k: Kernel) -> list[str]:
    out: list[str] = []
    for page in k.mem_map.pages:
        if (page.flags & M_reclaim) != 0 and (page.flags & M_writeback) == 0:
            out.append(f"page pfn {page.pfn:#x}: PG_reclaim without PG_writeback")
    return out


def check_swap(k: Kernel) -> list[str]:
    """Every swap and reclaim invariant of the module docstring; returns problems as text."""
    out = vl_check_swap_map(k.swap)
    cache_problems, cached = _check_swap_cache(k)
    out.extend(cache_problems)
    out.extend(_check_slot_users(k, vl_count_swap_ptes(k), cached))
    out.extend(_check_lru(k))
    out.extend(_check_reclaim_flags(k))
    return out
