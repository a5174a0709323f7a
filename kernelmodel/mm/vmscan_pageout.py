"""Page reclaim, page by page: shrink_list and its pageout (mm/vmscan.c, 2.6.6; 2.6.5's
differences on the 2.6.5 profile, see ``vl_reclaim_2_6_5``).

``shrink_list`` decides each isolated page in the 2.6.6 order: locked -> keep; writeback ->
keep; referenced and in use -> activate; anonymous without swap -> ``add_to_swap`` (full ->
activate); mapped -> ``try_to_unmap`` (FAIL -> activate, AGAIN -> keep); dirty -> pageout
with ``PG_reclaim`` (``->writepage`` with WB_SYNC_NONE, nr_to_write 32, nonblocking,
for_reclaim; the page is freed on a later pass or rotated to the inactive tail when its write
ends); clean and unused -> out of the swap cache or page cache and freed. Its callers are
shrink_cache (vmscan_lru.py) and 2.6.7's (vmscan_267.py, which shares the page-level helpers
here); vmscan.py tells the whole of reclaim.

Model simplifications:
    * the model's filesystem attaches no buffer_heads, so PG_private never appears on a page
      cache page; a PG_private page would be activated (as if try_to_release_page failed);
    * ``may_write_to_queue`` has no per-task backing_dev_info (the "writing to this queue
      already" exemption), only kswapd, pdflush, swap (never congested) and the congestion
      test;
    * a writepage that would block in get_request_wait (all nr_requests in flight) is not
      started: the page is kept (``vl_request_queue_full``);
    * ``handle_write_error`` sets AS_EIO/AS_ENOSPC without taking the page lock (which only
      pins the mapping; the model's references already do);
    * simulated CPU cost: SHRINK_PAGE_NS per page shrink_list examines.

Invariants:
    * a page kept by shrink_list is unlocked by shrink_list unless someone else held the lock;
    * PG_reclaim is set only on pages whose writeback is in flight.

Lock ordering (documented, not taken):
    page lock (shrink_list, trylock)
      mapping->tree_lock / swapper_space.tree_lock (the final free)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
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
    TestSetPageLocked,
    page_count,
    page_mapped,
    put_page_testzero,
)
from kernelmodel.include.vmstat import (
    RECLAIM_ACTIVATED,
    RECLAIM_FATE_NAMES,
    RECLAIM_FREED,
    RECLAIM_KEPT,
    RECLAIM_WRITTEN,
    TR_RECLAIM_PAGE,
)
from kernelmodel.kernel.task import PF_KSWAPD, cond_resched
from kernelmodel.mm.page_alloc import _GFP_FS, _GFP_IO
from kernelmodel.mm.swap import release_pages
from kernelmodel.mm.swapcache_fields import page_swp_entry

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap import AddressSpace

#: Pages per reclaim batch, and the success threshold of try_to_free_pages.
SWAP_CLUSTER_MAX: Final = 32
#: ->writepage's "leave the page active" return (include/linux/fs.h, 2.6.6).
WRITEPAGE_ACTIVATE: Final = 0x80000
#: Simulated CPU per page examined by shrink_list.
SHRINK_PAGE_NS: Final = 300

ENOSPC: Final = 28

# shrink_list's fate for one page (the labels of the C function).
_FREE_IT: Final = 0
_ACTIVATE_LOCKED: Final = 1
_KEEP_LOCKED: Final = 2
_KEEP: Final = 3
_CLEAN: Final = 4  # pageout found nothing to write: continue with the free checks


# ---- small predicates -------------------------------------------------------------------------


def current_is_kswapd(k: Kernel) -> bool:
    """current_is_kswapd(): the current task has PF_KSWAPD."""
    task = k.tasks.get(k.current)
    return task is not None and (task.flags & PF_KSWAPD) != 0


def _current_is_pdflush(k: Kernel) -> bool:
    from kernelmodel.mm.pdflush import current_is_pdflush

    task = k.tasks.get(k.current)
    return task is not None and current_is_pdflush(task)


def mapping_mapped(mapping: AddressSpace) -> bool:
    """mapping_mapped(): some vma maps the file (i_mmap or i_mmap_shared is not empty)."""
    return len(mapping.i_mmap) > 0 or len(mapping.i_mmap_shared) > 0


def page_mapping_inuse(page: Page) -> bool:
    """page_mapping_inuse(): the page is mapped, in the swap cache, or of an mmapped file.

    Caller: holds the page lock.
    """
    from kernelmodel.mm.filemap import page_mapping

    if page_mapped(page):
        return True
    if PageSwapCache(page):
        return True
    mapping = page_mapping(page)
    if mapping is None:
        return False
    return mapping_mapped(mapping)


def is_page_cache_freeable(page: Page) -> bool:
    """is_page_cache_freeable(): only the cache and the scanner hold the page."""
    return page_count(page) - (1 if PagePrivate(page) else 0) == 2


def may_write_to_queue(k: Kernel, is_swap: bool) -> bool:
    """may_write_to_queue(bdi): kswapd and pdflush always write; others only to an
    uncongested queue (2.6.5, 2.6.6, 2.6.7).

    A swap-cache page's bdi is swapper_space's ``swap_backing_dev_info``, whose state is
    always 0: it never reads as congested, so swap writeout is never held back here (the
    kernel's own comment: the page is written even if that blocks, "because
    swap_backing_dev_info is bust"). Only file pages see the disk's congestion.
    """
    from kernelmodel.mm.page_writeback import bdi_write_congested

    if is_swap or current_is_kswapd(k) or _current_is_pdflush(k):
        return True
    return not bdi_write_congested(k)


def vl_request_queue_full(k: Kernel) -> bool:
    """The disk's request queue has no free request (nr_requests outstanding).

    2.6.6's writepage would sleep in get_request_wait here (the only throttle of kswapd's
    writes and of every swap write, which may_write_to_queue always lets through); reclaim
    cannot sleep in the model, so the page is kept for a later pass instead, and the queue
    never grows past nr_requests because of reclaim.
    """
    from kernelmodel.mm.page_writeback import NR_REQUESTS

    return k.machine.disk.queue_depth >= NR_REQUESTS


def vl_reclaim_2_6_5(k: Kernel) -> bool:
    """The 2.6.5 profile's reclaim details (mm/vmscan.c, 2.6.5), otherwise 2.6.6's.

    2.6.5 differs in three places the model follows: try_to_free_pages calls
    wakeup_bdflush(total_scanned) on every pass; shrink_cache never adds to
    zone->pages_scanned (a bug 2.6.6 fixed), so it stays 0: kswapd's nap, which tests it,
    is never taken, and no zone is ever marked all_unreclaimable; shrink_list files a page
    it writes on locked_pages (``_pageout``, with the 2.6.5 page lists).
    """
    return k.cfg.release == "2.6.5"


def _put_page_nofree(page: Page) -> None:
    """__put_page(): drop a reference that cannot be the last one."""
    bug_on(put_page_testzero(page), "__put_page: dropped the last reference")


# ---- shrink_list ---------------------------------------------------------------------------------


def vl_reclaim_why(k: Kernel, fate: int, why: str) -> int:
    """Note why shrink_list decides what it does with the page in hand (for its
    ``reclaim_page`` record); returns ``fate``."""
    k.vl_reclaim_why = why
    return fate


def vl_trace_reclaim(k: Kernel, page: Page, freed: bool, activated: bool) -> None:
    """The ``reclaim_page`` record of shrink_list's decision on one page (2.6.6 and 2.6.7):
    a is the frame, b the decision (RECLAIM_FREED, _ACTIVATED, _KEPT, _WRITTEN), s the
    decision and why."""
    why = k.vl_reclaim_why
    if freed:
        fate = RECLAIM_FREED
    elif activated:
        fate = RECLAIM_ACTIVATED
    elif why == "written":
        fate = RECLAIM_WRITTEN
    else:
        fate = RECLAIM_KEPT
    k.trace.emit(k.now(), TR_RECLAIM_PAGE, k.current, page.pfn, fate,
                 f"{RECLAIM_FATE_NAMES[fate]}: {why}")
    k.vl_reclaim_why = ""


def _pageout(
    k: Kernel, page: Page, mapping: AddressSpace | None, is_swap: bool, referenced: int,
    may_enter_fs: bool,
) -> int:
    """shrink_list's block for a dirty page (2.6.5 and 2.6.6 inline it; 2.6.7 calls it
    pageout).

    With 2.6.5's page lists (writeback = "lists") a file page moves to the head of its
    mapping's locked_pages before ->writepage, as 2.6.5's shrink_list does; 2.6.5 clears
    the dirty bit with test_clear_page_dirty, which in that mode is clear_page_dirty_for_io
    (no tags to keep). Swap-cache pages stay off swapper_space's lists (swapcache_fields.py).

    Returns:
        _KEEP after starting a write (the writepage unlocked the page); _KEEP_LOCKED or
        _ACTIVATE_LOCKED when the page cannot be written now; _CLEAN when
        clear_page_dirty_for_io found it clean (continue with the free checks).

    Caller: shrink_list, holding the page lock; the page is dirty.
    """
    from kernelmodel.fs.mpage import block_write_full_page
    from kernelmodel.include.writeback import WB_SYNC_NONE, WritebackControl
    from kernelmodel.mm.page_lists import PL_LOCKED, list_move, vl_lists_mode
    from kernelmodel.mm.page_writeback import clear_page_dirty_for_io
    from kernelmodel.mm.swap_state import swap_writepage

    if referenced or not is_page_cache_freeable(page):
        return vl_reclaim_why(k, _KEEP_LOCKED, "dirty and referenced or busy")
    if mapping is None and not is_swap:
        return vl_reclaim_why(k, _KEEP_LOCKED, "dirty, no mapping")
    if not may_enter_fs or not may_write_to_queue(k, is_swap) or vl_request_queue_full(k):
        return vl_reclaim_why(k, _KEEP_LOCKED, "dirty, queue congested")
    if not clear_page_dirty_for_io(k, page):
        return vl_reclaim_why(k, _CLEAN, "clean after all")
    if not is_swap and mapping is not None and vl_lists_mode(k):
        # 2.6.5: list_move(&page->list, &mapping->locked_pages) under page_lock, before
        # ->writepage, so that filemap_fdatawait waits for this write too
        list_move(mapping, page, PL_LOCKED)
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
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "writepage asked to activate")
    if not PageWriteback(page):
        ClearPageReclaim(page)  # a synchronous write, or a writepage that did nothing
    return vl_reclaim_why(k, _KEEP, "written")


def handle_write_error(mapping: AddressSpace, page: Page, error: int) -> None:
    """handle_write_error(): record a failed reclaim write in the mapping (AS_ENOSPC/AS_EIO)."""
    from kernelmodel.mm.filemap import AS_EIO, AS_ENOSPC, mapping_set_error, page_mapping

    if page_mapping(page) is mapping:
        mapping_set_error(mapping, AS_ENOSPC if error == -ENOSPC else AS_EIO)


def _free_page_cache(k: Kernel, page: Page, is_swap: bool) -> None:
    """shrink_list's final free under tree_lock: out of the swap cache (and its slot reference
    dropped) or out of the page cache, then the cache's page reference is put."""
    from kernelmodel.mm.filemap import _remove_from_page_cache
    from kernelmodel.mm.swap_state import _delete_from_swap_cache
    from kernelmodel.mm.swapfile import swap_free

    if is_swap:
        entry = page_swp_entry(k, page)
        _delete_from_swap_cache(k, page)
        swap_free(k, entry)
    else:
        _remove_from_page_cache(k, page)
    _put_page_nofree(page)


def _shrink_page(k: Kernel, page: Page, gfp_mask: int, stats: list[int]) -> int:
    """One iteration of shrink_list's loop; returns the label the C code jumps to.

    ``stats[0]`` counts the extra scan weight of mapped and swap-cache pages.

    Caller: shrink_list, holding the isolation reference; the page is off the LRU.
    """
    from kernelmodel.mm.filemap import page_mapping
    from kernelmodel.mm.rmap import SWAP_AGAIN, SWAP_FAIL, page_referenced, try_to_unmap
    from kernelmodel.mm.swap_state import add_to_swap

    if TestSetPageLocked(page):
        return vl_reclaim_why(k, _KEEP, "locked")
    if page_mapped(page) or PageSwapCache(page):
        stats[0] += 1
    bug_on(PageActive(page), "shrink_list: PageActive")
    if PageWriteback(page):
        return vl_reclaim_why(k, _KEEP_LOCKED, "under writeback")
    referenced = page_referenced(k, page)
    if referenced and page_mapping_inuse(page):
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "referenced")
    mapping = page_mapping(page)
    may_enter_fs = (gfp_mask & _GFP_FS) != 0
    if PageAnon(page) and not PageSwapCache(page) and not add_to_swap(k, page):
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "no swap space")
    is_swap = PageSwapCache(page)
    if is_swap:
        may_enter_fs = (gfp_mask & _GFP_IO) != 0
    if page_mapped(page) and (mapping is not None or is_swap):
        ret = try_to_unmap(k, page)
        if ret == SWAP_FAIL:
            return vl_reclaim_why(k, _ACTIVATE_LOCKED, "try_to_unmap failed")
        if ret == SWAP_AGAIN:
            return vl_reclaim_why(k, _KEEP_LOCKED, "try_to_unmap again")
    if PageDirty(page):
        fate = _pageout(k, page, mapping, is_swap, referenced, may_enter_fs)
        if fate != _CLEAN:
            return fate
    if PagePrivate(page):
        return vl_reclaim_why(k, _ACTIVATE_LOCKED, "has buffers")
    if mapping is None and not is_swap:
        return vl_reclaim_why(k, _KEEP_LOCKED, "no mapping")
    if page_count(page) != 2 or PageDirty(page):
        return vl_reclaim_why(k, _KEEP_LOCKED, "in use")
    _free_page_cache(k, page, is_swap)
    return vl_reclaim_why(k, _FREE_IT, "clean and unused")


def shrink_list(
    k: Kernel, pages: list[Page], gfp_mask: int, do_writepage: bool
) -> tuple[int, int, list[Page]]:
    """shrink_list() (mm/vmscan.c, 2.6.6): try to free each isolated page, in order.

    Reads in the order of the C: ``_shrink_page`` is the loop body up to the label it jumps
    to, and the labels follow here as in the C (free_it, activate_locked, keep_locked,
    keep), then the freed pagevec's release and the pgactivate count. It does not sleep in
    the model (pageout starts the write and does not wait; the C's cond_resched at the top
    of the loop is the host's pause point, task.cond_resched, and its CPU time is in the
    up-front charge), so it is a plain function, not a frame.

    ``do_writepage`` only matters in laptop mode, which the model does not have.

    Returns:
        (pages freed, extra scan weight for mapped/swap-cache pages, the pages kept, in
        order; each still holds the isolation reference and is off the LRU).

    Caller: shrink_cache, with ``pages`` isolated from the inactive list (a reference each).
    """
    from kernelmodel.mm.pagemap import unlock_page

    ret = 0
    pgactivate = 0
    stats = [0]
    kept: list[Page] = []
    freed: list[Page] = []
    k.charge(len(pages) * SHRINK_PAGE_NS)
    for page in pages:
        cond_resched(k)
        fate = _shrink_page(k, page, gfp_mask, stats)
        vl_trace_reclaim(k, page, fate == _FREE_IT, fate == _ACTIVATE_LOCKED)
        if fate == _FREE_IT:
            unlock_page(k, page)
            ret += 1
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
    return (ret, stats[0], kept)
