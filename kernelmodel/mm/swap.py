"""The LRU lists' front door: pagevecs, page aging and rotation (mm/swap.c, 2.6.6).

Pages enter a zone's LRU through per-CPU pagevecs of PAGEVEC_SIZE (16): ``lru_cache_add``
(inactive; page-cache reads) and ``lru_cache_add_active`` (active; new anonymous and COW pages)
take a reference and park the page in a pagevec; when the pagevec fills, ``__pagevec_lru_add``
sets PG_lru, links every page at the head of its list, and drops the pagevec's references. A
page in a pagevec is therefore on no list yet (PG_lru clear) and holds one extra reference,
exactly as in 2.6.6; ``lru_add_drain`` empties both pagevecs at once.

Where the model drains (the kernel's call sites that exist in the model):
    * when a pagevec fills (the 16th page);
    * ``shrink_cache`` and ``refill_inactive_zone`` before they isolate pages (vmscan_lru.py);
    * ``swapin_readahead`` after queueing its reads (swap_state.py);
    * any caller of ``lru_add_drain`` (the kernel also drains in free_pages_and_swap_cache,
      __pagevec_release and on CPU hot-unplug).

The LRU does not hold a reference: a page whose count drops to zero is taken off its list by
``__page_cache_release`` (``vl_lru_del_if_on``, called by alloc.py's ``vl_free_page``).

``mark_page_accessed`` moves a page through the four states of 2.6.6::

    inactive,unreferenced -> inactive,referenced -> active,unreferenced -> active,referenced

The machine has one node with one zone (page_alloc.py), so ``page_zone`` is ``k.pgdat.zone``.
The per-CPU pagevecs are one pair (one CPU) kept in ``k.lru_pvecs`` as lists of pfns.

Invariants:
    * a page in a pagevec has PG_lru clear and a reference held by the pagevec;
    * a page is in at most one pagevec slot;
    * PG_lru is set exactly on pages linked on active_list or inactive_list (page_alloc.py).

Lock ordering: zone->lru_lock (not taken: one CPU, and no step sleeps holding it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_inline import (
    add_page_to_active_list,
    add_page_to_inactive_list,
    del_page_from_inactive_list,
    del_page_from_lru,
    vl_lru_move_tail,
)
from kernelmodel.include.page import (
    ClearPageReferenced,
    PageActive,
    PageDirty,
    PageLocked,
    PageLRU,
    PageReferenced,
    SetPageActive,
    SetPageReferenced,
    TestClearPageLRU,
    TestSetPageActive,
    TestSetPageLRU,
    get_page,
)
from kernelmodel.include.swap import PAGEVEC_SIZE
from kernelmodel.include.vmstat import TR_ACTIVATE
from kernelmodel.kernel.task import vl_host_pause

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel



def page_zone(k: Kernel, page: Page) -> Zone:
    """page_zone(): the zone holding ``page`` (the machine has one)."""
    return k.pgdat.zone


def swap_setup(k: Kernel) -> None:
    """swap_setup(): a smaller swap readahead cluster on machines below 16 MiB."""
    megs = k.mem_map.nframes >> 8
    k.lru_pvecs.page_cluster = 2 if megs < 16 else 3


# ---- adding pages to the LRU ---------------------------------------------------------------------


def lru_cache_add(k: Kernel, page: Page) -> None:
    """lru_cache_add(): queue ``page`` for the inactive list (takes a reference).

    Caller: holds a reference; the page is on no LRU list and in no pagevec.
    """
    get_page(page)
    pv = k.lru_pvecs
    pv.lru_add.append(page.pfn)
    if len(pv.lru_add) >= PAGEVEC_SIZE:
        _pagevec_lru_add(k)


def lru_cache_add_active(k: Kernel, page: Page) -> None:
    """lru_cache_add_active(): queue ``page`` for the active list (takes a reference).

    Caller: holds a reference; the page is on no LRU list and in no pagevec.
    """
    get_page(page)
    pv = k.lru_pvecs
    pv.lru_add_active.append(page.pfn)
    if len(pv.lru_add_active) >= PAGEVEC_SIZE:
        _pagevec_lru_add_active(k)


def _pagevec_lru_add(k: Kernel) -> None:
    """__pagevec_lru_add(): link the queued pages at the inactive head, then release them."""
    pv = k.lru_pvecs
    pfns = pv.lru_add
    pv.lru_add = []
    pages = k.mem_map.pages
    batch: list[Page] = []
    for pfn in pfns:
        page = pages[pfn]
        bug_on(TestSetPageLRU(page), "__pagevec_lru_add: PageLRU")
        add_page_to_inactive_list(page_zone(k, page), page)
        batch.append(page)
    release_pages(k, batch)


def _pagevec_lru_add_active(k: Kernel) -> None:
    """__pagevec_lru_add_active(): link the queued pages at the active head, then release."""
    pv = k.lru_pvecs
    pfns = pv.lru_add_active
    pv.lru_add_active = []
    pages = k.mem_map.pages
    batch: list[Page] = []
    for pfn in pfns:
        page = pages[pfn]
        bug_on(TestSetPageLRU(page), "__pagevec_lru_add_active: PageLRU")
        bug_on(TestSetPageActive(page), "__pagevec_lru_add_active: PageActive")
        add_page_to_active_list(page_zone(k, page), page)
        batch.append(page)
    release_pages(k, batch)


def lru_add_drain(k: Kernel) -> None:
    """lru_add_drain(): put the pages of both pagevecs on their lists now."""
    pv = k.lru_pvecs
    if pv.lru_add:
        _pagevec_lru_add(k)
    if pv.lru_add_active:
        _pagevec_lru_add_active(k)


def release_pages(k: Kernel, pages: list[Page]) -> None:
    """release_pages(): drop one reference on each page; a page reaching zero leaves its LRU
    list and is freed (page_cache_release does both, one page at a time)."""
    from kernelmodel.mm.alloc import page_cache_release

    for page in pages:
        vl_host_pause(k)  # refill_inactive_zone releases its whole l_hold at once
        page_cache_release(k, page)


def vl_lru_del_if_on(k: Kernel, page: Page) -> None:
    """__page_cache_release()'s LRU part: take a dying page off its LRU list.

    Caller: alloc.py's vl_free_page, after the page's count dropped to zero.
    """
    if TestClearPageLRU(page):
        del_page_from_lru(page_zone(k, page), page)


# ---- aging ---------------------------------------------------------------------------------------


def activate_page(k: Kernel, page: Page) -> None:
    """activate_page(): move an inactive LRU page to the head of the active list (an
    ``activate`` record: a the frame; shrink_list's activations are ``reclaim_page``
    records)."""
    if PageLRU(page) and not PageActive(page):
        zone = page_zone(k, page)
        del_page_from_inactive_list(zone, page)
        SetPageActive(page)
        add_page_to_active_list(zone, page)
        k.vmstat.pgactivate += 1
        k.trace.emit(k.now(), TR_ACTIVATE, k.current, page.pfn, 0, "referenced twice")


def mark_page_accessed(k: Kernel, page: Page) -> None:
    """mark_page_accessed(): one step of the four-state aging machine (module docstring).

    An inactive referenced page on the LRU is activated and loses PG_referenced; any other
    page gains PG_referenced (an active referenced page stays as it is).
    """
    if not PageActive(page) and PageReferenced(page) and PageLRU(page):
        activate_page(k, page)
        ClearPageReferenced(page)
    elif not PageReferenced(page):
        SetPageReferenced(page)


def rotate_reclaimable_page(k: Kernel, page: Page) -> int:
    """rotate_reclaimable_page(): writeback of a PG_reclaim page is ending; if the page still
    looks reclaimable, move it to the tail of the inactive list (where shrink_cache looks
    next) and clear PG_writeback here, under the LRU lock.

    Returns:
        0 when it rotated the page and cleared PG_writeback; 1 when the page is locked,
        dirty, active or off the LRU (the caller clears PG_writeback itself).

    Caller: end_page_writeback, after TestClearPageReclaim succeeded.
    """
    if PageLocked(page) or PageDirty(page) or PageActive(page) or not PageLRU(page):
        return 1
    vl_lru_move_tail(page_zone(k, page), page)
    k.vmstat.pgrotated += 1
    from kernelmodel.mm.page_writeback import test_clear_page_writeback

    bug_on(not test_clear_page_writeback(k, page), "rotate_reclaimable_page: not writeback")
    return 0
