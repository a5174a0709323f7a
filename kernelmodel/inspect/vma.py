"""A vma's permissions as /proc/PID/maps prints them, for the /proc views and the dashboard's
task pane (fs/proc/task_mmu.c, show_map, 2.6.6; model scaffolding around it).
"""

from __future__ import annotations

from kernelmodel.include.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE


def vl_vma_perms(vm_flags: int) -> str:
    """show_map()'s four letters: r, w, x, then s for VM_MAYSHARE (a shared mapping, also a
    read-only one, whose VM_SHARED mmap cleared) or p."""
    return (("r" if vm_flags & VM_READ else "-")
            + ("w" if vm_flags & VM_WRITE else "-")
            + ("x" if vm_flags & VM_EXEC else "-")
            + ("s" if vm_flags & VM_MAYSHARE else "p"))
