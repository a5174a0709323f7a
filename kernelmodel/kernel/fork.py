"""fork: duplicating an address space (kernel/fork.c: mm_alloc, dup_mm, dup_mmap, mmput, 2.6.7).

``dup_mmap`` copies every vma of the parent (same vm_pgoff, same anon_vma: the copy joins the
front of the anon_vma's list with ``anon_vma_link``; a file vma goes on the i_mmap list just
after its original) and then its ptes (``copy_page_range``): present pages gain a reference
and a mapcount (``page_dup_rmap``), private writable mappings are write-protected in both
parent and child, and the parent's TLB is flushed (``flush_tlb_mm``) so that its next write
faults into do_wp_page. A whole fork tree therefore shares one anon_vma per original vma: the
anon_vma design (Andrea Arcangeli's, as merged for the 2.6.6 cycle and shipped in 2.6.7).
In the anonmm design (rmap 10) a new mm starts a bundle (``exec_rmap``), fork adds the child
to the parent's (``dup_rmap``) and mmput's last user leaves it (``exit_rmap``).

Where the kernel's allocations would loop in __alloc_pages, the model's ``ForkOp`` tears the
half-built child down, waits for memory and tries again. The child task runs program
``insn.b`` from its start (the model's fork runs a named sub-program) and inherits the
parent's open files (copy_files: each file's count goes up).

Invariants:
    * after fork, every present anonymous page of a COW vma is read-only in parent and child;
    * the child's rss equals the number of non-ZERO_PAGE present ptes copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.mm_types import VM_DONTCOPY, VM_LOCKED, MmStruct
from kernelmodel.include.vmstat import TR_TASK
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, Frame, KOp, Task
from kernelmodel.mm.alloc import vl_wait_for_memory
from kernelmodel.mm.pgtable import flush_tlb_mm, pgd_alloc, pgd_free, vl_leave_mm
from kernelmodel.mm.rmap_anonmm import dup_rmap, exec_rmap, exit_rmap

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import Insn

#: fork's error when copy_process refuses a task (include/asm-generic/errno-base.h).
EAGAIN: Final = 11


def mm_alloc(k: Kernel) -> MmStruct | None:
    """mm_alloc() + mm_init(): a new, empty mm with its own page directory (pgd_alloc).

    Returns:
        The mm, or None when no frame is free for the page directory.
    """
    pgd = pgd_alloc(k)
    if pgd < 0:
        return None
    reg = k.mm_registry
    mm = MmStruct(reg.next_mm_id, pgd)
    reg.next_mm_id += 1
    reg.mms[mm.mm_id] = mm
    return mm


def mmput(k: Kernel, mm: MmStruct) -> None:
    """mmput(): drop a user; the last one unmaps everything (exit_mmap), leaves CR3, frees the
    page directory and forgets the mm's expected memory."""
    from kernelmodel.mm.mmap import exit_mmap
    mm.mm_users -= 1
    if mm.mm_users > 0:
        return
    exit_mmap(k, mm)
    if mm.anonmm >= 0:
        exit_rmap(k, mm)
    vl_leave_mm(k, mm.mm_id)
    pgd_free(k, mm.pgd)
    del k.mm_registry.mms[mm.mm_id]
    k.mm_oracle.mm_exit(k, mm.mm_id)


def vl_exec_mm(k: Kernel, task: Task) -> bool:
    """exec_mmap()'s effect for a newly spawned task: give it a fresh, empty mm.

    Returns:
        False when no frame is free for the page directory (boot-time callers treat that as a
        configuration error).
    """
    mm = mm_alloc(k)
    if mm is None:
        return False
    if k.cfg.rmap == "anonmm":
        exec_rmap(k, mm)
    task.mm_id = mm.mm_id
    return True


def dup_mmap(k: Kernel, mm: MmStruct, oldmm: MmStruct) -> int:
    """dup_mmap(): copy the vmas and ptes of ``oldmm`` into the empty ``mm``.

    Returns:
        0, or -1 when a page table could not be allocated (``mm`` is half built).
    """
    from kernelmodel.mm.memory import copy_page_range
    from kernelmodel.mm.mmap import vl_vma_copy, vma_link

    mm.total_vm = oldmm.total_vm
    mm.free_area_cache = oldmm.free_area_cache
    ret = 0
    for mpnt in oldmm.mmap:
        if mpnt.vm_flags & VM_DONTCOPY:
            continue
        tmp = vl_vma_copy(k, mpnt, mm.mm_id)
        tmp.vm_flags &= ~VM_LOCKED
        vma_link(k, mm, tmp, mpnt.vma_id)
        if copy_page_range(k, mm, oldmm, mpnt, tmp) < 0:
            ret = -1
            break
    flush_tlb_mm(k, oldmm.mm_id)
    return ret


def dup_mm(k: Kernel, oldmm: MmStruct) -> MmStruct | None:
    """copy_mm() without CLONE_VM: a new mm holding a copy of ``oldmm``.

    Returns:
        The new mm, or None when memory ran out (whatever was built is torn down again).
    """
    mm = mm_alloc(k)
    if mm is None:
        return None
    if oldmm.anonmm >= 0:
        dup_rmap(k, mm, oldmm)
    if dup_mmap(k, mm, oldmm) < 0:
        mmput(k, mm)
        return None
    return mm


def copy_files(k: Kernel, parent: Task, child: Task) -> None:
    """copy_files() (dup_fd): the child gets the parent's descriptors; each file is shared."""
    from kernelmodel.fs.fs import vl_dup_files

    vl_dup_files(k, parent, child)


class ForkOp(Frame):
    """sys_fork() (do_fork -> copy_process, kernel/fork.c, 2.6.6): copy the mm, create the
    child task.

    In the order of copy_process: the nr_threads and pid limits, copy_mm (dup_mm; where the
    kernel would loop in __alloc_pages the model tears the half-built mm down, waits for
    memory and starts again from the top), then the task (the model's exec of program
    ``prog_id``), copy_files. Returns the child's pid; the child never returns from fork in
    the model (it starts its own program).
    """

    KIND = "do_fork"
    FIELDS = (("prog_id", "int"),)

    def __init__(self, prog_id: int = 0) -> None:
        super().__init__("fork")
        self.prog_id = prog_id

    def step(self, k: Kernel, task: Task) -> int:
        if not k.vl_fork_allowed():
            # copy_process: nr_threads >= max_threads or no free pid
            k.trace.emit(k.now(), TR_TASK, task.pid, -EAGAIN, 0, "fork: -EAGAIN (threads-max)")
            self.result = -EAGAIN
            return KOP_DONE
        oldmm = k.mm_registry.mm(task.mm_id)
        mm = dup_mm(k, oldmm)
        if mm is None:
            vl_wait_for_memory(k, task)
            return KOP_BLOCKED
        if self.prog_id < 0 or self.prog_id >= len(k.programs):
            mmput(k, mm)
            self.result = -22  # -EINVAL: no such program
            return KOP_DONE
        child = k.new_task(k.program_names[self.prog_id], self.prog_id, task.pid)
        child.mm_id = mm.mm_id
        copy_files(k, task, child)
        k.mm_oracle.mm_fork(k, oldmm.mm_id, mm.mm_id)
        self.result = child.pid
        return KOP_DONE

    def describe(self) -> str:
        return f"fork (child runs program {self.prog_id})"


def sys_fork(k: Kernel, task: Task, insn: Insn) -> KOp:
    """fork(2): b = the program id the child runs; returns the child's pid."""
    return ForkOp(insn.b)
