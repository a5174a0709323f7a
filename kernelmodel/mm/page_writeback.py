"""Dirty and writeback page state, dirty limits, throttling, background writeout and kupdate
(2.6.6).

Models mm/page-writeback.c of 2.6.6, plus the blk_congestion_wait and bdi_write_congested
pieces of drivers/block/ll_rw_blk.c it depends on. struct writeback_control and the globals
live in writeback.py, the pdflush thread pool in pdflush.py.

Tags and flags. Every function that changes PG_dirty or PG_writeback on a
page-cache page changes the radix-tree tag in the same model step (the kernel does it under
``mapping->tree_lock``), with one deliberate exception: ``clear_page_dirty_for_io`` clears
PG_dirty and leaves the DIRTY tag set while the caller holds the page lock; the tag is put
right by ``set_page_writeback`` (which clears DIRTY when the page is still clean) or by a
redirty. In 2.6.6 ``page_mapping()`` is NULL for swap-cache pages (rmap 2), so dirtying and
writeback of those pages touch only the PG_ flags: they are never tagged and never dirty an
inode. In the 2.6.5 list mode (``k.cfg.writeback == "lists"``, page_lists.py) no tag is set
or cleared: a 0->1 dirtying moves the page to the head of ``mapping->dirty_pages`` instead, and
the writeback bit and test_clear_page_dirty leave the lists alone, as in 2.6.5. The kernel's
``TestSetPageWriteback``/``TestClearPageWriteback`` macros also count
``nr_writeback``; the model's page.py helpers touch only the bit, so this module counts.

Throttling and background writeback: writers call
``balance_dirty_pages_ratelimited`` for every page they dirty; every ``ratelimit_pages`` calls
(8 while ``dirty_exceeded``) it returns a ``BalanceDirtyPagesOp`` for the writer to run. The
pdflush threads (``PdflushOp`` main loops on kernel threads) run ``background_writeout`` and
``wb_kupdate`` on request (``pdflush_operation``); ``wb_timer_fn`` (TIMER_KUPDATE) starts
kupdate every ``dirty_writeback_centisecs``. All sysctls are read from ``k.cfg`` when used.

Model simplifications:
    * time is simulated ns; HZ = 1000 only matters through the constants below (HZ/10 =
      100 ms); a centisecond is 10 ms;
    * one CPU, so the per-CPU ``ratelimits`` counter is one global counter;
    * one request queue (the disk): ``bdi_write_congested`` compares the disk's outstanding
      requests (reads and writes) with the 2.6.6 congestion threshold of a 128-request
      queue, and the congestion-off wakeup of ``blk_congestion_wait`` is taken at write
      completion (``end_page_writeback``) instead of in the request-free path;
    * no ``memory_backed`` mappings, no laptop mode (``laptop_mode`` is kept, 0), no
      ``nr_unstable`` producer (NFS), no superblock writeout (``sync_supers`` is empty);
    * background_writeout and wb_kupdate are frames (their C locals) that a pdflush thread
      (pdflush.py) runs, so they can sleep in the middle.

Invariants (checked by check.py):
    * DIRTY tag set <=> PG_dirty, except while the page is locked after
      clear_page_dirty_for_io, or when the page lies wholly past EOF (see mpage.py);
    * WRITEBACK tag set <=> PG_writeback;
    * nr_dirty counts PG_dirty pages with a page_mapping(); nr_writeback counts PG_writeback
      pages.

Lock ordering: mapping->tree_lock is taken inside the page lock; not modelled otherwise (one
CPU, every step atomic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import (
    Page,
    PageDirty,
    PageSwapCache,
    SetPageDirty,
    TestClearPageDirty,
    TestClearPageWriteback,
    TestSetPageDirty,
    TestSetPageWriteback,
)
from kernelmodel.include.timer import TIMER_KUPDATE
from kernelmodel.include.vmstat import TR_DIRTY, TR_THROTTLE, TR_WB_END, TR_WB_START
from kernelmodel.include.writeback import (
    WB_SYNC_ALL,
    WB_SYNC_HOLD,
    WB_SYNC_NONE,
    WritebackControl,
    WritebackState,
)
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    PF_LESS_THROTTLE,
    Frame,
    KOp,
    Task,
    vl_call,
    vl_push,
)
from kernelmodel.kernel.wait import sleep_on, wake_up
from kernelmodel.lib.radix_tree import radix_tree_tag_clear, radix_tree_tag_set
from kernelmodel.mm.filemap import PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK, page_mapping
from kernelmodel.mm.page_lists import vl_lists_mode, vl_lists_page_dirtied
from machine.clock import EV_TIMER

# struct writeback_control and friends are defined in writeback.py; callers may import them
# from here as well.
__all__ = [
    "WB_SYNC_ALL",
    "WB_SYNC_HOLD",
    "WB_SYNC_NONE",
    "WritebackControl",
    "WritebackState",
]

if TYPE_CHECKING:
    from kernelmodel.fs.fs_writeback import SyncSbInodes
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap import AddressSpace

# ---- constants of mm/page-writeback.c and ll_rw_blk.c (2.6.6) ----------------------------------

#: Pages per bdflush/kupdate writeback chunk.
MAX_WRITEBACK_PAGES: Final = 1024
#: The ratelimit while dirty_exceeded.
DIRTY_EXCEEDED_RATELIMIT: Final = 8
PAGE_CACHE_SIZE: Final = 4096
#: HZ and centiseconds in simulated ns.
HZ_NS: Final = 1_000_000_000
CENTISEC_NS: Final = 10_000_000
#: blk_congestion_wait(WRITE, HZ/10).
CONGESTION_WAIT_NS: Final = HZ_NS // 10
#: BLKDEV_MAX_RQ and the congestion thresholds blk_queue_congestion_threshold derives.
NR_REQUESTS: Final = 128
NR_CONGESTION_ON: Final = NR_REQUESTS - NR_REQUESTS // 8 + 1
NR_CONGESTION_OFF: Final = NR_REQUESTS - NR_REQUESTS // 8 - 1
#: Wait-queue key of congestion_wqh[WRITE].
CONGESTION_WAIT_KEY: Final = "blk congestion write"

#: Named preemption points of the writeback paths; a scenario may stop a
#: task at any of them with ``k.preempt_point``.
WRITEBACK_PREEMPT_POINTS: Final = (
    "mpage_writepages:after_clear_dirty",
    "mpage_writepages:after_writepage",
    "fsync:after_down",
    "fsync:after_fdatawrite",
    "fsync:after_fdatawait",
    "sync_sb_inodes:before_writeback",
)


# ---- setting and clearing PG_dirty ---------------------------------------------


def _mark_mapping_dirty(k: Kernel, mapping: AddressSpace) -> None:
    """__mark_inode_dirty(mapping->host, I_DIRTY_PAGES)."""
    from kernelmodel.fs.fs import I_DIRTY_PAGES
    from kernelmodel.fs.fs_writeback import _mark_inode_dirty

    inode = k.sb.s_inodes.get(mapping.host)
    if inode is not None:
        _mark_inode_dirty(k, inode, I_DIRTY_PAGES)


def _set_page_dirty_nobuffers(k: Kernel, page: Page) -> int:
    """__set_page_dirty_nobuffers(page): the model filesystem's a_ops->set_page_dirty.

    On a 0->1 transition of PG_dirty, for a page still in its mapping: count nr_dirty, set
    the DIRTY tag, and (unless swap cache) __mark_inode_dirty(host, I_DIRTY_PAGES).

    Returns:
        1 on a 0->1 transition, else 0 (2.6.6 always returned 0; no caller used it).
    """
    if TestSetPageDirty(page):
        return 0
    mapping = page_mapping(page)
    if mapping is None:
        return 1
    if page.mapping is not None:
        bug_on(page.mapping is not mapping, "__set_page_dirty_nobuffers: page->mapping != mapping")
        k.vmstat.nr_dirty += 1
        if vl_lists_mode(k):
            vl_lists_page_dirtied(k, mapping, page)
        else:
            radix_tree_tag_set(mapping.page_tree, page.index, PAGECACHE_TAG_DIRTY)
    k.trace.emit(k.now(), TR_DIRTY, k.current, page.pfn, page.index, "")
    if not PageSwapCache(page):
        _mark_mapping_dirty(k, mapping)
    return 1


def set_page_dirty(k: Kernel, page: Page) -> int:
    """set_page_dirty(page) (mm/page-writeback.c, 2.6.6).

    No mapping (anonymous and, in 2.6.6, swap-cache pages): a bare SetPageDirty. Otherwise
    the mapping's a_ops->set_page_dirty; the model filesystem has no buffer_heads, so that is
    __set_page_dirty_nobuffers (the kernel's fallback __set_page_dirty_buffers is not needed).

    Returns:
        1 when the page became dirty (model convenience), else 0.
    """
    mapping = page_mapping(page)
    if mapping is None:
        if PageDirty(page):
            return 0
        SetPageDirty(page)
        return 1
    return _set_page_dirty_nobuffers(k, page)


def vl_set_page_dirty_from_pte(k: Kernel, page: Page) -> int:
    """set_page_dirty(page) for a dirty pte being cleared (zap_pte_range, try_to_unmap_one,
    filemap_sync): the kernel calls set_page_dirty there; the model also tells the data oracle
    that the shared-mapping stores to a file page are now the page cache's to write.

    Returns:
        set_page_dirty's value.
    """
    mapping = page_mapping(page)
    if mapping is not None:
        k.oracle.pte_dirty_moved(k, mapping.host, page.index)
    return set_page_dirty(k, page)


def redirty_page_for_writepage(k: Kernel, wbc: WritebackControl, page: Page) -> int:
    """redirty_page_for_writepage(wbc, page) (2.6.6-rc3, "writeback livelock fix").

    A ->writepage that cannot write the page now redirties it and counts it as skipped.

    Caller: ->writepage, holding the page lock.
    """
    wbc.pages_skipped += 1
    return _set_page_dirty_nobuffers(k, page)


def test_clear_page_dirty(k: Kernel, page: Page) -> int:
    """test_clear_page_dirty(page): clear PG_dirty and, if it was set, the DIRTY tag.

    Returns:
        1 if the page was dirty.
    """
    mapping = page_mapping(page)
    if mapping is not None:
        if TestClearPageDirty(page):
            if not vl_lists_mode(k):
                radix_tree_tag_clear(mapping.page_tree, page.index, PAGECACHE_TAG_DIRTY)
            k.vmstat.nr_dirty -= 1
            return 1
        return 0
    return 1 if TestClearPageDirty(page) else 0


def clear_page_dirty(k: Kernel, page: Page) -> None:
    """clear_page_dirty(page): test_clear_page_dirty without the result (truncate)."""
    test_clear_page_dirty(k, page)


def _clear_page_dirty(k: Kernel, page: Page) -> None:
    """__clear_page_dirty(page): clear PG_dirty and the DIRTY tag, with no accounting.

    Caller: code that accounts nr_dirty itself.
    """
    mapping = page_mapping(page)
    TestClearPageDirty(page)
    if mapping is not None and not vl_lists_mode(k):
        radix_tree_tag_clear(mapping.page_tree, page.index, PAGECACHE_TAG_DIRTY)


def clear_page_dirty_for_io(k: Kernel, page: Page) -> int:
    """clear_page_dirty_for_io(page): clear PG_dirty for writeout, LEAVING the DIRTY tag.

    The tag stays so that a data-integrity walk still finds the page until ->writepage has
    set PG_writeback ("fdatasync integrity fix"); set_page_writeback clears it then.

    Caller: holds the page lock.

    Returns:
        1 if the page was dirty (the caller must write it), else 0.
    """
    mapping = page_mapping(page)
    if mapping is not None:
        if TestClearPageDirty(page):
            k.vmstat.nr_dirty -= 1
            return 1
        return 0
    return 1 if TestClearPageDirty(page) else 0


# ---- PG_writeback -------------------------------------------------------------------------------


def test_set_page_writeback(k: Kernel, page: Page) -> int:
    """test_set_page_writeback(page): set PG_writeback and the WRITEBACK tag.

    Also clears the DIRTY tag if the page is no longer dirty (the end of the
    clear_page_dirty_for_io window). Counts nr_writeback on a 0->1 transition.

    Returns:
        1 if PG_writeback was already set.
    """
    mapping = page_mapping(page)
    ret = TestSetPageWriteback(page)
    if not ret:
        k.vmstat.nr_writeback += 1
        k.vmstat.writeback_pages += 1
        k.trace.emit(k.now(), TR_WB_START, k.current, page.pfn, page.index, "")
    if mapping is not None and not vl_lists_mode(k):
        if not ret:
            radix_tree_tag_set(mapping.page_tree, page.index, PAGECACHE_TAG_WRITEBACK)
        if not PageDirty(page):
            radix_tree_tag_clear(mapping.page_tree, page.index, PAGECACHE_TAG_DIRTY)
    return 1 if ret else 0


def set_page_writeback(k: Kernel, page: Page) -> None:
    """set_page_writeback(page) (include/linux/page-flags.h): test_set_page_writeback."""
    test_set_page_writeback(k, page)


def test_clear_page_writeback(k: Kernel, page: Page) -> int:
    """test_clear_page_writeback(page): clear PG_writeback and the WRITEBACK tag.

    Called from end_page_writeback (I/O completion) or rotate_reclaimable_page.

    Returns:
        1 if PG_writeback was set.
    """
    mapping = page_mapping(page)
    ret = TestClearPageWriteback(page)
    if ret:
        k.vmstat.nr_writeback -= 1
        k.trace.emit(k.now(), TR_WB_END, k.current, page.pfn, page.index, "")
        if mapping is not None and not vl_lists_mode(k):
            radix_tree_tag_clear(mapping.page_tree, page.index, PAGECACHE_TAG_WRITEBACK)
    return 1 if ret else 0


# ---- the request queue ---------------------------------------------------------------------------


def bdi_write_congested(k: Kernel) -> bool:
    """bdi_write_congested(bdi): the disk's queue holds at least nr_congestion_on requests.

    Latches ``k.wb.queue_congested`` (set_queue_congested) so that the completion path can
    wake blk_congestion_wait sleepers when the queue drains (clear_queue_congested).
    """
    if k.machine.disk.queue_depth >= NR_CONGESTION_ON:
        k.wb.queue_congested = True
        return True
    return False


def vl_clear_queue_congested(k: Kernel) -> None:
    """clear_queue_congested(q, WRITE): wake congestion waiters once the queue has drained.

    Caller: the write-completion path (end_page_writeback).
    """
    if k.wb.queue_congested and k.machine.disk.queue_depth < NR_CONGESTION_OFF:
        k.wb.queue_congested = False
        wake_up(k, CONGESTION_WAIT_KEY)


def blk_congestion_wait(k: Kernel, task: Task, timeout_ns: int) -> None:
    """blk_congestion_wait(WRITE, timeout): sleep until the queue decongests or the timeout.

    Caller: an op that then returns KOP_BLOCKED.
    """
    sleep_on(k, task, CONGESTION_WAIT_KEY)
    k.schedule_timeout(task, timeout_ns)


# ---- dirty limits -------------------------------------------------------------------------------


def nr_free_pagecache_pages(k: Kernel) -> int:
    """nr_free_pagecache_pages(): present_pages - pages_high over the zones (one zone)."""
    zone = k.pgdat.zone
    size = zone.present_pages
    high = zone.pages_high
    return size - high if size > high else 0


def set_ratelimit(k: Kernel) -> None:
    """set_ratelimit(): total_pages / (ncpus * 32), clamped to [16, 4 MiB / PAGE_SIZE]."""
    wb = k.wb
    rl = wb.total_pages // 32
    if rl < 16:
        rl = 16
    if rl * PAGE_CACHE_SIZE > 4096 * 1024:
        rl = (4096 * 1024) // PAGE_CACHE_SIZE
    wb.ratelimit_pages = rl


def page_writeback_init(k: Kernel) -> None:
    """page_writeback_init(): total_pages, the highmem correction, wb_timer, set_ratelimit.

    The model has no highmem, so buffer_pages == total_pages and the correction (400 %) never
    scales the ratios.
    """
    wb = k.wb
    wb.total_pages = max(nr_free_pagecache_pages(k), 1)
    buffer_pages = wb.total_pages
    correction = (100 * 4 * buffer_pages) // wb.total_pages
    if correction < 100:
        k.cfg.dirty_background_ratio = k.cfg.dirty_background_ratio * correction // 100
        k.cfg.dirty_ratio = k.cfg.dirty_ratio * correction // 100
    mod_timer_wb(k, k.now() + k.cfg.dirty_writeback_centisecs * CENTISEC_NS)
    set_ratelimit(k)


def get_dirty_limits(k: Kernel, task: Task | None = None) -> tuple[int, int]:
    """get_dirty_limits(): the background and dirty thresholds in pages.

    dirty_ratio is clamped to half the unmapped memory (never below 5 %); the background
    ratio is halved to dirty_ratio/2 if not below it; PF_LESS_THROTTLE tasks get +25 %.

    Returns:
        (background_thresh, dirty_thresh).
    """
    total = k.wb.total_pages
    bug_on(total <= 0, "get_dirty_limits: total_pages not initialised")
    unmapped_ratio = 100 - (k.vmstat.nr_mapped * 100) // total
    dirty_ratio = k.cfg.dirty_ratio
    if dirty_ratio > unmapped_ratio // 2:
        dirty_ratio = unmapped_ratio // 2
    if dirty_ratio < 5:
        dirty_ratio = 5
    background_ratio = k.cfg.dirty_background_ratio
    if background_ratio >= dirty_ratio:
        background_ratio = dirty_ratio // 2
    background = (background_ratio * total) // 100
    dirty = (dirty_ratio * total) // 100
    if task is not None and (task.flags & PF_LESS_THROTTLE) != 0:
        background += background // 4
        dirty += dirty // 4
    return background, dirty


def vl_nr_inodes_in_use(k: Kernel) -> int:
    """inodes_stat.nr_inodes - inodes_stat.nr_unused: every inode of the model is in use."""
    return len(k.sb.s_inodes)


# ---- balance_dirty_pages ------------------------------------------------------------------------

class BalanceDirtyPagesOp(Frame):
    """balance_dirty_pages(mapping): make a writer write back, or wait, above dirty_ratio.

    Loops: stop when nr_dirty + nr_unstable + nr_writeback <= dirty_thresh; otherwise set
    dirty_exceeded, writeback_inodes with nr_to_write = 1.5 x ratelimit_pages (WB_SYNC_NONE),
    re-check, stop once the chunk is written; blk_congestion_wait(WRITE, HZ/10) between
    passes. Afterwards start background_writeout in pdflush above background_thresh unless
    a pdflush already works the queue. Time spent above the limit is ``throttled_ns``.
    Phases (resume points): 0 the top of the for loop; 1 writeback_inodes returned; 2 after
    the loop.
    """

    KIND = "balance_dirty_pages"
    FIELDS = (("host", "int"), ("write_chunk", "int"), ("pages_written", "int"),
              ("nr_reclaimable", "int"), ("nr_writeback", "int"), ("background_thresh", "int"),
              ("dirty_thresh", "int"), ("start_ns", "int"), ("wbc", "wbc"),
              ("sb_frame", "callee"))  # fmt: skip

    def __init__(self, host: int = 0, write_chunk: int = 0) -> None:
        super().__init__("balance_dirty_pages")
        self.host = host
        self.write_chunk = write_chunk
        self.pages_written = 0
        self.nr_reclaimable = 0
        self.nr_writeback = 0
        self.background_thresh = 0
        self.dirty_thresh = 0
        self.start_ns = -1
        self.wbc: WritebackControl | None = None
        self.sb_frame: SyncSbInodes | None = None

    def _under_limit(self, k: Kernel, task: Task) -> bool:
        """get_dirty_limits(); nr_reclaimable + ps.nr_writeback <= dirty_thresh."""
        self.background_thresh, self.dirty_thresh = get_dirty_limits(k, task)
        self.nr_reclaimable = k.vmstat.nr_dirty + k.vmstat.nr_unstable
        self.nr_writeback = k.vmstat.nr_writeback
        return self.nr_reclaimable + self.nr_writeback <= self.dirty_thresh

    def step(self, k: Kernel, task: Task) -> int:
        from kernelmodel.fs.fs_writeback import vl_writeback_inodes_frame

        wb = k.wb
        if self.phase == 0:  # for (;;) {
            if self._under_limit(k, task):
                self.phase = 2  # break;
                return KOP_CONTINUE
            wb.dirty_exceeded = True
            if self.start_ns < 0:
                self.start_ns = k.now()
                k.trace.emit(k.now(), TR_THROTTLE, task.pid, self.nr_reclaimable,
                             self.dirty_thresh, "begin")
            if not self.nr_reclaimable:
                blk_congestion_wait(k, task, CONGESTION_WAIT_NS)
                return KOP_BLOCKED
            self.wbc = WritebackControl(WB_SYNC_NONE, self.write_chunk)
            self.sb_frame = vl_writeback_inodes_frame(k, self.wbc)
            self.phase = 1
            if self.sb_frame is not None:
                vl_push(task, self.sb_frame)  # writeback_inodes(&wbc);
            return KOP_CONTINUE
        if self.phase == 1:
            assert self.wbc is not None
            self.sb_frame = None
            if not self._under_limit(k, task):
                self.pages_written += self.write_chunk - self.wbc.nr_to_write
                if self.pages_written < self.write_chunk:  # else: We've done our duty
                    self.phase = 0
                    blk_congestion_wait(k, task, CONGESTION_WAIT_NS)
                    return KOP_BLOCKED
            self.phase = 2
            return KOP_CONTINUE
        if self.nr_reclaimable + self.nr_writeback <= self.dirty_thresh:
            wb.dirty_exceeded = False
        if self.start_ns >= 0:
            waited = k.now() - self.start_ns
            k.vmstat.throttled_ns += waited
            k.trace.emit(k.now(), TR_THROTTLE, task.pid, self.pages_written, waited, "end")
        if wb.bdi_pdflush:
            return KOP_DONE  # pdflush is already working this queue
        if (wb.laptop_mode and self.pages_written) or (
            not wb.laptop_mode and self.nr_reclaimable > self.background_thresh
        ):
            from kernelmodel.mm.pdflush import PDFLUSH_BACKGROUND_WRITEOUT, pdflush_operation

            pdflush_operation(k, PDFLUSH_BACKGROUND_WRITEOUT, 0)
        return KOP_DONE

    def describe(self) -> str:
        done = f"{self.pages_written} of {self.write_chunk} written"
        return f"balance_dirty_pages: throttled ({done})"


def sync_writeback_pages(k: Kernel) -> int:
    """sync_writeback_pages(): ratelimit_pages + ratelimit_pages / 2."""
    rl = k.wb.ratelimit_pages
    return rl + rl // 2


def balance_dirty_pages_ratelimited(k: Kernel, task: Task, mapping: AddressSpace) -> KOp | None:
    """balance_dirty_pages_ratelimited(mapping): called for every page a writer dirties.

    Every ratelimit_pages calls (8 while dirty_exceeded; the counter test is ``count++ >=
    ratelimit``, so the op comes on the call after that many) it resets the counter.

    Returns:
        A BalanceDirtyPagesOp the caller must push and run (the writer throttles in it), or
        None when no check is due.
    """
    wb = k.wb
    ratelimit = DIRTY_EXCEEDED_RATELIMIT if wb.dirty_exceeded else wb.ratelimit_pages
    count = wb.ratelimits
    wb.ratelimits = count + 1
    if count >= ratelimit:
        wb.ratelimits = 0
        k.vmstat.balance_dirty_pages += 1
        return BalanceDirtyPagesOp(mapping.host, sync_writeback_pages(k))
    return None


# ---- the work pdflush does: background_writeout and wb_kupdate ---------------------------------

@final
class BackgroundWriteout(Frame):
    """The locals of background_writeout(min_pages) (mm/page-writeback.c, 2.6.6).

    Repeats writeback_inodes in MAX_WRITEBACK_PAGES chunks (nonblocking) until nr_dirty +
    nr_unstable < background_thresh and min_pages <= 0. After a pass that wrote less than
    asked or skipped pages it waits HZ/10 and stops if no congestion was seen. 2.6.5 (the
    ``lists`` writeback) stops at once after a short pass unless it met congestion, and only
    then waits HZ/10 and goes on. Phases (resume points): 0 the top of the for loop;
    1 writeback_inodes returned; 2 blk_congestion_wait returned.
    """

    KIND = "background_writeout"
    FIELDS = (("min_pages", "int"), ("wbc", "wbc"), ("sb_frame", "callee"))

    def __init__(self, min_pages: int = 0) -> None:
        super().__init__("background_writeout")
        self.min_pages = min_pages
        self.wbc = WritebackControl(WB_SYNC_NONE, 0, True)
        self.sb_frame: SyncSbInodes | None = None

    def step(self, k: Kernel, task: Task) -> int:
        from kernelmodel.fs.fs_writeback import vl_writeback_inodes_frame

        wbc = self.wbc
        while True:
            if self.phase == 0:  # for ( ; ; ) {
                background, _dirty = get_dirty_limits(k, task)
                if k.vmstat.nr_dirty + k.vmstat.nr_unstable < background and self.min_pages <= 0:
                    return KOP_DONE
                wbc.encountered_congestion = False
                wbc.nr_to_write = MAX_WRITEBACK_PAGES
                wbc.pages_skipped = 0
                self.sb_frame = vl_writeback_inodes_frame(k, wbc)
                self.phase = 1
                if self.sb_frame is not None:
                    return vl_call(task, self.sb_frame)  # writeback_inodes(&wbc);
            if self.phase == 1:
                self.sb_frame = None
                self.min_pages -= MAX_WRITEBACK_PAGES - wbc.nr_to_write
                if k.cfg.writeback == "lists" and wbc.nr_to_write > 0:
                    # 2.6.5: wrote less than asked: wait only if it met congestion, else stop
                    if not wbc.encountered_congestion:
                        return KOP_DONE
                    self.phase = 0
                    blk_congestion_wait(k, task, CONGESTION_WAIT_NS)
                    return KOP_BLOCKED
                if k.cfg.writeback != "lists" and (wbc.nr_to_write > 0 or wbc.pages_skipped > 0):
                    self.phase = 2  # Wrote less than expected
                    blk_congestion_wait(k, task, CONGESTION_WAIT_NS)
                    return KOP_BLOCKED
                self.phase = 0
                return KOP_CONTINUE
            if not wbc.encountered_congestion:
                return KOP_DONE
            self.phase = 0


@final
class WbKupdate(Frame):
    """The locals of wb_kupdate() (mm/page-writeback.c, 2.6.6: "fix the kupdate function").

    Writes inodes dirtied more than dirty_expire_centisecs ago in MAX_WRITEBACK_PAGES chunks
    (for_kupdate, nonblocking) until nothing old is left, waiting out congestion, then re-arms
    wb_timer dirty_writeback_centisecs after its start, or 1 s from now if it overran.
    Phases (resume points): 0 entry; 1 the while condition; 2 writeback_inodes returned.
    """

    KIND = "wb_kupdate"
    FIELDS = (("oldest_jif", "int"), ("start_jif", "int"), ("next_jif", "int"),
              ("nr_to_write", "int"), ("wbc", "wbc"), ("sb_frame", "callee"))  # fmt: skip

    def __init__(self) -> None:
        super().__init__("wb_kupdate")
        self.oldest_jif = 0
        self.start_jif = 0
        self.next_jif = 0
        self.nr_to_write = 0
        self.wbc = WritebackControl(WB_SYNC_NONE, 0, True, False, True)
        self.sb_frame: SyncSbInodes | None = None

    def step(self, k: Kernel, task: Task) -> int:
        from kernelmodel.fs.fs_writeback import vl_writeback_inodes_frame

        wbc = self.wbc
        if self.phase == 0:
            now = k.now()
            self.oldest_jif = now - k.cfg.dirty_expire_centisecs * CENTISEC_NS
            self.start_jif = now
            self.next_jif = now + k.cfg.dirty_writeback_centisecs * CENTISEC_NS
            self.nr_to_write = k.vmstat.nr_dirty + k.vmstat.nr_unstable + vl_nr_inodes_in_use(k)
            wbc.older_than_this = self.oldest_jif
            self.phase = 1
        if self.phase == 1 and self.nr_to_write > 0:  # while (nr_to_write > 0) {
            wbc.encountered_congestion = False
            wbc.nr_to_write = MAX_WRITEBACK_PAGES
            self.sb_frame = vl_writeback_inodes_frame(k, wbc)
            self.phase = 2
            if self.sb_frame is not None:
                return vl_call(task, self.sb_frame)  # writeback_inodes(&wbc);
        if self.phase == 2:
            self.sb_frame = None
            if wbc.nr_to_write <= 0 or wbc.encountered_congestion:  # else: all old data written
                # (the C subtracts after the wait: the same, as nothing changes wbc meanwhile)
                self.nr_to_write -= MAX_WRITEBACK_PAGES - wbc.nr_to_write
                self.phase = 1
                if wbc.nr_to_write > 0:
                    blk_congestion_wait(k, task, CONGESTION_WAIT_NS)
                    return KOP_BLOCKED
                return KOP_CONTINUE
        now = k.now()
        if self.next_jif < now + HZ_NS:
            self.next_jif = now + HZ_NS
        if k.cfg.dirty_writeback_centisecs:
            mod_timer_wb(k, self.next_jif)
        return KOP_DONE


def wakeup_bdflush(k: Kernel, nr_pages: int) -> int:
    """wakeup_bdflush(nr_pages): background_writeout(nr_pages) in pdflush (0 = all dirty)."""
    from kernelmodel.mm.pdflush import PDFLUSH_BACKGROUND_WRITEOUT, pdflush_operation

    if nr_pages == 0:
        nr_pages = k.vmstat.nr_dirty + k.vmstat.nr_unstable
    return pdflush_operation(k, PDFLUSH_BACKGROUND_WRITEOUT, nr_pages)


def mod_timer_wb(k: Kernel, expires: int) -> None:
    """mod_timer(&wb_timer, expires): (re)arm TIMER_KUPDATE on the clock."""
    wb = k.wb
    clock = k.machine.clock
    if wb.wb_timer_seq >= 0:
        clock.cancel(wb.wb_timer_seq)
    wb.wb_timer_expires = max(expires, k.now())
    wb.wb_timer_seq = clock.schedule(wb.wb_timer_expires, EV_TIMER, TIMER_KUPDATE, 0)


def wb_timer_fn(k: Kernel) -> None:
    """wb_timer_fn(): the wb_timer fired; start wb_kupdate in pdflush, or retry in 1 s.

    Caller: Kernel.handle_timer(TIMER_KUPDATE).
    """
    from kernelmodel.mm.pdflush import PDFLUSH_WB_KUPDATE, pdflush_operation

    wb = k.wb
    wb.wb_timer_seq = -1
    wb.wb_timer_expires = -1
    if pdflush_operation(k, PDFLUSH_WB_KUPDATE, 0) < 0:
        mod_timer_wb(k, k.now() + HZ_NS)


def vl_start_pdflush(k: Kernel) -> None:
    """Boot: pdflush_init (MIN_PDFLUSH_THREADS threads) and page_writeback_init.

    Caller: start_kernel, after the page allocator and the filesystem are set up.
    """
    from kernelmodel.mm.pdflush import MIN_PDFLUSH_THREADS, start_one_pdflush_thread

    for _ in range(MIN_PDFLUSH_THREADS):
        start_one_pdflush_thread(k)
    page_writeback_init(k)
