"""Truncation: truncate_inode_pages, vmtruncate and ftruncate (mm/truncate.c, mm/memory.c,
fs/open.c, fs/buffer.c block_truncate_page, 2.6.6).

``TruncateInodePagesOp`` is truncate_inode_pages(mapping, lstart) with its three parts:

1. a first pass over pagevecs from the first whole page past ``lstart`` that drops every page
   it can lock at once and that is not under writeback (TestSetPageLocked; skip otherwise);
2. the partial page: find_lock_page, wait_on_page_writeback, zero the tail
   (truncate_partial_page);
3. a second pass that locks every remaining page (sleeping), waits for its writeback and drops
   it, rescanning from the start until a lookup from there finds nothing.

Dropping a page is truncate_complete_page: clear_page_dirty (the DIRTY tag goes with the
flag), ClearPageUptodate, ClearPageMappedToDisk, remove_from_page_cache, and the cache's
reference released.

``TruncateOp`` is do_truncate -> notify_change -> vmtruncate under i_sem: set i_size (the
oracle follows in the same step), truncate_inode_pages, then ext2_truncate: block_truncate_page
zeroes the tail of a partial last page and dirties it (reading it first when it is not
cached), and the blocks past the new end are freed.

Before truncate_inode_pages, vmtruncate unmaps the pages past the new end from every vma that
maps them (2.6.6's invalidate_mmap_range_list over i_mmap and i_mmap_shared).

Model simplifications: no ATTR_* or permission checks; extending a file only sets i_size (the
new range is a hole); i_shared_sem is not modelled (each step is atomic).

Invariants (after TruncateOp): no page-cache page and no block at an index at or past
ceil(i_size / 4096); the bytes of the last page past i_size are zero in the cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.fs.fs import (
    I_DIRTY,
    Inode,
    ext2_truncate_blocks,
    up_i_sem,
    vl_down_i_sem,
    vl_fget_path,
)
from kernelmodel.include.page import (
    ClearPageMappedToDisk,
    ClearPageUptodate,
    Page,
    PageUptodate,
    PageWriteback,
)
from kernelmodel.include.syscall_abi import EBADF, EINVAL, EIO
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Frame, KOp, vl_push
from kernelmodel.mm.filemap import (
    FLP_ABSENT,
    FLP_BLOCKED,
    GFP_BITS_MASK,
    PAGE_CACHE_SIZE,
    PAGE_SHIFT,
    PAGEVEC_SIZE,
    AddressSpace,
    add_to_page_cache_lru,
    find_get_pages,
    remove_from_page_cache,
    vl_find_lock_page,
    vl_pfn_to_page,
    vl_readpage,
)
from kernelmodel.mm.pagemap import (
    TryLockPage,
    unlock_page,
    vl_lock_page,
    vl_wait_on_page_writeback,
)

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.isa import Insn

# TruncateInodePagesOp phases
TP_PASS1: Final = 0
TP_PARTIAL: Final = 1
TP_PARTIAL_WB: Final = 2
TP_PASS2: Final = 3

# TruncateOp phases
TR_START: Final = 0
TR_ISEM: Final = 1
TR_SIZE: Final = 2
TR_TRUNCATED: Final = 3  # truncate_inode_pages called (``pages``), block_truncate_page next
TR_BLOCK_PAGE: Final = 4
TR_BP_RELOCK: Final = 5
TR_FREE: Final = 6
TR_UP: Final = 7


def _release(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)


def truncate_complete_page(k: Kernel, mapping: AddressSpace, page: Page) -> None:
    """truncate_complete_page: drop a locked page from the cache (unless truncated already).

    Caller: holds the page lock and a reference of its own.
    """
    from kernelmodel.mm.page_writeback import clear_page_dirty

    if page.mapping is not mapping:
        return
    clear_page_dirty(k, page)
    ClearPageUptodate(page)
    ClearPageMappedToDisk(page)
    remove_from_page_cache(k, page)
    _release(k, page)


def truncate_partial_page(k: Kernel, page: Page, partial: int) -> None:
    """truncate_partial_page: zero the page from byte ``partial`` to its end.

    Caller: holds the page lock.
    """
    base = page.pfn * PAGE_CACHE_SIZE
    k.machine.mem.write(base + partial, bytes(PAGE_CACHE_SIZE - partial))


def invalidate_mmap_range_list(k: Kernel, vma_ids: list[int], pgoff: int) -> None:
    """invalidate_mmap_range_list (mm/memory.c, 2.6.6): unmap file offsets >= ``pgoff``.

    For each vma mapping the file, zap_page_range over the part that maps page ``pgoff`` or
    beyond: file pages lose their ptes before truncate_inode_pages drops them, and private
    (COW) copies of those pages go too, as in the kernel (an access past EOF then faults and
    gets SIGBUS). The data oracle of process memory forgets the zapped private pages.

    Caller: vmtruncate, after i_size was lowered.
    """
    from kernelmodel.include.mm_types import VM_SHARED
    from kernelmodel.mm.memory import zap_page_range
    reg = k.mm_registry
    for vma_id in list(vma_ids):
        vma = reg.vmas.get(vma_id)
        if vma is None:
            continue
        end_pgoff = vma.vm_pgoff + vma.vl_pages()
        if pgoff >= end_pgoff:
            continue
        first = pgoff if pgoff > vma.vm_pgoff else vma.vm_pgoff
        address = vma.vm_start + ((first - vma.vm_pgoff) << PAGE_SHIFT)
        zap_page_range(k, reg.mm(vma.vm_mm), vma, address, vma.vm_end - address)
        if (vma.vm_flags & VM_SHARED) == 0:
            k.mm_oracle.mm_unmap(k, vma.vm_mm, address, vma.vm_end)


@final
class TruncateInodePagesOp(Frame):
    """The frame of truncate_inode_pages(mapping, lstart) (mm/truncate.c, 2.6.6): drop every
    page from ceil(lstart / 4096) on.

    Its locals are the C's: ``start`` (the first page index dropped whole) and ``partial``
    (lstart's offset in its page) are computed from ``lstart`` as the C declares them;
    ``next`` is the scan cursor, ``pvec`` the pagevec the second pass holds (referenced),
    ``cursor`` its position (the C's ``i``). Beyond the C: ``ino`` names the mapping's inode
    (the frame ends at once if it is gone), ``locked`` says the second pass holds the lock of
    pvec[cursor] (waiting on its writeback), ``pfn`` is the partial page held (locked,
    referenced), -1 when none.
    """

    KIND = "truncate_inode_pages"
    FIELDS = (("ino", "int"), ("lstart", "int"), ("next", "int"), ("pvec", "pages"),
              ("cursor", "int"), ("locked", "bool"), ("pfn", "int"))

    def __init__(self, ino: int = -1, lstart: int = 0) -> None:
        super().__init__("truncate_inode_pages")
        self.ino = ino
        self.lstart = lstart
        self.next = (lstart + PAGE_CACHE_SIZE - 1) >> PAGE_SHIFT
        self.pvec: list[Page] = []
        self.cursor = 0
        self.locked = False
        self.pfn = -1

    def describe(self) -> str:
        return f"truncate_inode_pages inode {self.ino} from {self.lstart}"

    def step(self, k: Kernel, task: Task) -> int:
        start = (self.lstart + PAGE_CACHE_SIZE - 1) >> PAGE_SHIFT
        partial = self.lstart & (PAGE_CACHE_SIZE - 1)
        inode = k.sb.s_inodes.get(self.ino)
        if inode is None:
            for page in self.pvec:
                _release(k, page)
            self.pvec = []
            self.result = 0
            return KOP_DONE
        mapping = inode.i_mapping
        if self.phase == TP_PASS1:
            return self._pass1(k, mapping, start)
        if self.phase == TP_PARTIAL:
            return self._partial(k, task, mapping, start, partial)
        if self.phase == TP_PARTIAL_WB:
            return self._partial_wb(k, task, start, partial)
        return self._pass2(k, task, mapping, start)

    def _pass1(self, k: Kernel, mapping: AddressSpace, start: int) -> int:
        """One pagevec of the first pass: drop what can be locked at once and is not in I/O."""
        if mapping.nrpages == 0 and self.next == start:
            self.result = 0
            return KOP_DONE
        pvec = find_get_pages(mapping, self.next, PAGEVEC_SIZE)
        if not pvec:
            self.phase = TP_PARTIAL
            return KOP_CONTINUE
        for page in pvec:
            if page.index > self.next:
                self.next = page.index
            self.next += 1
            if not TryLockPage(page):
                continue
            if PageWriteback(page):
                unlock_page(k, page)
                continue
            truncate_complete_page(k, mapping, page)
            unlock_page(k, page)
        for page in pvec:
            _release(k, page)
        return KOP_CONTINUE

    def _partial(self, k: Kernel, task: Task, mapping: AddressSpace, start: int,
                 partial: int) -> int:
        """The partial page: find_lock_page (may sleep)."""
        if partial == 0:
            return self._to_pass2(start)
        status, page = vl_find_lock_page(k, task, mapping, start - 1)
        if status == FLP_BLOCKED:
            return KOP_BLOCKED
        if status == FLP_ABSENT or page is None:
            return self._to_pass2(start)
        self.pfn = page.pfn
        self.phase = TP_PARTIAL_WB
        return self._partial_wb(k, task, start, partial)

    def _partial_wb(self, k: Kernel, task: Task, start: int, partial: int) -> int:
        """wait_on_page_writeback, then truncate_partial_page, unlock, release."""
        page = vl_pfn_to_page(k, self.pfn)
        if not vl_wait_on_page_writeback(k, task, page):
            return KOP_BLOCKED
        truncate_partial_page(k, page, partial)
        unlock_page(k, page)
        _release(k, page)
        self.pfn = -1
        return self._to_pass2(start)

    def _to_pass2(self, start: int) -> int:
        self.phase = TP_PASS2
        self.next = start
        return KOP_CONTINUE

    def _pass2(self, k: Kernel, task: Task, mapping: AddressSpace, start: int) -> int:
        """The second pass, one page per step: lock_page, wait_on_page_writeback, drop."""
        if self.cursor >= len(self.pvec):
            for held in self.pvec:
                _release(k, held)
            self.pvec = []
            self.cursor = 0
            pvec = find_get_pages(mapping, self.next, PAGEVEC_SIZE)
            if not pvec:
                if self.next == start:
                    self.result = 0
                    return KOP_DONE
                self.next = start
                return KOP_CONTINUE
            self.pvec = pvec
        page = self.pvec[self.cursor]
        if not self.locked:
            if not vl_lock_page(k, task, page):
                return KOP_BLOCKED
            self.locked = True
        if not vl_wait_on_page_writeback(k, task, page):
            return KOP_BLOCKED
        if page.index > self.next:
            self.next = page.index
        self.next += 1
        truncate_complete_page(k, mapping, page)
        unlock_page(k, page)
        self.locked = False
        self.cursor += 1
        return KOP_CONTINUE


@final
class TruncateOp(Frame):
    """The frame of do_truncate -> notify_change -> vmtruncate -> ext2_truncate, under i_sem
    (fs/open.c, mm/memory.c, fs/ext2/inode.c, 2.6.6), entered by sys_ftruncate or by open
    with O_TRUNC.

    Locals: ``path`` names the file (ftruncate), or "" when ``ino`` is given (open
    O_TRUNC); ``ino`` is the inode (-1 until resolved); ``length`` the new size; ``pfn``
    the partial last page block_truncate_page holds (-1 when none); ``pages`` the
    truncate_inode_pages frame it called.
    """

    KIND = "do_truncate"
    FIELDS = (("path", "str"), ("ino", "int"), ("length", "int"), ("pfn", "int"),
              ("pages", "callee"))

    def __init__(self, path: str = "", ino: int = -1, length: int = 0) -> None:
        super().__init__("do_truncate")
        self.path = path
        self.ino = ino
        self.length = length
        self.pfn = -1
        self.pages: TruncateInodePagesOp | None = None

    def describe(self) -> str:
        what = f"truncate inode {self.ino} to {self.length}"
        return f"{what}: {self.pages.describe()}" if self.pages is not None else what

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == TR_START:
            return self._start(k, task)
        if self.phase == TR_TRUNCATED:
            # truncate_inode_pages returned: the op resumed a step later before it was a
            # frame, and keeps that step (and its KOP_STEP_NS) so that timing is unchanged
            self.pages = None
            self.phase = TR_BLOCK_PAGE
            return KOP_CONTINUE
        inode = k.sb.s_inodes.get(self.ino)
        if inode is None:
            self.result = -EBADF
            return KOP_DONE
        if self.phase == TR_ISEM:
            return self._down(k, task, inode)
        if self.phase == TR_SIZE:
            return self._set_size(k, task, inode)
        if self.phase == TR_BLOCK_PAGE:
            return self._block_page(k, task, inode)
        if self.phase == TR_BP_RELOCK:
            return self._bp_relock(k, task, inode)
        if self.phase == TR_FREE:
            return self._free(k, inode)
        up_i_sem(k, inode)
        self.result = 0
        return KOP_DONE

    def _start(self, k: Kernel, task: Task) -> int:
        """sys_ftruncate: fget and the length check (open O_TRUNC comes with ``ino`` set)."""
        if self.length < 0:
            self.result = -EINVAL
            return KOP_DONE
        if self.ino < 0:
            _fd, f = vl_fget_path(k, task, self.path)
            if f is None:
                self.result = -EBADF
                return KOP_DONE
            self.ino = f.f_ino
        self.phase = TR_ISEM
        return KOP_CONTINUE

    def _down(self, k: Kernel, task: Task, inode: Inode) -> int:
        if not vl_down_i_sem(k, task, inode):
            return KOP_BLOCKED
        self.phase = TR_SIZE
        return KOP_CONTINUE

    def _set_size(self, k: Kernel, task: Task, inode: Inode) -> int:
        """vmtruncate: i_size (and the oracle), then truncate_inode_pages as a child op."""
        from kernelmodel.fs.fs_writeback import _mark_inode_dirty

        grow = self.length >= inode.i_size
        inode.i_size = self.length
        k.oracle.file_truncate(k, inode.i_ino, self.length)
        _mark_inode_dirty(k, inode, I_DIRTY)
        if grow:
            self.phase = TR_UP
            return KOP_CONTINUE
        mapping = inode.i_mapping
        mapping.truncate_count += 1
        pgoff = (self.length + PAGE_CACHE_SIZE - 1) >> PAGE_SHIFT
        if mapping.i_mmap:
            invalidate_mmap_range_list(k, mapping.i_mmap, pgoff)
        if mapping.i_mmap_shared:
            invalidate_mmap_range_list(k, mapping.i_mmap_shared, pgoff)
        self.pages = TruncateInodePagesOp(inode.i_ino, self.length)
        self.phase = TR_TRUNCATED
        vl_push(task, self.pages)  # truncate_inode_pages(mapping, offset), at the next step
        return KOP_CONTINUE

    def _block_page(self, k: Kernel, task: Task, inode: Inode) -> int:
        """block_truncate_page: get the partial last page locked (reading it if needed)."""
        from kernelmodel.mm.alloc import vl_alloc_page, vl_wait_for_memory

        partial = self.length & (PAGE_CACHE_SIZE - 1)
        index = self.length >> PAGE_SHIFT
        if partial == 0 or index not in inode.i_blocks:
            self.phase = TR_FREE
            return KOP_CONTINUE
        mapping = inode.i_mapping
        status, page = vl_find_lock_page(k, task, mapping, index)
        if status == FLP_BLOCKED:
            return KOP_BLOCKED
        if status == FLP_ABSENT:
            page = vl_alloc_page(k, mapping.flags & GFP_BITS_MASK)
            if page is None:
                vl_wait_for_memory(k, task)
                return KOP_BLOCKED
            if add_to_page_cache_lru(k, page, mapping, index) != 0:
                _release(k, page)
                return KOP_CONTINUE
        assert page is not None
        self.pfn = page.pfn
        if PageUptodate(page):
            return self._zero_tail(k, inode, page, partial)
        vl_readpage(k, page)
        self.phase = TR_BP_RELOCK
        return self._bp_relock(k, task, inode)

    def _bp_relock(self, k: Kernel, task: Task, inode: Inode) -> int:
        """The read of the partial page finished: lock it again and zero its tail."""
        page = vl_pfn_to_page(k, self.pfn)
        if not vl_lock_page(k, task, page):
            return KOP_BLOCKED
        if page.mapping is not inode.i_mapping or not PageUptodate(page):
            unlock_page(k, page)
            _release(k, page)
            self.pfn = -1
            if page.mapping is inode.i_mapping:
                self.result = -EIO
                up_i_sem(k, inode)
                return KOP_DONE
            self.phase = TR_BLOCK_PAGE
            return KOP_CONTINUE
        return self._zero_tail(k, inode, page, self.length & (PAGE_CACHE_SIZE - 1))

    def _zero_tail(self, k: Kernel, inode: Inode, page: Page, partial: int) -> int:
        """Zero the page past the new end and dirty it, so the block's tail is zeroed on disk."""
        from kernelmodel.mm.page_writeback import set_page_dirty

        truncate_partial_page(k, page, partial)
        set_page_dirty(k, page)
        unlock_page(k, page)
        _release(k, page)
        self.pfn = -1
        self.phase = TR_FREE
        return KOP_CONTINUE

    def _free(self, k: Kernel, inode: Inode) -> int:
        """ext2_truncate: free the blocks past the new end."""
        first = (self.length + PAGE_CACHE_SIZE - 1) >> PAGE_SHIFT
        ext2_truncate_blocks(k, inode, first)
        self.phase = TR_UP
        return KOP_CONTINUE


def sys_ftruncate(k: Kernel, task: Task, insn: Insn) -> KOp:
    """ftruncate(2): s = path (an open file), b = length."""
    return TruncateOp(insn.s, -1, insn.b)

