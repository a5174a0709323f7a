"""msync(2) (mm/msync.c, 2.6.6): filemap_sync moves the dirty bits of a shared file mapping's
ptes to its pages; with MS_SYNC, each file is then written and waited for (``MsyncOp``).

Model simplification: the kernel writes and waits inside msync_interval, vma by vma, right
after that vma's filemap_sync and without i_sem; the model moves every dirty bit first
(``sys_msync_range``) and then writes each file once, under i_sem (``MsyncOp``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.mm_types import VM_SHARED, MmStruct, VmArea
from kernelmodel.include.syscall_abi import EINVAL, MS_SYNC
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Frame, KOp, Task, vl_push
from kernelmodel.mm.memory import find_vma
from kernelmodel.mm.mmap import (
    PAGE_ALIGN,
    MmSyscallOp,
    _task_mm,
    vl_drain_deferred_iput,
    vl_next_vma,
)
from machine.i386 import PAGE_SIZE

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import Insn

_PAGE_MASK: Final = 0xFFFFF000


# ---- msync --------------------------------------------------------------------------------------


def filemap_sync(k: Kernel, mm: MmStruct, vma: VmArea, start: int, end: int) -> int:
    """filemap_sync() (mm/msync.c): move pte dirty bits to the pages (set_page_dirty),
    flushing each changed pte, then the range.

    Returns:
        The number of pages newly marked dirty.
    """
    from kernelmodel.include.page import PageReserved
    from kernelmodel.mm.page_writeback import vl_set_page_dirty_from_pte
    from kernelmodel.mm.pgtable import (
        flush_tlb_page,
        flush_tlb_range,
        pte_offset_map,
        pte_pfn,
        pte_present,
        ptep_test_and_clear_dirty,
    )

    mem = k.machine.mem
    n = 0
    addr = start
    while addr < end:
        ptep = pte_offset_map(mem, mm.pgd, addr)
        if ptep >= 0 and pte_present(mem.read_u32(ptep)):
            page = k.mem_map.pages[pte_pfn(mem.read_u32(ptep))]
            if not PageReserved(page) and ptep_test_and_clear_dirty(mem, ptep):
                flush_tlb_page(k, mm.mm_id, addr)
                vl_set_page_dirty_from_pte(k, page)
                n += 1
        addr += PAGE_SIZE
    flush_tlb_range(k, mm.mm_id, start, end)
    return n


def sys_msync_range(k: Kernel, mm: MmStruct, start: int, length: int, flags: int) -> list[int]:
    """sys_msync's walk: filemap_sync each shared file vma in the range.

    Returns:
        The inode numbers whose data MS_SYNC must write and wait for (in address order),
        or [-errno] for a bad range.
    """
    if start & ~_PAGE_MASK:
        return [-EINVAL]
    end = start + PAGE_ALIGN(length)
    if end < start:
        return [-EINVAL]
    inos: list[int] = []
    vma = find_vma(mm, start)
    while vma is not None and vma.vm_start < end:
        if vma.vm_file >= 0 and (vma.vm_flags & VM_SHARED):
            s = vma.vm_start if vma.vm_start > start else start
            e = vma.vm_end if vma.vm_end < end else end
            filemap_sync(k, mm, vma, s, e)
            if (flags & MS_SYNC) and vma.vm_file not in inos:
                inos.append(vma.vm_file)
        vma = vl_next_vma(mm, vma)
    return inos


#: MsyncOp phases
MS_DOWN: Final = 0
MS_WRITE: Final = 1
MS_WRITTEN: Final = 2


@final
class MsyncOp(Frame):
    """The frame of msync(MS_SYNC)'s second half (msync_interval, mm/msync.c, 2.6.6): for
    each shared file in the range, down(i_sem), filemap_write_and_wait (``write``: its
    filemap_fdatawrite + filemap_fdatawait), up(i_sem); then the deferred iput of an inode
    whose last mapping went (``iput``).

    ->fsync(datasync = 1) has nothing to do: the model's metadata is always durable. MS_SYNC
    is a data-integrity sync like fsync: each file whose write and wait succeeded is
    acknowledged to the oracle with the token taken after filemap_sync moved the pte dirty
    bits to the pages (``token``; -1 in an op restored from a state saved before msync
    acknowledged anything, which then acknowledges nothing). ``ret`` is the first error.

    Model simplification: the kernel writes and waits inside msync_interval, vma by vma,
    right after that vma's filemap_sync and without i_sem; the model moves every dirty bit
    first (sys_msync_range) and then writes each file once, under i_sem.
    """

    KIND = "msync"
    FIELDS = (("inos", "ints"), ("ret", "int"), ("token", "int"), ("write", "callee"),
              ("iput", "callee"))

    def __init__(self, inos: list[int] | None = None, token: int = -1) -> None:
        super().__init__("msync")
        self.inos: list[int] = inos if inos is not None else []
        self.ret = 0
        self.token = token
        self.write: KOp | None = None
        self.iput: KOp | None = None

    def step(self, k: Kernel, task: Task) -> int:
        from kernelmodel.fs.fs import up_i_sem, vl_down_i_sem, vl_inode

        # A callee returned (iput, or write in MS_WRITE): the op resumed a step later before
        # it was a frame, and keeps that step (and its KOP_STEP_NS) so that timing is
        # unchanged.
        if self.iput is not None:
            self.iput = None
            return KOP_CONTINUE
        if self.phase == MS_WRITE:
            self.write = None
            self.phase = MS_WRITTEN
            return KOP_CONTINUE
        if not self.inos:
            self.iput = vl_drain_deferred_iput(k, task)
            if self.iput is not None:
                return KOP_CONTINUE
            self.result = self.ret
            return KOP_DONE
        inode = vl_inode(k, self.inos[0])
        if inode is None:
            self.inos.pop(0)
            return KOP_CONTINUE
        if self.phase == MS_DOWN:
            if not vl_down_i_sem(k, task, inode):
                return KOP_BLOCKED
            from kernelmodel.mm.filemap_wb import filemap_write_and_wait

            self.write = filemap_write_and_wait(k, inode.i_mapping)
            self.phase = MS_WRITE
            vl_push(task, self.write)  # at the next step
            return KOP_CONTINUE
        err = task.kret  # filemap_write_and_wait's result, popped at the step before
        if self.ret == 0:
            self.ret = err
        if err == 0 and self.token >= 0:
            k.oracle.fsync_acked(k, inode.i_ino, self.token)
        up_i_sem(k, inode)
        self.inos.pop(0)
        self.phase = MS_DOWN
        return KOP_CONTINUE

    def describe(self) -> str:
        what = f"msync: {len(self.inos)} file(s) to write"
        return f"{what}: {self.write.describe()}" if self.write is not None else what


def sys_msync(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """sys_msync(addr, len, flags): b = addr, c = length, d = MS_* flags.

    The pte dirty bits move to the pages at once (filemap_sync); MS_SYNC then writes and
    waits for each file (MsyncOp).
    """
    inos = sys_msync_range(k, _task_mm(k, task), insn.b, insn.c, insn.d)
    if inos and inos[0] < 0:
        return MmSyscallOp("msync", inos[0])
    if not inos:
        return MmSyscallOp("msync", 0)
    return MsyncOp(inos, k.oracle.fsync_begin(k, 0))
