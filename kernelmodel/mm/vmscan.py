"""Page reclaim: the LRU scanner, direct reclaim and kswapd (mm/vmscan.c, 2.6.6; 2.6.5's
differences on the 2.6.5 profile, see ``vl_reclaim_2_6_5``).

This is the reclaim of the 2.6.5 and 2.6.6 profiles (``KernelConfig.vmscan == "2.6.6"``).
2.6.7 rewrote it (scan_control, pageout(), scanning in proportion to the whole LRU):
``vmscan == "2.6.7"`` runs vmscan_267.py, which shares this module's page-level helpers and
kswapd's thread (``try_to_free_pages`` and ``KswapdOp`` hand over to it).

The structure is the kernel's:

* ``shrink_zone`` adds scan credit: ``ratio + 1`` to ``nr_scan_active`` (``ratio`` keeps the
  active list near two thirds of the LRU) and ``nr_inactive >> priority`` to
  ``nr_scan_inactive``; each credit of 32 or more is spent on ``refill_inactive_zone`` or
  ``shrink_cache``;
* ``shrink_cache`` isolates batches of up to SWAP_CLUSTER_MAX pages from the inactive tail,
  hands them to ``shrink_list`` and puts the survivors back on the list PG_active names;
* ``shrink_list`` decides each page in the 2.6.6 order: locked -> keep; writeback -> keep;
  referenced and in use -> activate; anonymous without swap -> ``add_to_swap`` (full ->
  activate); mapped -> ``try_to_unmap`` (FAIL -> activate, AGAIN -> keep); dirty -> pageout
  with ``PG_reclaim`` (``->writepage`` with WB_SYNC_NONE, nr_to_write 32, nonblocking,
  for_reclaim; the page is freed on a later pass or rotated to the inactive tail when its
  write ends); clean and unused -> out of the swap cache or page cache and freed;
* ``refill_inactive_zone`` deactivates active pages; mapped pages move only when
  ``swap_tendency = mapped_ratio / 2 + distress + vm_swappiness`` reaches 100, and then only
  if unreferenced; unmapped pages always move; anonymous pages stay active without swap;
* ``try_to_free_pages`` (direct reclaim) runs priorities 12 -> 0 and calls out_of_memory when
  even priority 0 freed fewer than 32 pages; ``balance_pgdat`` is kswapd's loop from priority
  12 to 1 until the zone is above pages_high.

Reclaim never sleeps: ``try_to_free_pages`` and the shrink functions start I/O and return what
they freed, and the caller (an allocating op) sleeps in ``vl_wait_for_memory`` and retries.
Where try_to_free_pages naps in the kernel (``blk_congestion_wait(HZ/10)`` between priorities
below 10), the model returns, keeps the call's locals per task (``DirectReclaim``), and the
retried allocation continues at the next priority after the caller's sleep (HZ/50 instead of
HZ/10; the last nap, after priority 0, is folded into the OOM decision). Without the naps a
single call would rescan the whole LRU thirteen times before any write could complete.
kswapd, a kernel thread whose main op (``KswapdOp``) runs ``balance_pgdat`` one priority per
step, takes its naps as real sleeps.

Model simplifications:
    * one zone (page_alloc.py), so shrink_caches and balance_pgdat's zone loops run once;
    * no slab caches: shrink_slab is not modelled (its scan counts are still accumulated);
    * no laptop mode, so ``do_writepage`` is computed but never blocks a write;
    * the rmap bit-spinlock (rmap_lock) is not taken: nothing runs concurrently inside a step;
    * the model's filesystem attaches no buffer_heads, so PG_private never appears on a page
      cache page; a PG_private page would be activated (as if try_to_release_page failed);
    * ``may_write_to_queue`` has no per-task backing_dev_info (the "writing to this queue
      already" exemption), only kswapd, pdflush, swap (never congested) and the congestion
      test;
    * a writepage that would block in get_request_wait (all nr_requests in flight) is not
      started: the page is kept (``vl_request_queue_full``);
    * ``handle_write_error`` sets AS_EIO/AS_ENOSPC without taking the page lock (which only
      pins the mapping; the model's references already do);
    * allocstall is counted by the caller (alloc.py), pgscan/pgsteal are not split into the
      kswapd/direct variants of later kernels, and ``kswapd_wakeups`` counts wakeups that
      found kswapd asleep (2.6.6 has no such counter);
    * simulated CPU cost: SHRINK_PAGE_NS per page shrink_list examines, REFILL_PAGE_NS per page
      refill_inactive_zone moves.

Invariants:
    * every page isolated by shrink_cache or refill_inactive_zone is back on an LRU list, or
      freed, before the function returns (the isolation reference is always dropped);
    * a page kept by shrink_list is unlocked by shrink_list unless someone else held the lock;
    * PG_reclaim is set only on pages whose writeback is in flight.

Lock ordering (documented, not taken):
    zone->lru_lock (isolation and put-back only)
      page lock (shrink_list, trylock)
        mapping->tree_lock / swapper_space.tree_lock (the final free)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_inline import (
    add_page_to_active_list,
    add_page_to_inactive_list,
    del_page_from_active_list,
    del_page_from_inactive_list,
    vl_lru_tail,
)
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
    SetPageLRU,
    SetPageReclaim,
    TestClearPageActive,
    TestClearPageLRU,
    TestSetPageLocked,
    TestSetPageLRU,
    get_page,
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
    REFILL_DEACTIVATED,
    REFILL_FATE_NAMES,
    REFILL_KEPT_ACTIVE,
    TR_KSWAPD,
    TR_RECLAIM,
    TR_RECLAIM_PAGE,
    TR_REFILL_PAGE,
)
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, PF_KSWAPD, PF_MEMALLOC, KOp
from kernelmodel.kernel.wait import sleep_on, wake_up
from kernelmodel.mm.page_alloc import _GFP_FS, _GFP_IO, _GFP_NORETRY, GFP_KERNEL
from kernelmodel.mm.swap import lru_add_drain, release_pages
from kernelmodel.mm.swapcache_fields import page_swp_entry

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from kernelmodel.mm.filemap import AddressSpace

#: Pages per reclaim batch, and the success threshold of try_to_free_pages.
SWAP_CLUSTER_MAX: Final = 32
#: ->writepage's "leave the page active" return (include/linux/fs.h, 2.6.6).
WRITEPAGE_ACTIVATE: Final = 0x80000
#: HZ/10 with HZ = 1000: blk_congestion_wait in balance_pgdat.
KSWAPD_NAP_NS: Final = 100_000_000
#: Wait-queue key of pgdat->kswapd_wait.
KSWAPD_WAIT_KEY: Final = "kswapd"
#: A task's next try_to_free_pages resumes its napping call within this time (1 s).
DIRECT_RESUME_NS: Final = 1_000_000_000
#: Simulated CPU per page examined by shrink_list / moved by refill_inactive_zone.
SHRINK_PAGE_NS: Final = 300
REFILL_PAGE_NS: Final = 100

ENOSPC: Final = 28

# shrink_list's fate for one page (the labels of the C function).
_FREE_IT: Final = 0
_ACTIVATE_LOCKED: Final = 1
_KEEP_LOCKED: Final = 2
_KEEP: Final = 3
_CLEAN: Final = 4  # pageout found nothing to write: continue with the free checks

# KswapdOp phases.
KSWAPD_SLEEP: Final = 0
KSWAPD_WOKEN: Final = 1
KSWAPD_BALANCE: Final = 2
KSWAPD_PHASE_NAMES: Final = ("sleeping", "woken", "balance_pgdat")


@final
class DirectReclaim:
    """The locals of a try_to_free_pages call that stopped where the kernel naps.

    Attributes:
        pid: the reclaiming task.
        priority: the priority the call continues at.
        nr_reclaimed: pages freed so far by the whole call.
        total_scanned: pages scanned so far (wakeup_bdflush's threshold).
        do_writepage: laptop mode's write switch (no effect in the model).
        nap_time: when the call stopped (simulated ns).
    """

    def __init__(
        self, pid: int, priority: int, nr_reclaimed: int, total_scanned: int,
        do_writepage: bool, nap_time: int,
    ) -> None:
        self.pid: int = pid
        self.priority: int = priority
        self.nr_reclaimed: int = nr_reclaimed
        self.total_scanned: int = total_scanned
        self.do_writepage: bool = do_writepage
        self.nap_time: int = nap_time

    def to_state(self) -> list[int]:
        """[pid, priority, nr_reclaimed, total_scanned, do_writepage, nap_time]."""
        return [
            self.pid, self.priority, self.nr_reclaimed, self.total_scanned,
            1 if self.do_writepage else 0, self.nap_time,
        ]

    @staticmethod
    def from_state(state: object) -> DirectReclaim:
        """Rebuild from ``to_state`` output.

        Raises:
            ValueError: the state is malformed.
        """
        if not isinstance(state, list) or len(state) != 6:
            raise ValueError("direct reclaim state: expected a list of 6 ints")
        v: list[int] = []
        for x in state:
            if not isinstance(x, int) or isinstance(x, bool):
                raise ValueError("direct reclaim state: expected ints")
            v.append(x)
        return DirectReclaim(v[0], v[1], v[2], v[3], v[4] != 0, v[5])


@final
class KswapdState:
    """vmscan.c's globals and pgdat->kswapd bookkeeping (``k.kswapd``).

    Attributes:
        pid: the kswapd kernel thread, or -1 before vl_start_kswapd.
        total_memory: nr_free_pagecache_pages() at kswapd_init (the base of mapped_ratio).
        direct: direct reclaim calls stopped at a nap, by task pid (try_to_free_pages).
    """

    def __init__(self) -> None:
        self.pid: int = -1
        self.total_memory: int = 0
        self.direct: dict[int, DirectReclaim] = {}

    def to_state(self) -> dict[str, object]:
        """Plain data."""
        return {
            "pid": self.pid,
            "total_memory": self.total_memory,
            "direct": [d.to_state() for d in self.direct.values()],
        }

    @staticmethod
    def from_state(state: dict[str, object]) -> KswapdState:
        """Rebuild from ``to_state`` output.

        Raises:
            ValueError: the state is malformed.
        """
        ks = KswapdState()
        pid = state.get("pid")
        total = state.get("total_memory")
        direct = state.get("direct", [])
        if not isinstance(pid, int) or not isinstance(total, int):
            raise ValueError("kswapd state: pid and total_memory must be ints")
        if not isinstance(direct, list):
            raise ValueError("kswapd state: direct must be a list")
        ks.pid = pid
        ks.total_memory = total
        for d in direct:
            dr = DirectReclaim.from_state(d)
            ks.direct[dr.pid] = dr
        return ks

    def __repr__(self) -> str:
        return f"<kswapd pid={self.pid} total_memory={self.total_memory}>"


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
    """shrink_list(): try to free each isolated page, in order.

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


# ---- shrink_cache and refill_inactive_zone -------------------------------------------------------


def _isolate_inactive(k: Kernel, zone: Zone, page_list: list[Page]) -> int:
    """shrink_cache's isolation loop: up to SWAP_CLUSTER_MAX pages from the inactive tail.

    Pages with a zero count (being freed) go back to the head. Returns ``nr_scan`` as the C
    loop leaves it (``while (nr_scan++ < SWAP_CLUSTER_MAX && ...)``: one more than the pages
    looked at).
    """
    pages = k.mem_map.pages
    looked = 0
    while looked < SWAP_CLUSTER_MAX:
        pfn = vl_lru_tail(zone, False)
        if pfn < 0:
            break
        looked += 1
        page = pages[pfn]
        bug_on(not TestClearPageLRU(page), "shrink_cache: inactive page without PG_lru")
        del_page_from_inactive_list(zone, page)
        if page_count(page) == 0:
            SetPageLRU(page)
            add_page_to_inactive_list(zone, page)
            continue
        get_page(page)
        page_list.append(page)
    if not vl_reclaim_2_6_5(k):
        zone.pages_scanned += len(page_list)  # 2.6.5 never counts it (vl_reclaim_2_6_5)
    return looked + 1


def _putback_lru(k: Kernel, zone: Zone, pages: list[Page]) -> None:
    """shrink_cache's put-back: each survivor to the head of the list PG_active names, then
    the isolation reference is dropped (a page whose count reaches zero leaves the LRU)."""
    for page in pages:
        bug_on(TestSetPageLRU(page), "shrink_cache: survivor already has PG_lru")
        if PageActive(page):
            add_page_to_active_list(zone, page)
        else:
            add_page_to_inactive_list(zone, page)
    release_pages(k, pages)


def shrink_cache(
    k: Kernel, zone: Zone, gfp_mask: int, max_scan: int, do_writepage: bool
) -> tuple[int, int]:
    """shrink_cache(): scan about ``max_scan`` pages from the inactive tail in batches of 32.

    Returns:
        (pages freed, pages scanned: the batches' sizes plus shrink_list's extra weight).
    """
    lru_add_drain(k)
    kswapd = current_is_kswapd(k)
    ret = 0
    total_scanned = 0
    while max_scan > 0:
        page_list: list[Page] = []
        nr_scan = _isolate_inactive(k, zone, page_list)
        nr_taken = len(page_list)
        if nr_taken == 0:
            break
        max_scan -= nr_scan
        k.vmstat.pgscan += nr_scan
        nr_freed, extra, kept = shrink_list(k, page_list, gfp_mask, do_writepage)
        total_scanned += nr_taken + extra
        if kswapd:
            k.vmstat.kswapd_steal += nr_freed
        k.vmstat.pgsteal += nr_freed
        ret += nr_freed
        k.trace.emit(k.now(), TR_RECLAIM, k.current, nr_scan, nr_freed, "shrink_cache")
        if nr_freed <= 0 and not kept:
            break
        _putback_lru(k, zone, kept)
    return (ret, total_scanned)


def _isolate_active(zone: Zone, k: Kernel, nr_pages: int, l_hold: list[Page]) -> int:
    """refill_inactive_zone's isolation of up to ``nr_pages`` from the active tail.

    PG_active stays set on the isolated pages. Returns the pages looked at.
    """
    pages = k.mem_map.pages
    looked = 0
    while looked < nr_pages:
        pfn = vl_lru_tail(zone, True)
        if pfn < 0:
            break
        looked += 1
        page = pages[pfn]
        bug_on(not TestClearPageLRU(page), "refill_inactive_zone: active page without PG_lru")
        del_page_from_active_list(zone, page)
        if page_count(page) == 0:
            SetPageLRU(page)
            add_page_to_active_list(zone, page)
        else:
            get_page(page)
            l_hold.append(page)
    return looked


def vl_swap_tendency(k: Kernel, zone: Zone) -> int:
    """refill_inactive_zone's ``swap_tendency = mapped_ratio / 2 + distress + vm_swappiness``.

    ``distress = 100 >> prev_priority``; ``mapped_ratio = nr_mapped * 100 / total_memory``.
    Mapped pages are deactivated only when this reaches 100.
    """
    total = k.kswapd.total_memory
    if total <= 0:
        total = max(zone.present_pages - zone.pages_high, 1)
    distress = 100 >> zone.prev_priority
    mapped_ratio = (k.vmstat.nr_mapped * 100) // total
    return mapped_ratio // 2 + distress + k.cfg.swappiness


def vl_refill_why(k: Kernel, page: Page, reclaim_mapped: bool,
                  no_swap: bool) -> tuple[int, str]:
    """Where refill_inactive_zone (2.6.5-2.6.7) sends an isolated active page, and why:
    REFILL_DEACTIVATED when "not mapped" or "mapped, not referenced"; REFILL_KEPT_ACTIVE when
    "mapped" (the swap tendency is under 100, so mapped pages stay), "referenced" or "anon,
    no swap". page_referenced() (which clears the young bits) is asked exactly when the
    kernel asks it: for a mapped page while reclaim_mapped."""
    from kernelmodel.mm.rmap import page_referenced

    mapped = page_mapped(page)
    if mapped and not reclaim_mapped:
        return REFILL_KEPT_ACTIVE, "mapped"
    if mapped and page_referenced(k, page) > 0:
        return REFILL_KEPT_ACTIVE, "referenced"
    if no_swap and PageAnon(page):
        return REFILL_KEPT_ACTIVE, "anon, no swap"
    return REFILL_DEACTIVATED, "mapped, not referenced" if mapped else "not mapped"


def vl_trace_refill(k: Kernel, page: Page, fate: int, why: str) -> None:
    """The ``refill_page`` record of refill_inactive_zone's decision on one page, written
    once the page is back on its list: a is the frame, b the decision (REFILL_DEACTIVATED,
    REFILL_KEPT_ACTIVE), s the decision and why."""
    k.trace.emit(k.now(), TR_REFILL_PAGE, k.current, page.pfn, fate,
                 f"{REFILL_FATE_NAMES[fate]}: {why}")


def refill_inactive_zone(k: Kernel, zone: Zone, nr_pages_in: int) -> None:
    """refill_inactive_zone(): move up to ``nr_pages_in`` pages from the active tail.

    Unmapped pages always go to the inactive head; mapped pages only when reclaim_mapped
    (swap_tendency >= 100) and not referenced; anonymous pages stay active without swap.
    Counts pgrefill (pages looked at) and pgdeactivate. Writes a ``refill_page`` record per
    page put back (vl_trace_refill).
    """
    lru_add_drain(k)
    l_hold: list[Page] = []
    looked = _isolate_active(zone, k, nr_pages_in, l_hold)
    k.charge(len(l_hold) * REFILL_PAGE_NS)
    reclaim_mapped = vl_swap_tendency(k, zone) >= 100
    no_swap = k.swap.total_swap_pages == 0
    l_inactive: list[Page] = []
    l_active: list[Page] = []
    whys: dict[int, str] = {}
    for page in l_hold:
        fate, why = vl_refill_why(k, page, reclaim_mapped, no_swap)
        whys[page.pfn] = why
        if fate == REFILL_DEACTIVATED:
            l_inactive.append(page)
        else:
            l_active.append(page)
    for page in l_inactive:
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not TestClearPageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_inactive_list(zone, page)
        vl_trace_refill(k, page, REFILL_DEACTIVATED, whys[page.pfn])
    for page in l_active:
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not PageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_active_list(zone, page)
        vl_trace_refill(k, page, REFILL_KEPT_ACTIVE, whys[page.pfn])
    release_pages(k, l_inactive)
    release_pages(k, l_active)
    k.vmstat.pgrefill += looked
    k.vmstat.pgdeactivate += len(l_inactive)


# ---- zones, direct reclaim and kswapd ------------------------------------------------------------


def shrink_zone(
    k: Kernel, zone: Zone, max_scan: int, gfp_mask: int, do_writepage: bool
) -> tuple[int, int]:
    """shrink_zone(): add scan credit and spend it on refill_inactive_zone / shrink_cache.

    Returns:
        (pages freed, pages scanned).
    """
    ratio = SWAP_CLUSTER_MAX * zone.nr_active // ((zone.nr_inactive | 1) * 2)
    zone.nr_scan_active += ratio + 1
    count = zone.nr_scan_active
    if count >= SWAP_CLUSTER_MAX:
        zone.nr_scan_active = 0
        refill_inactive_zone(k, zone, count)
    zone.nr_scan_inactive += max_scan
    count = zone.nr_scan_inactive
    if count >= SWAP_CLUSTER_MAX:
        zone.nr_scan_inactive = 0
        return shrink_cache(k, zone, gfp_mask, count, do_writepage)
    return (0, 0)


def shrink_caches(
    k: Kernel, priority: int, gfp_mask: int, do_writepage: bool
) -> tuple[int, int]:
    """shrink_caches(): one priority pass of direct reclaim over the zones (one here).

    A zone below pages_high records the priority in temp_priority; an all_unreclaimable
    zone is left to kswapd below DEF_PRIORITY.
    """
    zone = k.pgdat.zone
    if zone.free_pages < zone.pages_high:
        zone.temp_priority = priority
    if zone.all_unreclaimable and priority != DEF_PRIORITY:
        return (0, 0)
    return shrink_zone(k, zone, zone.nr_inactive >> priority, gfp_mask, do_writepage)


def _direct_reclaim_start(k: Kernel, pid: int) -> DirectReclaim:
    """try_to_free_pages' locals: a fresh call, or the one this task left at a nap.

    A task that napped (its allocation returned None and it slept in vl_wait_for_memory)
    and calls again within DIRECT_RESUME_NS continues at the next priority, as the kernel's
    call would after blk_congestion_wait. Any other call starts at DEF_PRIORITY.
    """
    direct = k.kswapd.direct
    saved = direct.pop(pid, None)
    now = k.now()
    for other in [d.pid for d in direct.values() if now - d.nap_time > DIRECT_RESUME_NS]:
        del direct[other]  # calls nobody resumed (the task got its page elsewhere, or died)
    if saved is not None and now - saved.nap_time <= DIRECT_RESUME_NS:
        return saved
    k.pgdat.zone.temp_priority = DEF_PRIORITY
    return DirectReclaim(pid, DEF_PRIORITY, 0, 0, False, -1)


def try_to_free_pages(k: Kernel, gfp_mask: int) -> int:
    """try_to_free_pages(): direct reclaim for an allocation that failed its watermark.

    Runs priorities DEF_PRIORITY .. 0 until SWAP_CLUSTER_MAX pages are freed. Without
    __GFP_FS it gives up after one pass. Once more than 48 pages were scanned it kicks
    pdflush (wakeup_bdflush) for that many pages; 2.6.5 kicks it after every pass that did
    not succeed, with no threshold (and no laptop-mode do_writepage), so a pass that scanned
    nothing asks for all dirty pages. Below priority 10, after a pass that
    scanned something, the kernel naps in blk_congestion_wait(HZ/10) so that writes can
    complete: the model returns there instead, keeping the call's locals (a
    ``DirectReclaim`` in ``k.kswapd.direct``); the allocating op sleeps in
    vl_wait_for_memory, and its retry continues at the next priority. If priority 0 still
    fails, and the caller may enter the filesystem and retry, out_of_memory decides whether
    to kill a task.

    Returns:
        The pages freed by this call (the kernel returns 1 once the whole call freed
        SWAP_CLUSTER_MAX, else 0; its caller ignores it).

    Caller: alloc.py's vl_alloc_page, with PF_MEMALLOC set on the current task; this never
    sleeps.
    """
    from kernelmodel.mm.oom_kill import out_of_memory
    from kernelmodel.mm.page_writeback import wakeup_bdflush

    if k.cfg.vmscan == "2.6.7":
        from kernelmodel.mm import vmscan_267

        return vmscan_267.try_to_free_pages(k, gfp_mask)
    zone = k.pgdat.zone
    st = _direct_reclaim_start(k, k.current)
    freed_now = 0
    success = False
    while st.priority >= 0:
        reclaimed, scanned = shrink_caches(k, st.priority, gfp_mask, st.do_writepage)
        st.nr_reclaimed += reclaimed
        freed_now += reclaimed
        if st.nr_reclaimed >= SWAP_CLUSTER_MAX:
            success = True
            break
        if (gfp_mask & _GFP_FS) == 0:
            break
        st.total_scanned += scanned
        if vl_reclaim_2_6_5(k):
            wakeup_bdflush(k, st.total_scanned)  # every pass; 0 means "all dirty pages"
        elif st.total_scanned > SWAP_CLUSTER_MAX + SWAP_CLUSTER_MAX // 2:
            wakeup_bdflush(k, st.total_scanned)
            st.do_writepage = True
        st.priority -= 1
        if scanned and st.priority + 1 < DEF_PRIORITY - 2 and st.priority >= 0:
            st.nap_time = k.now()  # blk_congestion_wait(WRITE, HZ/10): the caller sleeps
            k.kswapd.direct[st.pid] = st
            return freed_now
    if not success and (gfp_mask & _GFP_FS) != 0 and (gfp_mask & _GFP_NORETRY) == 0:
        out_of_memory(k)
    zone.prev_priority = zone.temp_priority
    return freed_now


def wakeup_kswapd(k: Kernel) -> None:
    """wakeup_kswapd(zone): wake kswapd if the zone is at or below pages_low and kswapd is
    asleep on pgdat->kswapd_wait."""
    zone = k.pgdat.zone
    if zone.free_pages > zone.pages_low:
        return
    q = k.waitqueues.get(KSWAPD_WAIT_KEY)
    if not q:
        return
    k.vmstat.kswapd_wakeups += 1
    k.trace.emit(k.now(), TR_KSWAPD, k.kswapd.pid, zone.free_pages, zone.pages_low, "wakeup")
    wake_up(k, KSWAPD_WAIT_KEY)


class KswapdOp(KOp):
    """kswapd(): the main loop of the kswapd kernel thread, and balance_pgdat in steps.

    Phases: KSWAPD_SLEEP (prepare_to_wait on kswapd_wait and schedule), KSWAPD_WOKEN (start
    balance_pgdat: pageoutrun, temp_priority), KSWAPD_BALANCE (one priority pass per step,
    priorities 12 .. 1; a nap of HZ/10 in blk_congestion_wait below priority 10 when it is
    struggling). The op never finishes.

    2.6.5 (``vl_reclaim_2_6_5``): the nap is taken only when the zone's pages_scanned says
    the pass scanned something, and 2.6.5 never adds to pages_scanned, so kswapd never
    naps: it runs its priorities back to back.
    """

    def __init__(self) -> None:
        super().__init__("kswapd")
        self.priority = DEF_PRIORITY
        self.total_scanned = 0
        self.total_reclaimed = 0
        self.do_writepage = False
        #: sc.nr_mapped of a 2.6.7 run (read once per balance_pgdat; 0 under 2.6.6).
        self.nr_mapped = 0

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == KSWAPD_SLEEP:
            self.phase = KSWAPD_WOKEN
            sleep_on(k, task, KSWAPD_WAIT_KEY)
            return KOP_BLOCKED
        if k.cfg.vmscan == "2.6.7":
            return self._step_267(k, task)
        if self.phase == KSWAPD_WOKEN:
            k.vmstat.pageoutrun += 1
            k.pgdat.zone.temp_priority = DEF_PRIORITY
            self.priority = DEF_PRIORITY
            self.total_scanned = 0
            self.total_reclaimed = 0
            self.do_writepage = False
            self.phase = KSWAPD_BALANCE
            return KOP_CONTINUE
        return self._balance_step(k, task)

    def _balance_step(self, k: Kernel, task: Task) -> int:
        """One iteration of balance_pgdat's priority loop (nr_pages == 0: not swsusp)."""
        zone = k.pgdat.zone
        priority = self.priority
        skip = zone.all_unreclaimable != 0 and priority != DEF_PRIORITY
        if priority <= 0 or skip or zone.free_pages > zone.pages_high:
            return self._balance_done(k)
        zone.temp_priority = priority
        max_scan = zone.nr_inactive >> priority
        reclaimed, scanned = shrink_zone(k, zone, max_scan, GFP_KERNEL, self.do_writepage)
        self.total_scanned += scanned
        self.total_reclaimed += reclaimed
        if not zone.all_unreclaimable and zone.pages_scanned > zone.present_pages * 2:
            zone.all_unreclaimable = 1
        total = self.total_scanned
        if total > SWAP_CLUSTER_MAX * 2 and total > self.total_reclaimed * 3 // 2:
            self.do_writepage = True
        self.priority = priority - 1
        scanned_any = zone.pages_scanned if vl_reclaim_2_6_5(k) else self.total_scanned
        if scanned_any and priority < DEF_PRIORITY - 2:
            from kernelmodel.mm.page_writeback import blk_congestion_wait

            k.trace.emit(k.now(), TR_KSWAPD, k.current, priority, zone.free_pages, "nap")
            blk_congestion_wait(k, task, KSWAPD_NAP_NS)
            return KOP_BLOCKED
        return KOP_CONTINUE

    def _step_267(self, k: Kernel, task: Task) -> int:
        """The woken and balancing phases with 2.6.7's balance_pgdat (vmscan_267.py)."""
        from kernelmodel.mm import vmscan_267
        from kernelmodel.mm.page_writeback import blk_congestion_wait

        if self.phase == KSWAPD_WOKEN:
            vmscan_267.balance_pgdat_start(k, self)
            self.phase = KSWAPD_BALANCE
            return KOP_CONTINUE
        res = vmscan_267.balance_pgdat_step(k, self)
        if res == vmscan_267.BALANCE_DONE:
            return self._balance_done(k)
        if res == vmscan_267.BALANCE_QUEUE_WAIT:
            blk_congestion_wait(k, task, KSWAPD_NAP_NS)  # get_request_wait, approximately
            return KOP_BLOCKED
        return KOP_CONTINUE

    def _balance_done(self, k: Kernel) -> int:
        """balance_pgdat's ``out:`` label: prev_priority = temp_priority; back to sleep."""
        zone = k.pgdat.zone
        zone.prev_priority = zone.temp_priority
        k.trace.emit(k.now(), TR_KSWAPD, k.current, self.total_scanned, self.total_reclaimed,
                     "balanced")
        self.phase = KSWAPD_SLEEP
        return KOP_CONTINUE

    def describe(self) -> str:
        if self.phase == KSWAPD_BALANCE:
            return f"kswapd: balance_pgdat priority {self.priority}"
        return "kswapd: " + KSWAPD_PHASE_NAMES[self.phase]

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["priority"] = self.priority
        s["total_scanned"] = self.total_scanned
        s["total_reclaimed"] = self.total_reclaimed
        s["do_writepage"] = self.do_writepage
        s["nr_mapped"] = self.nr_mapped
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KswapdOp:
        """Rebuild from ``to_state`` output.

        Raises:
            ValueError: the state is malformed.
        """
        op = KswapdOp()
        op.load_base_state(state)
        if op.phase not in (KSWAPD_SLEEP, KSWAPD_WOKEN, KSWAPD_BALANCE):
            raise ValueError("kswapd op: bad phase")
        op.priority = _state_int(state, "priority")
        op.total_scanned = _state_int(state, "total_scanned")
        op.total_reclaimed = _state_int(state, "total_reclaimed")
        op.do_writepage = bool(state.get("do_writepage", False))
        op.nr_mapped = _state_int(state, "nr_mapped")
        return op


def _state_int(state: dict[str, object], key: str) -> int:
    v = state.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"kswapd op: {key} must be an int")
    return v


def kswapd_init(k: Kernel) -> None:
    """kswapd_init(): total_memory = nr_free_pagecache_pages() (present - pages_high)."""
    zone = k.pgdat.zone
    k.kswapd.total_memory = max(zone.present_pages - zone.pages_high, 0)


def vl_start_kswapd(k: Kernel) -> Task:
    """Boot the reclaim side: swap_setup, kswapd_init, and the kswapd kernel thread
    (PF_MEMALLOC | PF_KSWAPD) asleep on kswapd_wait.

    Caller: start_kernel, after the page allocator (watermarks set) and vl_swap_boot.
    """
    from kernelmodel.mm.swap import swap_setup

    swap_setup(k)
    kswapd_init(k)
    task = k.new_kthread("kswapd0", KswapdOp())
    task.flags |= PF_MEMALLOC | PF_KSWAPD
    k.kswapd.pid = task.pid
    return task
