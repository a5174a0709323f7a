"""posix_fadvise(2): sys_fadvise64 (mm/fadvise.c of 2.6.5 and 2.6.6).

Only POSIX_FADV_DONTNEED does anything in the model, and only its writeback half:

1. -EBADF when the task has no such open file (programs name files by path, syscall_abi);
2. -EINVAL for a negative length or an unknown advice value;
3. POSIX_FADV_DONTNEED: unless the disk is write-congested (``bdi_write_congested``),
   ``filemap_flush(mapping)``: one WB_SYNC_NONE sweep of the file's dirty pages that starts
   their writeback and does not wait for it. On 2.6.5 (lists profile) the pages so started go
   onto the mapping's locked_pages list and stay there until a waiter takes them off, which
   is what holds an fsync in filemap_fdatawait.

Model simplifications:
    * the kernel then calls invalidate_mapping_pages over the whole pages of the range (drop
      clean, unlocked, unmapped pages); the model has no invalidate_mapping_pages, so the
      page cache is left as it is (the pages just written are under writeback, and would be
      skipped anyway);
    * the call returns the result of filemap_flush (0 unless the writeback path reports an
      error) where the kernel ignores it and returns 0;
    * POSIX_FADV_NORMAL, RANDOM and SEQUENTIAL (which set file->f_ra), WILLNEED (readahead)
      and NOREUSE (nothing in 2.6.6 either) are accepted and return 0 doing nothing: the model
      has no readahead state.

Invariants:
    * fadvise never sleeps on I/O: it holds no lock and waits for no page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import vl_fget_path, vl_inode
from kernelmodel.include.syscall_abi import EBADF, EINVAL
from kernelmodel.mm.filemap_wb import filemap_flush
from kernelmodel.mm.mmap import MmSyscallOp
from kernelmodel.mm.page_writeback import bdi_write_congested

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import KOp, Task
    from machine.isa import Insn

# include/linux/fadvise.h (i386 values)
POSIX_FADV_NORMAL: Final = 0
POSIX_FADV_RANDOM: Final = 1
POSIX_FADV_SEQUENTIAL: Final = 2
POSIX_FADV_WILLNEED: Final = 3
POSIX_FADV_DONTNEED: Final = 4
POSIX_FADV_NOREUSE: Final = 5


def sys_fadvise64(k: Kernel, task: Task, insn: Insn) -> KOp:
    """sys_fadvise64(fd, offset, len, advice): s = path, b = offset, c = length, d = advice.

    Returns:
        The op of the call: filemap_flush's op for POSIX_FADV_DONTNEED on an uncongested
        disk (its completion returns to user space), else an op that returns at once (0,
        -EBADF or -EINVAL).
    """
    _, f = vl_fget_path(k, task, insn.s)
    if f is None:
        return MmSyscallOp("fadvise64", -EBADF)
    advice = insn.d
    if insn.c < 0 or advice < POSIX_FADV_NORMAL or advice > POSIX_FADV_NOREUSE:
        return MmSyscallOp("fadvise64", -EINVAL)
    if advice != POSIX_FADV_DONTNEED:
        return MmSyscallOp("fadvise64", 0)
    inode = vl_inode(k, f.f_ino)
    if inode is None or bdi_write_congested(k):
        return MmSyscallOp("fadvise64", 0)
    return filemap_flush(k, inode.i_mapping)
