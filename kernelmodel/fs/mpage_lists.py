"""The 2.6.5 list walks: mpage_writepages over io_pages and filemap_fdatawait over locked_pages.

Models fs/mpage.c ``mpage_writepages`` and mm/filemap.c ``filemap_fdatawait`` of 2.6.5
run when ``k.cfg.writeback == "lists"``. They use the frames of the
2.6.6 walks (``MpageWritepages``, ``WaitOnPageWritebackRange``), so every caller, snapshot
and preemption point is shared; the phases below ``ML_FIRST`` belong to the tag walks.

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
    ML_CHECK,
    ML_FINISH,
    ML_LOCK,
    ML_PICK,
    ML_WAIT_WB,
    ML_WRITE,
    MPAGE_PAGE_NS,
    MpageWritepages,
    mpage_bio_submit,
    mpage_writepage,
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
    WritebackControl,
    bdi_write_congested,
    test_clear_page_dirty,
)
from kernelmodel.mm.pagemap import unlock_page, vl_lock_page, vl_wait_on_page_writeback

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap_wb import WaitOnPageWritebackRange

EIO: Final = 5
ENOSPC: Final = 28


def vl_mpage_lists_start(k: Kernel, walk: MpageWritepages, wbc: WritebackControl) -> int:
    """mpage_writepages (2.6.5) entry: the caller's splice, then the congestion test.

    Returns:
        KOP_DONE when the walk gave up on congestion, else KOP_CONTINUE (phase ML_PICK).
    """
    vl_splice_for_writeback(k, walk.mapping, wbc.sync_mode == WB_SYNC_ALL, wbc.for_kupdate)
    if wbc.nonblocking and bdi_write_congested(k):
        wbc.encountered_congestion = True
        walk.ret = 0
        walk.phase = ML_FINISH
        return KOP_DONE
    walk.phase = ML_PICK
    return KOP_CONTINUE


def vl_mpage_lists_run(
    k: Kernel, task: Task, walk: MpageWritepages, wbc: WritebackControl
) -> int:
    """Advance the 2.6.5 walk; results as MpageWritepages.run."""
    taken = 0
    while True:
        phase = walk.phase
        if phase == ML_PICK:
            if walk.done or not walk.mapping.io_pages:
                walk.phase = ML_FINISH
                continue
            if taken >= PAGEVEC_SIZE:
                return KOP_CONTINUE
            taken += 1
            _pick(k, walk, wbc)
        elif phase == ML_LOCK:
            if not vl_lock_page(k, task, walk.pvec[0]):
                return KOP_BLOCKED
            walk.phase = ML_WAIT_WB
        elif phase == ML_WAIT_WB:
            page = walk.pvec[0]
            if wbc.sync_mode != WB_SYNC_NONE and not vl_wait_on_page_writeback(k, task, page):
                return KOP_BLOCKED
            walk.phase = ML_CHECK
        elif phase == ML_CHECK:
            if _check(k, walk):
                walk.phase = ML_WRITE
                if k.preempt_point(task, "mpage_writepages:after_clear_dirty"):
                    return KOP_BLOCKED
        elif phase == ML_WRITE:
            _write(k, walk, wbc)
            if k.preempt_point(task, "mpage_writepages:after_writepage"):
                return KOP_BLOCKED
        else:
            _release(k, walk)
            if walk.bio_pages:
                mpage_bio_submit(k, walk)
            return KOP_DONE


def _pick(k: Kernel, walk: MpageWritepages, wbc: WritebackControl) -> None:
    """Take the tail of io_pages and file it; a dirty page goes to ML_LOCK."""
    mapping = walk.mapping
    k.charge(MPAGE_PAGE_NS)
    walk.visited += 1
    pfn = mapping.io_pages.pop()
    page = k.mem_map.pages[pfn]
    page.list_id = PL_NONE
    if PageWriteback(page) and wbc.sync_mode == WB_SYNC_NONE:
        list_add(mapping, page, PL_DIRTY if PageDirty(page) else PL_LOCKED)
        return
    if not PageDirty(page):
        list_add(mapping, page, PL_CLEAN)
        return
    list_add(mapping, page, PL_LOCKED)
    get_page(page)
    walk.pvec = [page]
    walk.i = 0
    walk.phase = ML_LOCK


def _check(k: Kernel, walk: MpageWritepages) -> bool:
    """Still ours, not under writeback, and test_clear_page_dirty: write it; else unlock.

    Returns:
        True when the page is to be written (phase ML_WRITE follows).
    """
    page = walk.pvec[0]
    if page.mapping is walk.mapping and not PageWriteback(page) and test_clear_page_dirty(k, page):
        return True
    unlock_page(k, page)
    _release(k, walk)
    walk.phase = ML_PICK
    return False


def _write(k: Kernel, walk: MpageWritepages, wbc: WritebackControl) -> None:
    """mpage_writepage and the done / congestion tests; drop the walk's reference."""
    page = walk.pvec[0]
    ret = mpage_writepage(k, walk, page, wbc)
    walk.written += 1
    walk.ret = ret
    wbc.nr_to_write -= 1
    if ret != 0 or wbc.nr_to_write <= 0:
        walk.done = True
    if wbc.nonblocking and bdi_write_congested(k):
        wbc.encountered_congestion = True
        walk.done = True
    _release(k, walk)
    walk.phase = ML_PICK


def _release(k: Kernel, walk: MpageWritepages) -> None:
    """page_cache_release of the page the walk holds, if any."""
    from kernelmodel.mm.alloc import page_cache_release

    for page in walk.pvec:
        page_cache_release(k, page)
    walk.pvec = []
    walk.i = 0


# ---- filemap_fdatawait (2.6.5) ------------------------------------------------------------------

WL_LOOKUP: Final = 0
WL_WAIT: Final = 1
WL_FINISH: Final = 2


def vl_fdatawait_lists_run(k: Kernel, task: Task, w: WaitOnPageWritebackRange) -> int:
    """filemap_fdatawait(mapping) of 2.6.5 on the frame's locals; results as its ``run``.

    Phases reuse the frame's: WL_LOOKUP takes the head of locked_pages, WL_WAIT waits on the
    page held in ``pvec``, WL_FINISH test-and-clears the mapping's errors.
    """
    mapping = w.mapping
    taken = 0
    while True:
        if w.phase == WL_LOOKUP:
            if not mapping.locked_pages:
                w.phase = WL_FINISH
                continue
            if taken >= PAGEVEC_SIZE:
                return KOP_CONTINUE
            taken += 1
            w.visited += 1
            page = k.mem_map.pages[mapping.locked_pages.pop(0)]
            page.list_id = PL_NONE
            list_add(mapping, page, PL_DIRTY if PageDirty(page) else PL_CLEAN)
            if not PageWriteback(page):
                continue
            get_page(page)
            w.pvec = [page]
            w.i = 0
            w.phase = WL_WAIT
        elif w.phase == WL_WAIT:
            page = w.pvec[0]
            if not vl_wait_on_page_writeback(k, task, page):
                return KOP_BLOCKED
            if PageError(page):
                w.ret = -EIO
            _release_wait(k, w)
            w.phase = WL_LOOKUP
        else:
            if mapping_test_clear_error(mapping, AS_ENOSPC):
                w.ret = -ENOSPC
            if mapping_test_clear_error(mapping, AS_EIO):
                w.ret = -EIO
            return KOP_DONE


def _release_wait(k: Kernel, w: WaitOnPageWritebackRange) -> None:
    from kernelmodel.mm.alloc import page_cache_release

    for page in w.pvec:
        page_cache_release(k, page)
    w.pvec = []
    w.i = 0
