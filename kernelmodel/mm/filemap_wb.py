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
list before waiting on it (mpage_lists.vl_fdatawait_lists_run): the loop behind Race A, Race B
and livelock D.

The frames (``Fdatawrite``, ``WaitOnPageWritebackRange``) hold the locals of the C calls so a
caller can run them inside its own op (fsync, __sync_single_inode); the ``*Op`` classes wrap
them as ops for callers that push them on a kernel stack.

Invariants:
    * ``WaitOnPageWritebackRange.index`` never decreases;
    * ``pvec`` pages hold the lookup reference until the pagevec is released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.fs.mpage import MpageWritepages, vl_do_writepages_frame
from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import Page, PageError, TestClearPageReclaim
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, KOp, Task
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
    vl_pages_from_pfns,
    vl_state_dict,
    vl_state_int,
    vl_state_int_list,
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
class Fdatawrite:
    """The locals of __filemap_fdatawrite(mapping, sync_mode).

    A writeback_control with nr_to_write = 2 x nrpages (taken when the call is made) and
    do_writepages. ``ret`` holds the result once ``run`` returns KOP_DONE.
    """

    def __init__(self, k: Kernel, mapping: AddressSpace, sync_mode: int) -> None:
        self.mapping = mapping
        self.wbc = WritebackControl(sync_mode, mapping.nrpages * 2)
        self.walk: MpageWritepages | None = vl_do_writepages_frame(k, mapping, self.wbc)
        self.ret = 0

    def run(self, k: Kernel, task: Task) -> int:
        walk = self.walk
        if walk is None:
            self.ret = 0
            return KOP_DONE
        r = walk.run(k, task, self.wbc)
        if r == KOP_DONE:
            self.ret = walk.ret
        return r

    def visited(self) -> int:
        """Pages looked up by the walk so far."""
        return self.walk.visited if self.walk is not None else 0

    def describe(self) -> str:
        return "filemap_fdatawrite" if self.walk is None else self.walk.describe()

    def to_state(self) -> dict[str, object]:
        return {
            "host": self.mapping.host,
            "wbc": self.wbc.to_state(),
            "walk": self.walk.to_state() if self.walk is not None else None,
            "ret": self.ret,
        }

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> Fdatawrite:
        mapping = vl_mapping_of(k, vl_state_int(state, "host"))
        w = vl_state_dict(state, "wbc")
        if w is None:
            raise ValueError("fdatawrite state: wbc missing")
        wbc = WritebackControl.from_state(w)
        f = Fdatawrite(k, mapping, wbc.sync_mode)
        f.wbc = wbc
        walk = vl_state_dict(state, "walk")
        f.walk = MpageWritepages.from_state(k, walk) if walk is not None else None
        f.ret = vl_state_int(state, "ret")
        return f


def vl_mapping_of(k: Kernel, ino: int) -> AddressSpace:
    """The page cache of inode ``ino`` (state restore; ValueError when it is gone)."""
    inode = k.sb.s_inodes.get(ino)
    if inode is None:
        raise ValueError(f"writeback state: no inode {ino}")
    return inode.i_mapping


# ---- wait_on_page_writeback_range ---------------------------------------------------------------

WR_LOOKUP: Final = 0
WR_WAIT: Final = 1
WR_FINISH: Final = 2


@final
class WaitOnPageWritebackRange:
    """The locals of wait_on_page_writeback_range(mapping, start, end) (mm/filemap.c, 2.6.6).

    ``visited`` counts the pages looked up (fsync_pages_visited); ``ret`` holds the result.
    """

    def __init__(self, mapping: AddressSpace, start: int, end: int) -> None:
        self.mapping = mapping
        self.start = start
        self.end = end
        self.index = start
        self.phase = WR_LOOKUP
        self.pvec: list[Page] = []
        self.i = 0
        self.ret = 0
        self.visited = 0

    def run(self, k: Kernel, task: Task) -> int:
        if k.cfg.writeback == "lists":
            from kernelmodel.fs.mpage_lists import vl_fdatawait_lists_run

            return vl_fdatawait_lists_run(k, task, self)
        if self.end < self.start:
            self.ret = 0
            return KOP_DONE
        while True:
            if self.phase == WR_LOOKUP:
                nr = min(self.end - self.index, PAGEVEC_SIZE - 1) + 1
                pages, index = find_get_pages_tag(
                    self.mapping, self.index, PAGECACHE_TAG_WRITEBACK, nr
                )
                if not pages:
                    self.phase = WR_FINISH
                    continue
                self.index = index
                self.pvec = pages
                self.i = 0
                self.visited += len(pages)
                self.phase = WR_WAIT
            elif self.phase == WR_WAIT:
                if self.i >= len(self.pvec):
                    self._pagevec_release(k)
                    self.phase = WR_LOOKUP
                    return KOP_CONTINUE
                page = self.pvec[self.i]
                if not vl_wait_on_page_writeback(k, task, page):
                    return KOP_BLOCKED
                if PageError(page):
                    self.ret = -EIO
                self.i += 1
            else:
                if mapping_test_clear_error(self.mapping, AS_ENOSPC):
                    self.ret = -ENOSPC
                if mapping_test_clear_error(self.mapping, AS_EIO):
                    self.ret = -EIO
                return KOP_DONE

    def _pagevec_release(self, k: Kernel) -> None:
        from kernelmodel.mm.alloc import page_cache_release

        for page in self.pvec:
            page_cache_release(k, page)
        self.pvec = []
        self.i = 0

    def describe(self) -> str:
        if self.phase == WR_WAIT and self.i < len(self.pvec):
            return f"filemap_fdatawait: page {self.pvec[self.i].index} of inode {self.mapping.host}"
        return f"filemap_fdatawait: inode {self.mapping.host} from index {self.index}"

    def to_state(self) -> dict[str, object]:
        return {
            "host": self.mapping.host,
            "start": self.start,
            "end": self.end,
            "index": self.index,
            "phase": self.phase,
            "pvec": [p.pfn for p in self.pvec],
            "i": self.i,
            "ret": self.ret,
            "visited": self.visited,
        }

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> WaitOnPageWritebackRange:
        mapping = vl_mapping_of(k, vl_state_int(state, "host"))
        start = vl_state_int(state, "start")
        f = WaitOnPageWritebackRange(mapping, start, vl_state_int(state, "end"))
        f.index = vl_state_int(state, "index")
        f.phase = vl_state_int(state, "phase")
        f.pvec = vl_pages_from_pfns(k, vl_state_int_list(state, "pvec"))
        f.i = vl_state_int(state, "i")
        f.ret = vl_state_int(state, "ret")
        f.visited = vl_state_int(state, "visited")
        return f


def vl_fdatawait_frame(mapping: AddressSpace) -> WaitOnPageWritebackRange:
    """filemap_fdatawait(mapping) = wait_on_page_writeback_range(mapping, 0, ~0) as a frame."""
    return WaitOnPageWritebackRange(mapping, 0, PGOFF_MAX)


# ---- the ops ------------------------------------------------------------------------------------


class FdatawriteOp(KOp):
    """filemap_fdatawrite (WB_SYNC_ALL) or filemap_flush (WB_SYNC_NONE) as an op."""

    def __init__(self, k: Kernel, mapping: AddressSpace, sync_mode: int) -> None:
        super().__init__("filemap_fdatawrite" if sync_mode == WB_SYNC_ALL else "filemap_flush")
        self.frame = Fdatawrite(k, mapping, sync_mode)

    def step(self, k: Kernel, task: Task) -> int:
        r = self.frame.run(k, task)
        if r == KOP_DONE:
            self.result = self.frame.ret
        return r

    def describe(self) -> str:
        return self.frame.describe()

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["frame"] = self.frame.to_state()
        return s

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> FdatawriteOp:
        f = vl_state_dict(state, "frame")
        if f is None:
            raise ValueError("filemap_fdatawrite state: frame missing")
        frame = Fdatawrite.from_state(k, f)
        op = FdatawriteOp(k, frame.mapping, frame.wbc.sync_mode)
        op.load_base_state(state)
        op.frame = frame
        return op


class FdatawaitOp(KOp):
    """filemap_fdatawait(mapping) as an op."""

    def __init__(self, mapping: AddressSpace) -> None:
        super().__init__("filemap_fdatawait")
        self.frame = vl_fdatawait_frame(mapping)

    def step(self, k: Kernel, task: Task) -> int:
        r = self.frame.run(k, task)
        if r == KOP_DONE:
            self.result = self.frame.ret
        return r

    def describe(self) -> str:
        return self.frame.describe()

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["frame"] = self.frame.to_state()
        return s

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> FdatawaitOp:
        f = vl_state_dict(state, "frame")
        if f is None:
            raise ValueError("filemap_fdatawait state: frame missing")
        frame = WaitOnPageWritebackRange.from_state(k, f)
        op = FdatawaitOp(frame.mapping)
        op.load_base_state(state)
        op.frame = frame
        return op


WW_WRITE: Final = 0
WW_WAIT: Final = 1


class WriteAndWaitOp(KOp):
    """filemap_write_and_wait(mapping): if nrpages, fdatawrite, then fdatawait if that worked."""

    def __init__(self, k: Kernel, mapping: AddressSpace) -> None:
        super().__init__("filemap_write_and_wait")
        self.mapping = mapping
        self.write: Fdatawrite | None = None
        self.wait: WaitOnPageWritebackRange | None = None
        if mapping.nrpages:
            self.write = Fdatawrite(k, mapping, WB_SYNC_ALL)

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == WW_WRITE:
            write = self.write
            if write is None:
                self.result = 0
                return KOP_DONE
            r = write.run(k, task)
            if r != KOP_DONE:
                return r
            self.result = write.ret
            if self.result != 0:
                return KOP_DONE
            self.wait = vl_fdatawait_frame(self.mapping)
            self.phase = WW_WAIT
            return KOP_CONTINUE
        wait = self.wait
        assert wait is not None
        r = wait.run(k, task)
        if r == KOP_DONE:
            self.result = wait.ret
        return r

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["host"] = self.mapping.host
        s["write"] = self.write.to_state() if self.write is not None else None
        s["wait"] = self.wait.to_state() if self.wait is not None else None
        return s

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> WriteAndWaitOp:
        mapping = vl_mapping_of(k, vl_state_int(state, "host"))
        op = WriteAndWaitOp(k, mapping)
        op.load_base_state(state)
        w = vl_state_dict(state, "write")
        op.write = Fdatawrite.from_state(k, w) if w is not None else None
        t = vl_state_dict(state, "wait")
        op.wait = WaitOnPageWritebackRange.from_state(k, t) if t is not None else None
        return op


def filemap_fdatawrite(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_fdatawrite(mapping): start data-integrity writeback (WB_SYNC_ALL) as an op."""
    return FdatawriteOp(k, mapping, WB_SYNC_ALL)


def filemap_flush(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_flush(mapping): start memory-cleansing writeback (WB_SYNC_NONE) as an op."""
    return FdatawriteOp(k, mapping, WB_SYNC_NONE)


def filemap_fdatawait(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_fdatawait(mapping): wait for every page under writeback, as an op."""
    return FdatawaitOp(mapping)


def filemap_write_and_wait(k: Kernel, mapping: AddressSpace) -> KOp:
    """filemap_write_and_wait(mapping) as an op."""
    return WriteAndWaitOp(k, mapping)
