"""The system-call ABI of the model: numbers and how an ``Insn`` carries the arguments (the
model's own, no kernel release: the numbers are not i386's).

Numbers are the i386 ones (arch/i386/kernel/entry.S sys_call_table) where the call exists;
calls that only the model has start at 1000 and are prefixed ``VL_``.

Model simplification: programs name files by path, not by descriptor. Every file call takes
the path in ``insn.s`` and the kernel resolves it through the task's open-file table
(``open`` must come first), so scenario programs and traces read naturally.

Argument layout (insn.a is always the number):

======================  ==========================================================
call                    arguments
======================  ==========================================================
exit                    b = exit code
fork                    b = program id the child runs (the model's fork runs a named
                        sub-program in the child); returns the child pid
read                    s = path, b = offset (-1: file position), c = length
write                   s = path, b = offset (-1: file position), c = length,
                        d = payload seed (the bytes are the first c of its payload
                        stream, kernelmodel/lib/payload.py)
open                    s = path, b = O_* flags
close                   s = path
unlink                  s = path
sync                    -
ftruncate               s = path, b = length
fsync / fdatasync       s = path
munmap                  b = addr, c = length
mprotect                b = addr, c = length, d = PROT_* bits
mmap2                   b = addr (MAP_FIXED), c = length, d = prot | flags << 8 |
                        pgoff << 32, s = path ("" for anonymous)
msync                   b = addr, c = length, d = MS_* flags
fadvise64               s = path, b = offset, c = length, d = POSIX_FADV_* advice
nanosleep               b = nanoseconds
VL_CHECKPOINT           s = name (records a checkpoint the runner can stop at)
VL_WAIT_CHILDREN        - (sleeps until every child of the task has exited)
VL_VERIFY               - (runs the data oracle over the task's memory now)
======================  ==========================================================
"""

from __future__ import annotations

from typing import Final

SYS_exit: Final = 1
SYS_fork: Final = 2
SYS_read: Final = 3
SYS_write: Final = 4
SYS_open: Final = 5
SYS_close: Final = 6
SYS_unlink: Final = 10
SYS_sync: Final = 36
SYS_munmap: Final = 91
SYS_ftruncate: Final = 93
SYS_fsync: Final = 118
SYS_mprotect: Final = 125
SYS_msync: Final = 144
SYS_fdatasync: Final = 148
SYS_nanosleep: Final = 162
SYS_mmap2: Final = 192
SYS_fadvise64: Final = 250

VL_CHECKPOINT: Final = 1000
VL_WAIT_CHILDREN: Final = 1001
VL_VERIFY: Final = 1002

SYSCALL_NAMES: Final = {
    SYS_exit: "exit",
    SYS_fork: "fork",
    SYS_read: "read",
    SYS_write: "write",
    SYS_open: "open",
    SYS_close: "close",
    SYS_unlink: "unlink",
    SYS_sync: "sync",
    SYS_munmap: "munmap",
    SYS_ftruncate: "ftruncate",
    SYS_fsync: "fsync",
    SYS_mprotect: "mprotect",
    SYS_msync: "msync",
    SYS_fdatasync: "fdatasync",
    SYS_nanosleep: "nanosleep",
    SYS_mmap2: "mmap2",
    SYS_fadvise64: "fadvise64",
    VL_CHECKPOINT: "checkpoint",
    VL_WAIT_CHILDREN: "wait",
    VL_VERIFY: "verify",
}

# open(2) flags (include/asm-i386/fcntl.h)
O_RDONLY: Final = 0o0
O_WRONLY: Final = 0o1
O_RDWR: Final = 0o2
O_CREAT: Final = 0o100
O_TRUNC: Final = 0o1000
O_APPEND: Final = 0o2000
O_SYNC: Final = 0o10000

# mmap(2) protections and flags (include/asm-i386/mman.h)
PROT_NONE: Final = 0x0
PROT_READ: Final = 0x1
PROT_WRITE: Final = 0x2
PROT_EXEC: Final = 0x4
MAP_SHARED: Final = 0x01
MAP_PRIVATE: Final = 0x02
MAP_FIXED: Final = 0x10
MAP_ANONYMOUS: Final = 0x20

# msync(2) flags
MS_ASYNC: Final = 1
MS_INVALIDATE: Final = 2
MS_SYNC: Final = 4

# errno values returned as negative results (include/asm-generic/errno-base.h)
EPERM: Final = 1
ENOENT: Final = 2
EIO: Final = 5
EBADF: Final = 9
ECHILD: Final = 10
ENOMEM: Final = 12
EACCES: Final = 13
EFAULT: Final = 14
EEXIST: Final = 17
EINVAL: Final = 22
ENOSPC: Final = 28
ENOSYS: Final = 38


def vl_pack_mmap(prot: int, flags: int, pgoff: int) -> int:
    """Pack mmap2's prot, flags and pgoff into ``insn.d``."""
    return (prot & 0xFF) | ((flags & 0xFFFFFF) << 8) | (pgoff << 32)


def vl_unpack_mmap(d: int) -> tuple[int, int, int]:
    """Inverse of ``vl_pack_mmap``: (prot, flags, pgoff)."""
    return d & 0xFF, (d >> 8) & 0xFFFFFF, d >> 32
