"""Data-integrity writeback helpers of the page cache (mm/filemap.c, mm/page-writeback.c, 2.6.6).

``end_page_writeback`` (I/O completion), ``__filemap_fdatawrite`` with ``filemap_fdatawrite``
(WB_SYNC_ALL) and ``filemap_flush`` (WB_SYNC_NONE), ``wait_on_page_writeback_range`` with
``filemap_fdatawait``, and ``filemap_write_and_wait``.

``wait_on_page_writeback_range`` walks the WRITEBACK tag from its start in pagevecs of
``min(end - index, PAGEVEC_SIZE - 1) + 1`` and waits on each page found. The cursor only
moves forward, so the walk is bounded by the pages under writeback ahead of it: unlike 2.6.5's
``locked_pages`` loop it cannot be livelocked by concurrent writeback. Afterwards AS_ENOSPC and
AS_EIO are test-and-cleared on the mapping and take precedence as the result.

In the 2.6.5 list mode (``k.cfg.writeback == "lists"``) the same frames run 2.6.5's logic:
``__filemap_fdatawrite`` splices dirty_pages onto io_pages and walks io_pages (mpage_lists.py),
and ``filemap_fdatawait`` loops while ``locked_pages`` is not empty, taking each page off the
list before waiting on it (mpage_lists.vl_filemap_fdatawait_265): the loop behind Race A, Race B
and livelock D.

``Fdatawrite``, ``WaitOnPageWritebackRange`` and ``WriteAndWait`` are the frames of those C
calls (task.py's protocol); a caller calls or pushes them on its task's stack.

Invariants:
    * ``WaitOnPageWritebackRange.index`` never decreases;
    * ``pvec`` pages hold the lookup reference until the pagevec is released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.fs.mpage import (
    NO_MAPPING,
    MpageWritepages,
    pagevec_release,
    vl_do_writepages_frame,
)
from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import Page, PageError, TestClearPageReclaim
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    Frame,
    KOp,
    Task,
    vl_call,
    vl_push,
)
from kernelmodel.kernel.wait import wake_up_page
from kernelmodel.mm.filemap import (
    AS_EIO,
    AS_ENOSPC,
    PAGECACHE_TAG_WRITEBACK,
    PAGEVEC_SIZE,
    AddressSpace,
    find_get_pages_tag,
    mapping_test_clear_error,
)
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    WritebackControl,
    test_clear_page_writeback,
    vl_clear_queue_congested,
)
from kernelmodel.mm.pagemap import vl_wait_on_page_writeback

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

EIO: Final = 5
ENOSPC: Final = 28
#: ~0UL on i386: the end of filemap_fdatawait's range.
PGOFF_MAX: Final = 0xFFFFFFFF


def end_page_writeback(k: Kernel, page: Page) -> None:
    """end_page_writeback(page): I/O on the page completed.

    If PG_reclaim was set, rotate_reclaimable_page moves a clean inactive page to the tail
    of the inactive list and clears writeback itself (returns 0); otherwise
    test_clear_page_writeback clears PG_writeback and the WRITEBACK tag. Then the page's
    writeback waiters are woken.

    Caller: bio completion (bio.py), or a ->writepage that wrote nothing.
    """
    if not TestClearPageReclaim(page) or _rotate_reclaimable_page(k, page) != 0:
        cleared = test_clear_page_writeback(k, page)
        bug_on(not cleared, "end_page_writeback: page not under writeback")
    wake_up_page(k, page, False)
    vl_clear_queue_congested(k)


def _rotate_reclaimable_page(k: Kernel, page: Page) -> int:
    """rotate_reclaimable_page (mm/swap.c, the reclaim part): 0 when it rotated the page."""
    from kernelmodel.mm.swap import rotate_reclaimable_page

    return rotate_reclaimable_page(k, page)


# ---- __filemap_fdatawrite ----------------------------------------------------------------------

@final
class Fdatawrite(Frame):
    """The frame of __filemap_fdatawrite(mapping, sync_mode) (mm/filemap.c, 2.6.6).

    A writeback_control with nr_to_write = 2 x nrpages (taken when the call is made), then
    do_writepages (mpage_writepages). ``ret`` holds the result once it returns. Phases: 0
    the call, 1 do_writepages returned.
    """

    KIND = "__filemap_fdatawrite"
    FIELDS = (("mapping", "mapping"), ("wbc", "wbc"), ("walk", "callee"), ("ret", "int"),
              ("visited", "int"))  # fmt: skip

    def __init__(self) -> None:
        super().__init__("filemap_fdatawrite")
        self.mapping = NO_MAPPING
        self.wbc = WritebackControl(WB_SYNC_ALL, 0)
        self.walk: MpageWritepages | None = None
        self.ret = 0
        self.visited = 0

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:  # ret = do_writepages(mapping, &wbc);
            self.walk = vl_do_writepages_frame(k, self.mapping, self.wbc)
            self.phase = 1
            if self.walk is not None:
                return vl_call(task, self.walk)
        if self.walk is not None:
            self.ret = self.walk.ret
            self.visited = self.walk.visited
            self.walk = None
        self.result = self.ret
        return KOP_DONE

    def visited_so_far(self) -> int:
        """Pages looked up by the walk so far."""
        return self.walk.visited if self.walk is not None else self.visited

    def describe(self) -> str:
        return "filemap_fdatawrite" if self.walk is None else self.walk.describe()


def vl_fdatawrite(mapping: AddressSpace, sync_mode: int) -> Fdatawrite:
    """A frame for __filemap_fdatawrite(mapping, sync_mode): nr_to_write is taken now."""
    f = Fdatawrite()
    f.name = "filemap_fdatawrite" if sync_mode == WB_SYNC_ALL else "filemap_flush"
    f.mapping = mapping
    f.wbc = WritebackControl(sync_mode, mapping.nrpages * 2)
    return f


def vl_mapping_of(k: Kernel, ino: int) -> AddressSpace:
    """The page cache of inode ``ino`` (state restore; ValueError when it is gone)."""
    inode = k.sb.s_inodes.get(ino)
    if inode is None:
        raise ValueError(f"writeback state: no inode {ino}")
    return inode.i_mapping


# ---- wait_on_page_writeback_range ---------------------------------------------------------------

@final
class WaitOnPageWritebackRange(Frame):
    """The frame of wait_on_page_writeback_range(mapping, start, end) (mm/filemap.c, 2.6.6).

    ``visited`` counts the pages looked up (fsync_pages_visited); ``ret`` holds the result.
    Phases: 0 the lookup of the next pagevec (the while condition), 1 waiting on its pages.
    """

    KIND = "wait_on_page_writeback_range"
    FIELDS = (("mapping", "mapping"), ("start", "int"), ("end", "int"), ("index", "int"),
              ("pvec", "pages"), ("i", "int"), ("ret", "int"), ("visited", "int"))  # fmt: skip

    def __init__(self, mapping: AddressSpace = NO_MAPPING, start: int = 0, end: int = 0) -> None:
        super().__init__("filemap_fdatawait")
        self.mapping = mapping
        self.start = start
        self.end = end
        self.index = start
        self.pvec: list[Page] = []
        self.i = 0
        self.ret = 0
        self.visited = 0

    def step(self, k: Kernel, task: Task) -> int:
        if k.cfg.writeback == "lists":
            from kernelmodel.fs.mpage_lists import vl_filemap_fdatawait_265

            return vl_filemap_fdatawait_265(k, task, self)
        if self.end < self.start:
            return KOP_DONE
        if self.phase == 0:  # while ((nr_pages = pagevec_lookup_tag(&pvec, ...)) != 0) {
            nr = min(self.end - self.index, PAGEVEC_SIZE - 1) + 1
            pages, index = find_get_pages_tag(self.mapping, self.index,
                                              PAGECACHE_TAG_WRITEBACK, nr)
            if pages:
                self.index, self.pvec, self.i = index, pages, 0
                self.visited += len(pages)
                self.phase = 1
        if self.phase == 1:
            while self.i < len(self.pvec):  # for (i = 0; i < nr_pages; i++) {
                page = self.pvec[self.i]
                if not vl_wait_on_page_writeback(k, task, page):
                    return KOP_BLOCKED
                if PageError(page):
                    self.ret = -EIO
                self.i += 1
            pagevec_release(k, self.pvec)
            self.pvec, self.i = [], 0
            self.phase = 0
            return KOP_CONTINUE  # cond_resched();
        # Check for outstanding write errors
        if mapping_test_clear_error(self.mapping, AS_ENOSPC):
            self.ret = -ENOSPC
        if mapping_test_clear_error(self.mapping, AS_EIO):
            self.ret = -EIO
        self.result = self.ret
        return KOP_DONE

    def describe(self) -> str:
        if self.phase == 1 and self.i < len(self.pvec):
            return f"filemap_fdatawait: page {self.pvec[self.i].index} of inode {self.mapping.host}"
        return f"filemap_fdatawait: inode {self.mapping.host} from index {self.index}"


def vl_fdatawait_frame(mapping: AddressSpace) -> WaitOnPageWritebackRange:
    """filemap_fdatawait(mapping) = wait_on_page_writeback_range(mapping, 0, ~0) as a frame."""
    return WaitOnPageWritebackRange(mapping, 0, PGOFF_MAX)


# ---- filemap_write_and_wait ---------------------------------------------------------------------

@final
class WriteAndWait(Frame):
    """The frame of filemap_write_and_wait(mapping) (mm/filemap.c, 2.6.6): if the mapping has
    pages, filemap_fdatawrite, then filemap_fdatawait if that worked. ``nr_to_write`` is the
    fdatawrite's, taken when the call is made. Phases: 0 the call, 1 filemap_fdatawrite
    returned, 2 filemap_fdatawait returned."""

    KIND = "filemap_write_and_wait"
    FIELDS = (("mapping", "mapping"), ("nr_to_write", "int"), ("write", "callee"),
              ("wait", "callee"))  # fmt: skip

    def __init__(self) -> None:
        super().__init__("filemap_write_and_wait")
        self.mapping = NO_MAPPING
        self.nr_to_write = 0
        self.write: Fdatawrite | None = None
        self.wait: WaitOnPageWritebackRange | None = None

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:
            if self.nr_to_write == 0:  # if (mapping->nrpages) {
                return KOP_DONE
            self.write = vl_fdatawrite(self.mapping, WB_SYNC_ALL)
            self.write.wbc.nr_to_write = self.nr_to_write
            self.phase = 1
            return vl_call(task, self.write)  # retval = filemap_fdatawrite(mapping);
        if self.phase == 1:
            assert self.write is not None
            self.result = self.write.ret
            self.write = None
            if self.result != 0:  # if (retval == 0)
                return KOP_DONE
            self.wait = vl_fdatawait_frame(self.mapping)
            self.phase = 2
            vl_push(task, self.wait)  # retval = filemap_fdatawait(mapping);
            return KOP_CONTINUE
        assert self.wait is not None
        self.result = self.wait.ret
        self.wait = None
        return KOP_DONE

    def describe(self) -> str:
        callee = self.write if self.write is not None else self.wait
        return callee.describe() if callee is not None else self.name


def filemap_fdatawrite(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_fdatawrite(mapping): start data-integrity writeback (WB_SYNC_ALL), a frame."""
    return vl_fdatawrite(mapping, WB_SYNC_ALL)


def filemap_flush(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_flush(mapping): start memory-cleansing writeback (WB_SYNC_NONE), a frame."""
    return vl_fdatawrite(mapping, WB_SYNC_NONE)


def filemap_fdatawait(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_fdatawait(mapping): wait for every page under writeback, a frame."""
    return vl_fdatawait_frame(mapping)


def filemap_write_and_wait(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_write_and_wait(mapping), a frame."""
    f = WriteAndWait()
    f.mapping = mapping
    f.nr_to_write = mapping.nrpages * 2
    return f
