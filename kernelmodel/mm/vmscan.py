"""Page reclaim: the LRU scanner, direct reclaim and kswapd (mm/vmscan.c, 2.6.6; 2.6.5's
differences on the 2.6.5 profile, see ``vl_reclaim_2_6_5``).

This is the reclaim of the 2.6.5 and 2.6.6 profiles (``KernelConfig.vmscan == "2.6.6"``).
2.6.7 rewrote it (scan_control, pageout(), scanning in proportion to the whole LRU):
``vmscan == "2.6.7"`` runs vmscan_267.py, which shares the page-level helpers and kswapd's
thread (``try_to_free_pages`` and ``KswapdOp`` hand over to it).

mm/vmscan.c is three modules here, along its layers: vmscan_pageout.py (shrink_list and its
pageout: one page at a time), vmscan_lru.py (shrink_cache and refill_inactive_zone: the
LRU scan) and this one (shrink_zone, direct reclaim and kswapd).

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

from kernelmodel.include.mmzone import DEF_PRIORITY
from kernelmodel.include.swap import DirectReclaim
from kernelmodel.include.vmstat import TR_KSWAPD
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, PF_KSWAPD, PF_MEMALLOC, Frame
from kernelmodel.kernel.wait import sleep_on, wake_up
from kernelmodel.mm.page_alloc import _GFP_FS, _GFP_NORETRY, GFP_KERNEL
from kernelmodel.mm.vmscan_lru import refill_inactive_zone, shrink_cache
from kernelmodel.mm.vmscan_pageout import SWAP_CLUSTER_MAX, vl_reclaim_2_6_5

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

#: HZ/10 with HZ = 1000: blk_congestion_wait in balance_pgdat.
KSWAPD_NAP_NS: Final = 100_000_000
#: Wait-queue key of pgdat->kswapd_wait.
KSWAPD_WAIT_KEY: Final = "kswapd"
#: A task's next try_to_free_pages resumes its napping call within this time (1 s).
DIRECT_RESUME_NS: Final = 1_000_000_000

# KswapdOp phases.
KSWAPD_SLEEP: Final = 0
KSWAPD_WOKEN: Final = 1
KSWAPD_BALANCE: Final = 2
KSWAPD_PHASE_NAMES: Final = ("sleeping", "woken", "balance_pgdat")


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


@final
class KswapdOp(Frame):
    """The frame of kswapd() (mm/vmscan.c, 2.6.6): the kswapd thread's loop, with
    balance_pgdat(pgdat, 0) run in its own steps (one priority pass per step).

    The phases follow the C loop: KSWAPD_SLEEP is ``prepare_to_wait(&pgdat->kswapd_wait);
    schedule()``; KSWAPD_WOKEN (after ``finish_wait``) starts balance_pgdat (pageoutrun,
    temp_priority = DEF_PRIORITY); KSWAPD_BALANCE is one pass of its ``for (priority =
    DEF_PRIORITY; priority; priority--)`` loop per step, with a nap of HZ/10 in
    blk_congestion_wait below priority 10 when it is struggling; its ``out:`` label goes
    back to KSWAPD_SLEEP. The frame never returns. Its locals are balance_pgdat's.

    2.6.5 (``vl_reclaim_2_6_5``): the nap is taken only when the zone's pages_scanned says
    the pass scanned something, and 2.6.5 never adds to pages_scanned, so kswapd never
    naps: it runs its priorities back to back.

    Model simplification: balance_pgdat is a phase of this frame, not a frame of its own (it
    is called from nowhere else: try_to_free_pages is the direct reclaim's).
    """

    KIND = "kswapd"
    FIELDS = (("priority", "int"), ("total_scanned", "int"), ("total_reclaimed", "int"),
              ("do_writepage", "bool"), ("nr_mapped", "int"))

    def __init__(self) -> None:
        super().__init__("kswapd")
        self.priority = DEF_PRIORITY
        self.total_scanned = 0
        self.total_reclaimed = 0
        self.do_writepage = False
        #: sc.nr_mapped of a 2.6.7 run (read once per balance_pgdat; 0 under 2.6.6).
        self.nr_mapped = 0

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == KSWAPD_SLEEP:  # prepare_to_wait(&pgdat->kswapd_wait); schedule()
            self.phase = KSWAPD_WOKEN
            sleep_on(k, task, KSWAPD_WAIT_KEY)
            return KOP_BLOCKED
        if k.cfg.vmscan == "2.6.7":
            return self._step_267(k, task)
        if self.phase == KSWAPD_WOKEN:  # balance_pgdat(pgdat, 0): its locals
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
        if 0 <= self.phase < len(KSWAPD_PHASE_NAMES):
            return "kswapd: " + KSWAPD_PHASE_NAMES[self.phase]
        return "kswapd"


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
