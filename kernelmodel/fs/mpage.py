"""Multi-page writeback in file-offset order (fs/mpage.c, 2.6.6) and the filesystem's writepage.

``MpageWritepages`` is the frame of one ``mpage_writepages(mapping, wbc, get_block)`` call
(the model filesystem's ``a_ops->writepages``, task.py's protocol), so the walk can sleep in
``lock_page`` or ``wait_on_page_writeback`` and resume on the same page. The walk:

1. nonblocking and the queue congested: ``encountered_congestion``, return;
2. WB_SYNC_NONE starts at ``mapping->writeback_index`` with ``scanned = 0``; other modes start
   at 0 with ``scanned = 1`` (one whole-file sweep);
3. ``pagevec_lookup_tag(DIRTY, PAGEVEC_SIZE)`` (``find_get_pages_tag``): pages in ascending
   index, the cursor moving past the last page looked up; ``scanned = 1`` once any is found;
4. per page: ``lock_page``; WB_SYNC_ALL waits on writeback; skip (unlock) a truncated page, a
   page under writeback, or one ``clear_page_dirty_for_io`` finds clean; else
   ``mpage_writepage`` (set_page_writeback, unlock, add to the bio); ``done`` on an error,
   when ``--nr_to_write <= 0``, or on congestion when nonblocking;
5. wrap to index 0 once only when WB_SYNC_NONE found no dirty page from writeback_index on
   (``!scanned && !done``);
6. ``writeback_index`` = the index after the last page looked up; submit the last bio.

The inner loop over a pagevec has no ``break``: once ``done`` is set, the remaining pages of
that pagevec are still locked and written (``nr_to_write`` goes negative), and the walk stops
at the next lookup, as in the 2.6 source. (A reading of the C that has the rest of the pagevec
skipped is wrong: the code writes it, which is also why ``writeback_index`` = last looked-up + 1
loses no page.)

Bios (``mpage_writepage``): consecutive pages whose blocks are adjacent on disk go in one bio
(one disk request); a page whose block does not follow the bio's last block, or a full bio,
submits the bio first. ``set_page_writeback`` runs before the page joins the bio and the page
is unlocked at once; the bio is submitted when it cannot grow or the walk ends, so pages of a
pending bio are under writeback while their I/O is not yet queued (as with the kernel's bio
held in a local variable). A page wholly past EOF, or a block allocation failure, goes to
``block_write_full_page`` (the "confused" path).

The 2.6.5 list walk (``k.cfg.writeback == "lists"``) runs on the same frame, with the same
phases; it lives in mpage_lists.py.

Model simplifications: blocksize == PAGE_SIZE (one block per page, no buffer_heads, no
boundary blocks); a bio holds at most MPAGE_BIO_MAX_PAGES pages (128 KiB, the 2.6 IDE
max_sectors of 256); each page handled costs MPAGE_PAGE_NS of simulated CPU.

Invariants:
    * ``pvec`` pages hold a reference taken by find_get_pages_tag until the pagevec is
      released;
    * ``bio_pages`` are under writeback, unlocked, and on consecutive disk blocks ending at
      ``last_block_in_bio``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.fs.fs import BLOCK_SECTORS, get_block
from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import Page, PageWriteback, SetPageError
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Frame, Task
from kernelmodel.mm.filemap import (
    AS_EIO,
    AS_ENOSPC,
    PAGECACHE_TAG_DIRTY,
    PAGEVEC_SIZE,
    AddressSpace,
    find_get_pages_tag,
    mapping_set_error,
)
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_HOLD,
    WB_SYNC_NONE,
    WritebackControl,
    bdi_write_congested,
    clear_page_dirty_for_io,
    set_page_writeback,
)
from kernelmodel.mm.pagemap import unlock_page, vl_lock_page, vl_wait_on_page_writeback

if TYPE_CHECKING:
    from kernelmodel.fs.fs import Inode
    from kernelmodel.kernel.kernel import Kernel

__all__ = [
    "WB_SYNC_ALL",
    "WB_SYNC_HOLD",
    "WB_SYNC_NONE",
    "MpageWritepages",
    "WritebackControl",
    "block_write_full_page",
    "mpage_writepage",
    "vl_do_writepages_frame",
]

#: Pages per bio (q->max_sectors = 256 sectors).
MPAGE_BIO_MAX_PAGES: Final = 32
#: Simulated CPU per page looked at by the walk (lock, flag tests, bio_add_page).
MPAGE_PAGE_NS: Final = 500
ENOSPC: Final = 28
EIO: Final = 5

#: What an mpage_writepages frame is doing at each phase (describe); the 2.6.5 walk
#: (mpage_lists.py) has the same phases.
MP_PHASE_NAMES: Final = ("start", "lookup", "lock_page", "wait_on_page_writeback",
                         "writepage")  # fmt: skip


def _inode_of(k: Kernel, mapping: AddressSpace) -> Inode:
    inode = k.sb.s_inodes.get(mapping.host)
    bug_on(inode is None, "mpage: mapping without an inode")
    assert inode is not None
    return inode


def _zero_tail(k: Kernel, page: Page, offset: int) -> None:
    """memset(kaddr + offset, 0, PAGE_CACHE_SIZE - offset) on the page straddling EOF."""
    k.machine.mem.write((page.pfn << 12) + offset, bytes(4096 - offset))


def _page_past_eof(k: Kernel, inode: Inode, page: Page) -> bool:
    """The EOF test of mpage_writepage / block_write_full_page.

    Returns True when the page lies wholly beyond i_size; zeroes the tail of the page that
    straddles i_size (it may be mmapped: bytes past EOF must not reach the disk).
    """
    end_index = inode.i_size >> 12
    if page.index < end_index:
        return False
    offset = inode.i_size & 4095
    if page.index > end_index or offset == 0:
        return True
    _zero_tail(k, page, offset)
    return False


def block_write_full_page(k: Kernel, page: Page, wbc: WritebackControl) -> int:
    """block_write_full_page(page, get_block, wbc): the model filesystem's a_ops->writepage.

    Writes one page in its own bio. A page wholly past EOF is unlocked and left alone
    (return 0; its DIRTY tag stays until truncate removes the page). On a block allocation
    failure the page is marked PG_error and put through a writeback cycle without I/O, as
    __block_write_full_page's error path does.

    Caller: holds the page lock; PG_dirty was cleared by clear_page_dirty_for_io. This is the
    entry vmscan's pageout uses for file pages.

    Returns:
        0, or -ENOSPC.
    """
    from kernelmodel.fs.bio import END_IO_WRITE, WRITE, submit_bio
    from kernelmodel.mm.filemap_wb import end_page_writeback

    mapping = page.mapping
    bug_on(not isinstance(mapping, AddressSpace), "block_write_full_page: no mapping")
    assert isinstance(mapping, AddressSpace)
    inode = _inode_of(k, mapping)
    if _page_past_eof(k, inode, page):
        unlock_page(k, page)
        return 0
    block = get_block(k, inode, page.index, 1)
    bug_on(PageWriteback(page), "block_write_full_page: PageWriteback")
    if block < 0:
        SetPageError(page)
        set_page_writeback(k, page)
        unlock_page(k, page)
        end_page_writeback(k, page)
        return -ENOSPC
    set_page_writeback(k, page)
    unlock_page(k, page)
    submit_bio(k, WRITE, block * BLOCK_SECTORS, [page], END_IO_WRITE)
    return 0


#: The mapping of a frame not yet given one (a frame class is built empty, then filled).
NO_MAPPING: Final = AddressSpace(0)


def pagevec_release(k: Kernel, pvec: list[Page]) -> None:
    """pagevec_release(pvec): drop the lookup references (the caller empties its pagevec)."""
    from kernelmodel.mm.alloc import page_cache_release

    for page in pvec:
        page_cache_release(k, page)


@final
class MpageWritepages(Frame):
    """The frame of one mpage_writepages(mapping, wbc, get_block) call (fs/mpage.c, 2.6.6).

    ``step`` reads as the C: it returns KOP_BLOCKED when the task sleeps (lock_page,
    wait_on_page_writeback, a preemption point), KOP_CONTINUE after each pagevec
    (cond_resched), and KOP_DONE with the return value in ``ret`` (and ``result``).
    ``visited`` counts the pages looked up (fsync_pages_visited). ``wbc`` is the caller's.
    Phases (resume points): 0 entry; 1 the while condition (lookup of the next pagevec);
    2 lock_page of page ``i``; 3 wait_on_page_writeback and the checks; 4 ->writepage.
    In the 2.6.5 list mode the walk is mpage_lists.py's, with the same phases.
    """

    KIND = "mpage_writepages"
    FIELDS = (("mapping", "mapping"), ("wbc", "wbc"), ("index", "int"), ("scanned", "bool"),
              ("done", "bool"), ("ret", "int"), ("pvec", "pages"), ("i", "int"),
              ("bio_pages", "pages"), ("bio_sector", "int"), ("last_block_in_bio", "int"),
              ("visited", "int"), ("written", "int"))  # fmt: skip

    def __init__(self, mapping: AddressSpace = NO_MAPPING) -> None:
        super().__init__("mpage_writepages")
        self.mapping = mapping
        self.wbc = WritebackControl(WB_SYNC_NONE, 0)
        self.index = 0
        self.scanned = False
        self.done = False
        self.ret = 0
        self.pvec: list[Page] = []
        self.i = 0
        self.bio_pages: list[Page] = []
        self.bio_sector = -1
        self.last_block_in_bio = 0
        self.visited = 0
        self.written = 0

    def step(self, k: Kernel, task: Task) -> int:
        if k.cfg.writeback == "lists":
            from kernelmodel.fs.mpage_lists import vl_mpage_writepages_265

            return vl_mpage_writepages_265(k, task, self)
        wbc = self.wbc
        mapping = self.mapping
        if self.phase == 0:
            if wbc.nonblocking and bdi_write_congested(k):
                wbc.encountered_congestion = True
                return KOP_DONE
            if wbc.sync_mode == WB_SYNC_NONE:
                self.index = mapping.writeback_index  # Start from prev offset
            else:
                self.index = 0  # whole-file sweep
                self.scanned = True
            self.phase = 1
        while True:
            if self.phase == 1:  # retry: while (!done && (nr_pages = pagevec_lookup_tag(...)))
                pages: list[Page] = []
                index = self.index
                if not self.done:
                    pages, index = find_get_pages_tag(mapping, self.index, PAGECACHE_TAG_DIRTY,
                                                      PAGEVEC_SIZE)
                if not pages:
                    if self.scanned or self.done:
                        break
                    # We hit the last page and there is more work to be done: wrap back to
                    # the start of the file
                    self.scanned = True
                    self.index = 0
                    continue
                self.index, self.pvec, self.i = index, pages, 0
                self.scanned = True
                self.visited += len(pages)
                self.phase = 2
            if self.phase == 2:  # for (i = 0; i < nr_pages; i++) { lock_page(page);
                if self.i >= len(self.pvec):
                    pagevec_release(k, self.pvec)
                    self.pvec, self.i = [], 0
                    self.phase = 1
                    return KOP_CONTINUE  # cond_resched();
                k.charge(MPAGE_PAGE_NS)
                if not vl_lock_page(k, task, self.pvec[self.i]):
                    return KOP_BLOCKED
                self.phase = 3
            if self.phase == 3:
                page = self.pvec[self.i]
                if wbc.sync_mode != WB_SYNC_NONE and not vl_wait_on_page_writeback(k, task, page):
                    return KOP_BLOCKED
                if (page.mapping is not mapping or PageWriteback(page)
                        or not clear_page_dirty_for_io(k, page)):
                    unlock_page(k, page)
                    self.i += 1
                    self.phase = 2
                    continue
                self.phase = 4
                if k.preempt_point(task, "mpage_writepages:after_clear_dirty"):
                    return KOP_BLOCKED
            if self.phase == 4:  # bio = mpage_writepage(bio, page, ..., &ret, wbc);
                self.ret = mpage_writepage(k, self, self.pvec[self.i], wbc)
                self.written += 1
                wbc.nr_to_write -= 1  # (the model counts down on an error too)
                if self.ret != 0 or wbc.nr_to_write <= 0:
                    self.done = True
                if wbc.nonblocking and bdi_write_congested(k):
                    wbc.encountered_congestion = True
                    self.done = True
                self.i += 1
                self.phase = 2
                if k.preempt_point(task, "mpage_writepages:after_writepage"):
                    return KOP_BLOCKED
        mapping.writeback_index = self.index
        if self.bio_pages:
            mpage_bio_submit(k, self)
        self.result = self.ret
        return KOP_DONE

    def describe(self) -> str:
        return f"mpage_writepages: {MP_PHASE_NAMES[self.phase]} at index {self.index}"


def mpage_bio_submit(k: Kernel, walk: MpageWritepages) -> None:
    """mpage_bio_submit(WRITE, bio): send the pending bio to the disk as one request."""
    from kernelmodel.fs.bio import END_IO_WRITE, WRITE, submit_bio

    submit_bio(k, WRITE, walk.bio_sector, walk.bio_pages, END_IO_WRITE)
    walk.bio_pages = []
    walk.bio_sector = -1


def _mpage_confused(k: Kernel, walk: MpageWritepages, page: Page, wbc: WritebackControl) -> int:
    """The "confused" path: submit the pending bio, then a_ops->writepage on the page."""
    if walk.bio_pages:
        mpage_bio_submit(k, walk)
    ret = block_write_full_page(k, page, wbc)
    if ret != 0:
        mapping_set_error(walk.mapping, AS_ENOSPC if ret == -ENOSPC else AS_EIO)
    return ret


def mpage_writepage(k: Kernel, walk: MpageWritepages, page: Page, wbc: WritebackControl) -> int:
    """mpage_writepage(bio, page, get_block, &last_block_in_bio, &ret, wbc) (fs/mpage.c).

    Adds the page to the walk's bio, submitting the bio first when the page's block does not
    follow ``last_block_in_bio`` or the bio is full.

    Caller: holds the page lock; clear_page_dirty_for_io returned 1.

    Returns:
        0, or the error of the confused path.
    """
    inode = _inode_of(k, walk.mapping)
    if _page_past_eof(k, inode, page):
        return _mpage_confused(k, walk, page, wbc)
    block = get_block(k, inode, page.index, 1)
    if block < 0:
        return _mpage_confused(k, walk, page, wbc)
    if walk.bio_pages and (
        walk.last_block_in_bio != block - 1 or len(walk.bio_pages) >= MPAGE_BIO_MAX_PAGES
    ):
        mpage_bio_submit(k, walk)
    if not walk.bio_pages:
        walk.bio_sector = block * BLOCK_SECTORS
    walk.bio_pages.append(page)
    bug_on(PageWriteback(page), "mpage_writepage: PageWriteback")
    set_page_writeback(k, page)
    unlock_page(k, page)
    walk.last_block_in_bio = block
    return 0


def vl_mpage_writepages(mapping: AddressSpace, wbc: WritebackControl) -> MpageWritepages:
    """A frame for mpage_writepages(mapping, wbc, get_block), to be called (task.vl_call)."""
    walk = MpageWritepages()
    walk.mapping = mapping
    walk.wbc = wbc
    return walk


def vl_do_writepages_frame(
    k: Kernel, mapping: AddressSpace, wbc: WritebackControl
) -> MpageWritepages | None:
    """do_writepages(mapping, wbc) as a frame: None (return 0 at once) if nr_to_write <= 0.

    The model filesystem's a_ops->writepages is mpage_writepages with its get_block. In the
    2.6.5 list mode the caller's dirty_pages -> io_pages splice is done when the walk starts
    (mpage_lists.py). 2.6.5's do_writepages has no
    ``nr_to_write <= 0`` test: its walk writes a page before it counts nr_to_write down, so a
    call with nr_to_write 0 (sync_inode from fsync) writes one page; 2.6.6 added the test.
    """
    if wbc.nr_to_write <= 0 and k.cfg.writeback != "lists":
        return None
    return vl_mpage_writepages(mapping, wbc)
