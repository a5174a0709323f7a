"""The 2.6.5 list walks: mpage_writepages over io_pages and filemap_fdatawait over locked_pages.

Models fs/mpage.c ``mpage_writepages`` and mm/filemap.c ``filemap_fdatawait`` of 2.6.5
run when ``k.cfg.writeback == "lists"``. They use the frames of the
2.6.6 walks (``MpageWritepages``, ``WaitOnPageWritebackRange``) and their phases, so every
caller, snapshot and preemption point is shared.

mpage_writepages (2.6.5):
    1. the splice __sync_single_inode / __filemap_fdatawrite do just before do_writepages
       (page_lists.vl_splice_for_writeback; the model does it when the walk starts);
    2. nonblocking and congested: ``encountered_congestion``, return;
    3. while io_pages is not empty and not ``done``, take the TAIL (the oldest-dirtied page):
       under writeback in WB_SYNC_NONE -> back to dirty_pages if dirty, else locked_pages;
       clean -> clean_pages; dirty -> locked_pages BEFORE it is locked; then lock_page,
       wait_on_page_writeback if sync, and if still ours, not under writeback and
       ``test_clear_page_dirty`` (which clears the flag only), ->writepage; ``done`` on an
       error, when ``--nr_to_write <= 0`` or on congestion when nonblocking;
    4. pages left stay on io_pages; the pending bio is submitted.

filemap_fdatawait (2.6.5): while locked_pages is not empty, take the HEAD, move it first to
dirty_pages (if PG_dirty) or clean_pages, and only then, if it is under writeback, wait on it.
This is the loop that loses Race A (a page locked and cleaned by pdflush but not yet under
writeback is taken off the list without a wait), Race B (a second waiter finds the list
empty while the first still waits) and livelocks (D: writeback that keeps refilling
locked_pages keeps it going).

Step accounting is the tag walks': each page taken off a list counts in ``visited`` and
costs MPAGE_PAGE_NS, and a walk yields (KOP_CONTINUE) after PAGEVEC_SIZE pages, as the tag
walks do after each pagevec.

Invariants:
    * ``pvec`` holds at most the one page being written or waited on, with a reference;
    * a page the walk is writing sits on locked_pages (unless truncate took it off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.mpage import (
    MPAGE_PAGE_NS,
    MpageWritepages,
    mpage_bio_submit,
    mpage_writepage,
    pagevec_release,
)
from kernelmodel.include.page import PageDirty, PageError, PageWriteback, get_page
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Task
from kernelmodel.mm.filemap import AS_EIO, AS_ENOSPC, PAGEVEC_SIZE, mapping_test_clear_error
from kernelmodel.mm.page_lists import (
    PL_CLEAN,
    PL_DIRTY,
    PL_LOCKED,
    PL_NONE,
    list_add,
    vl_splice_for_writeback,
)
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    bdi_write_congested,
    test_clear_page_dirty,
)
from kernelmodel.mm.pagemap import unlock_page, vl_lock_page, vl_wait_on_page_writeback

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap_wb import WaitOnPageWritebackRange

EIO: Final = 5
ENOSPC: Final = 28


def vl_mpage_writepages_265(k: Kernel, task: Task, walk: MpageWritepages) -> int:
    """mpage_writepages (fs/mpage.c, 2.6.5) on the frame's locals; results as its ``step``.

    Phases as the tag walk's: 0 entry, 1 the while condition (take the tail of io_pages),
    2 lock_page, 3 wait_on_page_writeback and the checks, 4 ->writepage. ``pvec`` holds the
    one page being written.
    """
    wbc = walk.wbc
    mapping = walk.mapping
    if walk.phase == 0:
        # the caller's dirty_pages -> io_pages splice, done as the walk starts
        vl_splice_for_writeback(k, mapping, wbc.sync_mode == WB_SYNC_ALL, wbc.for_kupdate)
        if wbc.nonblocking and bdi_write_congested(k):
            wbc.encountered_congestion = True
            return KOP_DONE
        walk.phase = 1
    taken = 0
    while True:
        if walk.phase == 1:  # while (!list_empty(&mapping->io_pages) && !done) {
            if walk.done or not mapping.io_pages:
                break
            if taken >= PAGEVEC_SIZE:
                return KOP_CONTINUE
            taken += 1
            k.charge(MPAGE_PAGE_NS)
            walk.visited += 1
            page = k.mem_map.pages[mapping.io_pages.pop()]  # the tail: io_pages.prev
            page.list_id = PL_NONE
            if PageWriteback(page) and wbc.sync_mode == WB_SYNC_NONE:
                list_add(mapping, page, PL_DIRTY if PageDirty(page) else PL_LOCKED)
                continue
            if not PageDirty(page):
                list_add(mapping, page, PL_CLEAN)
                continue
            list_add(mapping, page, PL_LOCKED)
            get_page(page)  # page_cache_get(page);
            walk.pvec, walk.i = [page], 0
            walk.phase = 2
        if walk.phase == 2:  # lock_page(page);
            if not vl_lock_page(k, task, walk.pvec[0]):
                return KOP_BLOCKED
            walk.phase = 3
        if walk.phase == 3:  # if (sync) wait_on_page_writeback(page);
            page = walk.pvec[0]
            if wbc.sync_mode != WB_SYNC_NONE and not vl_wait_on_page_writeback(k, task, page):
                return KOP_BLOCKED
            if not (page.mapping is mapping and not PageWriteback(page)
                    and test_clear_page_dirty(k, page)):
                unlock_page(k, page)
                pagevec_release(k, walk.pvec)  # page_cache_release(page);
                walk.pvec, walk.i = [], 0
                walk.phase = 1
                continue
            walk.phase = 4
            if k.preempt_point(task, "mpage_writepages:after_clear_dirty"):
                return KOP_BLOCKED
        if walk.phase == 4:  # bio = mpage_writepage(bio, page, ..., &ret, wbc);
            walk.ret = mpage_writepage(k, walk, walk.pvec[0], wbc)
            walk.written += 1
            wbc.nr_to_write -= 1  # (the model counts down on an error too)
            if walk.ret != 0 or wbc.nr_to_write <= 0:
                walk.done = True
            if wbc.nonblocking and bdi_write_congested(k):
                wbc.encountered_congestion = True
                walk.done = True
            pagevec_release(k, walk.pvec)  # page_cache_release(page);
            walk.pvec, walk.i = [], 0
            walk.phase = 1
            if k.preempt_point(task, "mpage_writepages:after_writepage"):
                return KOP_BLOCKED
    # Leave any remaining dirty pages on ->io_pages
    if walk.bio_pages:
        mpage_bio_submit(k, walk)
    walk.result = walk.ret
    return KOP_DONE


# ---- filemap_fdatawait (2.6.5) ------------------------------------------------------------------


def vl_filemap_fdatawait_265(k: Kernel, task: Task, w: WaitOnPageWritebackRange) -> int:
    """filemap_fdatawait(mapping) (mm/filemap.c, 2.6.5) on the frame's locals; results as
    its ``step``. Phases: 0 take the head of locked_pages (the while condition), 1 wait on
    the page held in ``pvec``.
    """
    mapping = w.mapping
    taken = 0
    while True:
        if w.phase == 0:  # while (!list_empty(&mapping->locked_pages)) {
            if not mapping.locked_pages:
                break
            if taken >= PAGEVEC_SIZE:
                return KOP_CONTINUE
            taken += 1
            w.visited += 1
            page = k.mem_map.pages[mapping.locked_pages.pop(0)]
            page.list_id = PL_NONE
            list_add(mapping, page, PL_DIRTY if PageDirty(page) else PL_CLEAN)
            if not PageWriteback(page):
                continue
            get_page(page)  # page_cache_get(page);
            w.pvec, w.i = [page], 0
            w.phase = 1
        if w.phase == 1:  # wait_on_page_writeback(page);
            page = w.pvec[0]
            if not vl_wait_on_page_writeback(k, task, page):
                return KOP_BLOCKED
            if PageError(page):
                w.ret = -EIO
            pagevec_release(k, w.pvec)  # page_cache_release(page);
            w.pvec, w.i = [], 0
            w.phase = 0
    # Check for outstanding write errors
    if mapping_test_clear_error(mapping, AS_ENOSPC):
        w.ret = -ENOSPC
    if mapping_test_clear_error(mapping, AS_EIO):
        w.ret = -EIO
    w.result = w.ret
    return KOP_DONE
