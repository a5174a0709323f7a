"""/proc/PID/maps of Linux 2.6.6 (fs/proc/task_mmu.c: show_map), from the model's VMAs.

One line per vma, in address order: ``start-end perms offset dev inode``, then for a file
mapping the path, padded to column 49 as show_map pads it on i386 (25 + 6 pointer widths).
``perms`` is r, w, x and s (VM_MAYSHARE) or p. The offset is ``vm_pgoff << PAGE_SHIFT`` as
the model holds it (the 2.6.7 anon_vma profile sets an anonymous vma's vm_pgoff to its start,
as 2.6.7 does). The model's one filesystem stands for the first partition of the first IDE
disk, device 03:01; anonymous memory shows 00:00 and inode 0. There is no gate vma (2.6.6's
i386 has none). A mapped file that was unlinked shows ``(deleted)`` after its path, as
d_path writes it.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.fs.fs import vl_inode
from kernelmodel.include.mm_types import VmArea
from kernelmodel.inspect.vma import vl_vma_perms
from kernelmodel.kernel.kernel import Kernel
from scenarios.procfs.tasks import find_task, task_mm

#: (major, minor) shown for the model's filesystem: hda1.
FS_DEV: Final = (3, 1)
#: show_map pads a path to this column: 25 + sizeof(void *) * 6 on i386.
PATH_COLUMN: Final = 25 + 4 * 6


def map_line(k: Kernel, vma: VmArea) -> str:
    """One line of /proc/PID/maps (no newline)."""
    perms = vl_vma_perms(vma.vm_flags)
    inode = vl_inode(k, vma.vm_file) if vma.vm_file >= 0 else None
    major, minor = FS_DEV if inode is not None else (0, 0)
    ino = inode.i_ino if inode is not None else 0
    line = (f"{vma.vm_start:08x}-{vma.vm_end:08x} {perms} {vma.vm_pgoff << 12:08x} "
            f"{major:02x}:{minor:02x} {ino} ")
    if inode is not None:
        deleted = " (deleted)" if inode.i_nlink == 0 else ""  # d_path of an unlinked file
        path = inode.vl_path if inode.vl_path.startswith("/") else "/" + inode.vl_path
        line += " " * max(1, PATH_COLUMN - len(line)) + path + deleted
    return line


def maps(k: Kernel, pid: int) -> str:
    """The text of /proc/PID/maps ("" for a task without an mm, as the kernel prints).

    Raises:
        NoSuchTask: no task has this pid.
    """
    mm = task_mm(k, find_task(k, pid))
    if mm is None:
        return ""
    return "".join(map_line(k, vma) + "\n" for vma in mm.mmap)
