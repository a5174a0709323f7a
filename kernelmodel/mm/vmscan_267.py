"""Page reclaim as 2.6.7 rewrote it (mm/vmscan.c, 2.6.7): ``struct scan_control``,
``pageout()``, scanning in proportion to the whole LRU, and ``prev_priority`` lowered while
reclaim runs.

``k.cfg.vmscan == "2.6.7"`` selects this code (the 2.6.7 profile's own); ``"2.6.6"`` runs
vmscan.py (the 2.6.5 and 2.6.6 profiles). The page-level helpers (isolation from the LRU
tails, the put-back, the final free, kswapd's thread and wakeup) are shared with vmscan.py,
where they are the same in both releases. What 2.6.7 changed, function by function:

* ``scan_control`` carries a pass's inputs and results (``nr_to_scan``, ``nr_scanned``,
  ``nr_reclaimed``, ``nr_mapped``, ``priority``, ``gfp_mask``, ``may_writepage``) instead
  of 2.6.6's argument lists;
* ``shrink_zone`` scans ``(nr_active + nr_inactive) >> priority`` inactive pages (2.6.6:
  ``nr_inactive >> priority``) and the active list in proportion,
  ``scan_inactive * nr_active / (nr_inactive * 2 + 1)``, at most 4x the inactive scan (2.6.6:
  a ratio of 32 pages, independent of the priority);
* ``shrink_caches`` and ``balance_pgdat`` lower ``zone->prev_priority`` to the priority they
  scan at, so ``refill_inactive_zone``'s ``distress`` (``100 >> prev_priority``) rises during
  a reclaim run rather than only after it; 2.6.6 set it only at the end of a run;
* ``pageout()`` is split out of ``shrink_list``: it checks ``is_page_cache_freeable``, the
  mapping, ``->writepage`` and ``may_write_to_queue`` and returns PAGE_KEEP, PAGE_ACTIVATE,
  PAGE_SUCCESS or PAGE_CLEAN; after a write that ended at once (neither dirty nor under
  writeback) ``shrink_list`` locks the page again and tries to free it in the same pass;
* ``shrink_list`` counts ``sc->nr_scanned`` per page it gets past the lock and writeback
  tests (mapped and swap-cache pages twice); pages under writeback are not counted;
* ``shrink_cache`` has no early exit: it scans its whole ``nr_to_scan``;
* ``try_to_free_pages`` succeeds when one priority pass frees ``SWAP_CLUSTER_MAX`` pages
  (``sc.nr_reclaimed`` restarts at 0 each pass; 2.6.6 counted the whole call), has no
  "``!__GFP_FS``: give up after one pass" exit, and reads ``nr_mapped`` at each pass;
* ``balance_pgdat`` runs priorities 12 .. 0 (2.6.6: 12 .. 1) and reads ``nr_mapped`` once
  per run. Its ``total_scanned`` is never added to in the 2.6.7 source, so kswapd never
  takes its ``blk_congestion_wait`` nap and never sets ``may_writepage``: a woken kswapd
  runs all thirteen priorities back to back until the zone is above pages_high.

Swap-cache pages are never held back by queue congestion: their mapping is swapper_space,
whose backing_dev_info (``swap_backing_dev_info``) is never congested; only file pages ask
the disk's queue (``pageout``).

Model simplifications (as in vmscan.py): one zone; no slab (shrink_slab's scan counts are not
used); no laptop mode (``may_writepage`` is kept but never stops a write); no buffer_heads
(a PG_private page is activated); a writepage that would sleep for a free request is not
started (``vl_request_queue_full``); direct reclaim returns where the kernel naps and the
retried allocation continues the call (``DirectReclaim``); pgscan and pgsteal are single
counters (2.6.7 splits pgscan into pgscan_kswapd and pgscan_direct).

Invariants: as vmscan.py's (every isolated page is back on a list or freed when a function
returns; PG_reclaim only on pages under writeback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_inline import add_page_to_active_list, add_page_to_inactive_list
from kernelmodel.include.mmzone import DEF_PRIORITY
from kernelmodel.include.page import (
    ClearPageReclaim,
    PageActive,
    PageAnon,
    PageDirty,
    PageLRU,
    PagePrivate,
    PageSwapCache,
    PageWriteback,
    SetPageActive,
    SetPageReclaim,
    TestClearPageActive,
    TestSetPageLocked,
    TestSetPageLRU,
    page_count,
    page_mapped,
)
from kernelmodel.include.vmstat import REFILL_DEACTIVATED, REFILL_KEPT_ACTIVE, TR_RECLAIM
from kernelmodel.kernel.task import cond_resched, vl_host_pause
from kernelmodel.mm.page_alloc import _GFP_FS, _GFP_IO, _GFP_NORETRY, GFP_KERNEL
from kernelmodel.mm.swap import lru_add_drain, release_pages
from kernelmodel.mm.vmscan import _direct_reclaim_start
from kernelmodel.mm.vmscan_lru import (
    REFILL_PAGE_NS,
    _isolate_active,
    _isolate_inactive,
    _putback_lru,
    vl_refill_why,
    vl_trace_refill,
)
from kernelmodel.mm.vmscan_pageout import (
    SHRINK_PAGE_NS,
    SWAP_CLUSTER_MAX,
    WRITEPAGE_ACTIVATE,
    _free_page_cache,
    current_is_kswapd,
    handle_write_error,
    is_page_cache_freeable,
    may_write_to_queue,
    page_mapping_inuse,
    vl_reclaim_why,
    vl_request_queue_full,
    vl_trace_reclaim,
)

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap import AddressSpace
    from kernelmodel.mm.vmscan import KswapdOp

#: The value of ``KernelConfig.vmscan`` that selects this module.
VMSCAN_267: Final = "2.6.7"

# pageout()'s outcomes (pageout_t, 2.6.7).
PAGE_KEEP: Final = 0
PAGE_ACTIVATE: Final = 1
PAGE_SUCCESS: Final = 2
PAGE_CLEAN: Final = 3

# balance_pgdat_step's outcomes.
BALANCE_NEXT: Final = 0
BALANCE_DONE: Final = 1
BALANCE_QUEUE_WAIT: Final = 2

# shrink_list's fate for one page (the labels of the C function).
_FREE_IT: Final = 0
_ACTIVATE_LOCKED: Final = 1
_KEEP_LOCKED: Final = 2
_KEEP: Final = 3


@final
class ScanControl:
    """struct scan_control (2.6.7): one reclaim pass's parameters and results.

    Attributes:
        nr_to_scan: pages refill_inactive_zone or shrink_cache is asked to scan.
        nr_scanned: inactive pages scanned by this pass (mapped and swap-cache pages twice).
        nr_reclaimed: pages freed by this pass.
        nr_mapped: nr_mapped (page_state) when the pass (direct) or run (kswapd) started.
        priority: the priority shrink_caches / shrink_zone scan at.
        gfp_mask: the allocation's GFP mask.
        may_writepage: laptop mode's write switch (no laptop mode in the model).
        vl_queue_full: pageout met a request queue with no free request, where the kernel's
            ->writepage sleeps in get_request_wait (model only; see shrink_cache).
    """

    def __init__(self, gfp_mask: int, priority: int, nr_mapped: int,
                 may_writepage: bool) -> None:
        self.nr_to_scan: int = 0
        self.nr_scanned: int = 0
        self.nr_reclaimed: int = 0
        self.nr_mapped: int = nr_mapped
        self.priority: int = priority
        self.gfp_mask: int = gfp_mask
        self.may_writepage: bool = may_writepage
        self.vl_queue_full: bool = False


# ---- pageout and shrink_list -------------------------------------------------------------------


def pageout(k: Kernel, page: Page, mapping: AddressSpace | None, is_swap: bool,
            sc: ScanControl) -> int:
    """pageout() (2.6.7): write a dirty page for reclaim if that cannot block on a busy queue.

    A swap-cache page's mapping is swapper_space, whose queue is never congested, so it is
    always written; a file page is written by kswapd and pdflush, or by anyone while the
    disk's queue is not congested.

    Returns:
        PAGE_KEEP (page still locked), PAGE_ACTIVATE (locked), PAGE_SUCCESS (the write was
        started and unlocked the page) or PAGE_CLEAN (clear_page_dirty_for_io found it clean;
        still locked).

    Caller: shrink_list, holding the page lock; the page is dirty.
    """
    from kernelmodel.fs.mpage import block_write_full_page
    from kernelmodel.include.writeback import WB_SYNC_NONE, WritebackControl
    from kernelmodel.mm.page_writeback import clear_page_dirty_for_io
    from kernelmodel.mm.swap_state import swap_writepage

    if not is_page_cache_freeable(page):
        return PAGE_KEEP
    if mapping is None and not is_swap:
        return PAGE_KEEP
    if not may_write_to_queue(k, is_swap):
        return PAGE_KEEP
    if vl_request_queue_full(k):
        sc.vl_queue_full = True
        return PAGE_KEEP
    if not clear_page_dirty_for_io(k, page):
        return PAGE_CLEAN
    wbc = WritebackControl(
        sync_mode=WB_SYNC_NONE, nr_to_write=SWAP_CLUSTER_MAX, nonblocking=True, for_reclaim=True
    )
    SetPageReclaim(page)
    k.vmstat.nr_vmscan_write += 1
    if is_swap:
        res = swap_writepage(k, page, wbc)
    else:
        res = block_write_full_page(k, page, wbc)
    if res < 0 and mapping is not None:
        handle_write_error(mapping, page, res)
    if res == WRITEPAGE_ACTIVATE:
        ClearPageReclaim(page)
        return PAGE_ACTIVATE
    if not PageWriteback(page):
        ClearPageReclaim(page)  # a synchronous write, or a writepage that did nothing
    return PAGE_SUCCESS


def _shrink_page(k: Kernel, page: Page, sc: ScanControl) -> int:
    """One iteration of 2.6.7's shrink_list loop; returns the label the C code jumps to.

    Caller: shrink_list, holding the isolation reference; the page is off the LRU.
    """
    from kernelmodel.mm.filemap import page_mapping
    from kernelmodel.mm.rmap import SWAP_AGAIN, SWAP_FAIL, page_referenced, try_to_unmap
    from kernelmodel.mm.swap_state import add_to_swap

    if TestSetPageLocked(page):
        return vl_reclaim_why(k, _KEEP, "locked")
    bug_on(PageActive(page), "shrink_list: PageActive")
    if PageWriteback(page):
        return vl_reclaim_why(k, _KEEP_LOCKED, "under writeback")
    sc.nr_scanned += 1
    if page_mapped(page) or PageSwapCache(page):
        sc.nr_scanned += 1  # double the slab pressure for mapped and swap-cache pages
    referenced = page_referenced(k, page)
    if referenced and page_mapping_inuse(page):
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "referenced")
    if PageAnon(page) and not PageSwapCache(page) and not add_to_swap(k, page):
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "no swap space")
    # page_mapping() is swapper_space for a swap-cache page in 2.6.7; the model's
    # page_mapping keeps 2.6.6's NULL, so "has a mapping" is mapping or is_swap.
    mapping = page_mapping(page)
    is_swap = PageSwapCache(page)
    may_enter_fs = (sc.gfp_mask & _GFP_FS) != 0 or (is_swap and (sc.gfp_mask & _GFP_IO) != 0)
    if page_mapped(page) and (mapping is not None or is_swap):
        ret = try_to_unmap(k, page)
        if ret == SWAP_FAIL:
            return vl_reclaim_why(k, _ACTIVATE_LOCKED, "try_to_unmap failed")
        if ret == SWAP_AGAIN:
            return vl_reclaim_why(k, _KEEP_LOCKED, "try_to_unmap again")
    if PageDirty(page):
        if referenced or not may_enter_fs:
            return vl_reclaim_why(k, _KEEP_LOCKED, "dirty and referenced, or may not enter the fs")
        res = pageout(k, page, mapping, is_swap, sc)
        if res == PAGE_KEEP:
            return vl_reclaim_why(k, _KEEP_LOCKED, "dirty, pageout kept it")
        if res == PAGE_ACTIVATE:
            return vl_reclaim_why(k, _ACTIVATE_LOCKED, "writepage asked to activate")
        if res == PAGE_SUCCESS:
            if PageWriteback(page) or PageDirty(page):
                return vl_reclaim_why(k, _KEEP, "written")
            # the write is already over: lock the page again and try to free it now
            if TestSetPageLocked(page):
                return vl_reclaim_why(k, _KEEP, "written")
            if PageDirty(page) or PageWriteback(page):
                return vl_reclaim_why(k, _KEEP_LOCKED, "written, dirty again")
            mapping = page_mapping(page)
            is_swap = PageSwapCache(page)
    if PagePrivate(page):
        # no buffer_heads in the model: try_to_release_page fails
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "has buffers")
    if mapping is None and not is_swap:
        return vl_reclaim_why(k, _KEEP_LOCKED, "no mapping")
    if page_count(page) != 2 or PageDirty(page):
        return vl_reclaim_why(k, _KEEP_LOCKED, "in use")
    _free_page_cache(k, page, is_swap)
    return vl_reclaim_why(k, _FREE_IT, "clean and unused")


def shrink_list(k: Kernel, pages: list[Page], sc: ScanControl) -> tuple[int, list[Page]]:
    """shrink_list() (2.6.7): try to free each isolated page, in order; adds the pages freed
    to ``sc.nr_reclaimed`` and the pages scanned to ``sc.nr_scanned``.

    Returns:
        (pages freed, the pages kept, in order; each still holds the isolation reference).

    Caller: shrink_cache, with ``pages`` isolated from the inactive list (a reference each).
    """
    from kernelmodel.mm.pagemap import unlock_page

    reclaimed = 0
    pgactivate = 0
    kept: list[Page] = []
    freed: list[Page] = []
    k.charge(len(pages) * SHRINK_PAGE_NS)
    for page in pages:
        cond_resched(k)
        fate = _shrink_page(k, page, sc)
        vl_trace_reclaim(k, page, fate == _FREE_IT, fate == _ACTIVATE_LOCKED)
        if fate == _FREE_IT:
            unlock_page(k, page)
            reclaimed += 1
            freed.append(page)
            continue
        if fate == _ACTIVATE_LOCKED:
            SetPageActive(page)
            pgactivate += 1
        if fate != _KEEP:
            unlock_page(k, page)
        bug_on(PageLRU(page), "shrink_list: kept page has PG_lru")
        kept.append(page)
    release_pages(k, freed)  # __pagevec_release_nonlru: the isolation references
    k.vmstat.pgactivate += pgactivate
    sc.nr_reclaimed += reclaimed
    return (reclaimed, kept)


# ---- shrink_cache, refill_inactive_zone, shrink_zone ------------------------------------------


def shrink_cache(k: Kernel, zone: Zone, sc: ScanControl) -> None:
    """shrink_cache() (2.6.7): scan ``sc.nr_to_scan`` pages from the inactive tail in batches
    of SWAP_CLUSTER_MAX, with no early exit: only an empty inactive list stops it.

    Model: where a ->writepage would sleep in get_request_wait (every request in flight),
    the kernel's scan waits there and goes on once a request is free. The model cannot sleep
    inside the scan, so it keeps that page, ends the scan after the batch and leaves
    ``sc.vl_queue_full`` set; the caller then sleeps until the queue drains and scans again
    at the same priority. (2.6.7's kswapd has no other throttle: without this, one
    balance_pgdat run would pass over the whole LRU while nothing can be written.)
    """
    lru_add_drain(k)
    kswapd = current_is_kswapd(k)
    max_scan = sc.nr_to_scan
    while max_scan > 0:
        page_list: list[Page] = []
        nr_scan = _isolate_inactive(k, zone, page_list)
        if not page_list:
            break
        max_scan -= nr_scan
        k.vmstat.pgscan += nr_scan
        nr_freed, kept = shrink_list(k, page_list, sc)
        if kswapd:
            k.vmstat.kswapd_steal += nr_freed
        k.vmstat.pgsteal += nr_freed
        k.trace.emit(k.now(), TR_RECLAIM, k.current, nr_scan, nr_freed, "shrink_cache")
        _putback_lru(k, zone, kept)
        if sc.vl_queue_full:
            break


def vl_swap_tendency_267(k: Kernel, zone: Zone, sc: ScanControl) -> int:
    """refill_inactive_zone's ``swap_tendency`` (2.6.7): ``mapped_ratio / 2 + distress +
    vm_swappiness`` with ``mapped_ratio`` from ``sc->nr_mapped`` (read when the pass or the
    kswapd run began) and ``distress = 100 >> zone->prev_priority``."""
    total = k.kswapd.total_memory
    if total <= 0:
        total = max(zone.present_pages - zone.pages_high, 1)
    distress = 100 >> zone.prev_priority
    mapped_ratio = (sc.nr_mapped * 100) // total
    return mapped_ratio // 2 + distress + k.cfg.swappiness


def refill_inactive_zone(k: Kernel, zone: Zone, sc: ScanControl) -> None:
    """refill_inactive_zone() (2.6.7): move up to ``sc.nr_to_scan`` pages from the active tail.

    Mapped pages stay active unless reclaim_mapped (swap_tendency >= 100) and unreferenced;
    anonymous pages stay active without swap; everything else goes to the inactive head.
    Writes a ``refill_page`` record per page put back (vmscan.vl_trace_refill).
    """
    lru_add_drain(k)
    l_hold: list[Page] = []
    pgscanned = _isolate_active(zone, k, sc.nr_to_scan, l_hold)
    k.charge(len(l_hold) * REFILL_PAGE_NS)
    reclaim_mapped = vl_swap_tendency_267(k, zone, sc) >= 100
    no_swap = k.swap.total_swap_pages == 0
    l_inactive: list[Page] = []
    l_active: list[Page] = []
    # why each page went where, in the order of its list (a list, not a dict by pfn: a dict
    # of 130,000 pages stops for milliseconds to grow, between two pause points)
    why_inactive: list[str] = []
    why_active: list[str] = []
    for page in l_hold:
        cond_resched(k)
        fate, why = vl_refill_why(k, page, reclaim_mapped, no_swap)
        if fate == REFILL_DEACTIVATED:
            l_inactive.append(page)
            why_inactive.append(why)
        else:
            l_active.append(page)
            why_active.append(why)
    for i, page in enumerate(l_inactive):
        vl_host_pause(k)
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not TestClearPageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_inactive_list(zone, page)
        vl_trace_refill(k, page, REFILL_DEACTIVATED, why_inactive[i])
    for i, page in enumerate(l_active):
        vl_host_pause(k)
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not PageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_active_list(zone, page)
        vl_trace_refill(k, page, REFILL_KEPT_ACTIVE, why_active[i])
    release_pages(k, l_inactive)
    release_pages(k, l_active)
    k.vmstat.pgrefill += pgscanned
    k.vmstat.pgdeactivate += len(l_inactive)


def vl_scan_counts(zone: Zone, priority: int) -> tuple[int, int]:
    """shrink_zone's scan sizes (2.6.7) at ``priority``: (scan_active, scan_inactive).

    ``scan_inactive = (nr_active + nr_inactive) >> priority``; ``scan_active`` is
    ``scan_inactive * nr_active / (nr_inactive * 2 + 1)`` (which keeps the active list near
    two thirds of the LRU), but at most ``4 * scan_inactive``.
    """
    scan_inactive = (zone.nr_active + zone.nr_inactive) >> priority
    if zone.nr_active >= 4 * (zone.nr_inactive * 2 + 1):
        scan_active = 4 * scan_inactive
    else:
        scan_active = scan_inactive * zone.nr_active // (zone.nr_inactive * 2 + 1)
    return (scan_active, scan_inactive)


def shrink_zone(k: Kernel, zone: Zone, sc: ScanControl) -> None:
    """shrink_zone() (2.6.7): add scan credit (``vl_scan_counts``, the active side plus one)
    and spend each credit of SWAP_CLUSTER_MAX or more on refill_inactive_zone, then
    shrink_cache."""
    scan_active, scan_inactive = vl_scan_counts(zone, sc.priority)
    zone.nr_scan_active += scan_active + 1
    count = zone.nr_scan_active
    if count >= SWAP_CLUSTER_MAX:
        zone.nr_scan_active = 0
        sc.nr_to_scan = count
        refill_inactive_zone(k, zone, sc)
    zone.nr_scan_inactive += scan_inactive
    count = zone.nr_scan_inactive
    if count >= SWAP_CLUSTER_MAX:
        zone.nr_scan_inactive = 0
        sc.nr_to_scan = count
        shrink_cache(k, zone, sc)


def shrink_caches(k: Kernel, sc: ScanControl) -> None:
    """shrink_caches() (2.6.7): record the priority in temp_priority, lower prev_priority to
    it, and shrink the zone (an all_unreclaimable zone is left to kswapd below
    DEF_PRIORITY)."""
    zone = k.pgdat.zone
    zone.temp_priority = sc.priority
    if zone.prev_priority > sc.priority:
        zone.prev_priority = sc.priority
    if zone.all_unreclaimable and sc.priority != DEF_PRIORITY:
        return
    shrink_zone(k, zone, sc)


# ---- direct reclaim and kswapd ----------------------------------------------------------------


def try_to_free_pages(k: Kernel, gfp_mask: int) -> int:
    """try_to_free_pages() (2.6.7): direct reclaim, priorities DEF_PRIORITY .. 0.

    Each pass reads nr_mapped, runs shrink_caches and succeeds if it alone freed
    SWAP_CLUSTER_MAX pages. Once more than 48 pages were scanned in the whole call it kicks
    pdflush (``wakeup_bdflush(total_scanned)``) and sets may_writepage. Below priority 10,
    after a pass that scanned something, the kernel naps in blk_congestion_wait(HZ/10): the
    model returns there, keeping the call's locals in a ``DirectReclaim`` (``nr_reclaimed``
    holds the call's total_reclaimed), and the retried allocation continues at the next
    priority. When priority 0 fails too, out_of_memory runs if the caller may enter the
    filesystem and retry. ``prev_priority`` gets ``temp_priority`` at the end.

    Returns:
        The pages freed by this call (the caller ignores it).

    Caller: vmscan.try_to_free_pages for the 2.6.7 design, with PF_MEMALLOC set; never sleeps.
    """
    from kernelmodel.mm.oom_kill import out_of_memory
    from kernelmodel.mm.page_writeback import wakeup_bdflush

    zone = k.pgdat.zone
    st = _direct_reclaim_start(k, k.current)
    freed_now = 0
    success = False
    while st.priority >= 0:
        sc = ScanControl(gfp_mask, st.priority, k.vmstat.nr_mapped, st.do_writepage)
        shrink_caches(k, sc)
        freed_now += sc.nr_reclaimed
        st.nr_reclaimed += sc.nr_reclaimed
        if sc.nr_reclaimed >= SWAP_CLUSTER_MAX:
            success = True
            break
        st.total_scanned += sc.nr_scanned
        if st.total_scanned > SWAP_CLUSTER_MAX + SWAP_CLUSTER_MAX // 2:
            wakeup_bdflush(k, st.total_scanned)
            st.do_writepage = True
        if sc.vl_queue_full:
            st.nap_time = k.now()  # asleep in get_request_wait: go on at this priority
            k.kswapd.direct[st.pid] = st
            return freed_now
        st.priority -= 1
        if sc.nr_scanned and st.priority + 1 < DEF_PRIORITY - 2 and st.priority >= 0:
            st.nap_time = k.now()  # blk_congestion_wait(WRITE, HZ/10): the caller sleeps
            k.kswapd.direct[st.pid] = st
            return freed_now
    if not success and (gfp_mask & _GFP_FS) != 0 and (gfp_mask & _GFP_NORETRY) == 0:
        out_of_memory(k)
    zone.prev_priority = zone.temp_priority
    return freed_now


def balance_pgdat_start(k: Kernel, op: KswapdOp) -> None:
    """balance_pgdat()'s set-up (2.6.7): pageoutrun, temp_priority, and ``sc.nr_mapped`` read
    once for the whole run."""
    k.vmstat.pageoutrun += 1
    k.pgdat.zone.temp_priority = DEF_PRIORITY
    op.priority = DEF_PRIORITY
    op.total_scanned = 0
    op.total_reclaimed = 0
    op.do_writepage = False
    op.nr_mapped = k.vmstat.nr_mapped


def balance_pgdat_step(k: Kernel, op: KswapdOp) -> int:
    """One iteration of balance_pgdat's priority loop (2.6.7; nr_pages == 0, not swsusp).

    Returns:
        BALANCE_DONE when the run is over (the zone is above pages_high, was given up on,
        or priority 0 has been scanned): the caller then goes to ``out:``;
        BALANCE_QUEUE_WAIT when a write met a full request queue (``shrink_cache``): the
        caller sleeps until the queue drains, and the next step scans this priority again;
        BALANCE_NEXT otherwise.

    ``op.total_scanned`` stays 0, as in the 2.6.7 source, so there is never a
    blk_congestion_wait nap here.
    """
    zone = k.pgdat.zone
    priority = op.priority
    skip = zone.all_unreclaimable != 0 and priority != DEF_PRIORITY
    if priority < 0 or skip or zone.free_pages > zone.pages_high:
        return BALANCE_DONE
    zone.temp_priority = priority
    if zone.prev_priority > priority:
        zone.prev_priority = priority
    sc = ScanControl(GFP_KERNEL, priority, op.nr_mapped, op.do_writepage)
    shrink_zone(k, zone, sc)
    op.total_reclaimed += sc.nr_reclaimed
    if not zone.all_unreclaimable and zone.pages_scanned > zone.present_pages * 2:
        zone.all_unreclaimable = 1
    total = op.total_scanned
    if total > SWAP_CLUSTER_MAX * 2 and total > op.total_reclaimed * 3 // 2:
        op.do_writepage = True
    if sc.vl_queue_full:
        return BALANCE_QUEUE_WAIT
    op.priority = priority - 1
    return BALANCE_NEXT
