"""/proc/PID/status of Linux 2.6.6 (fs/proc/array.c: proc_pid_status, task_name,
task_state; fs/proc/task_mmu.c: task_mem), from the model.

The lines the model can fill: ``Name``, ``State`` (task_state_array's words), ``Tgid`` and
``Pid`` (one thread per process), ``PPid``, ``TracerPid`` (0: nothing is traced) and, for a
task with an mm, task_mem's ``VmSize`` (total_vm), ``VmLck`` (the pages of VM_LOCKED vmas,
which is locked_vm), ``VmRSS`` (rss), ``VmData``, ``VmStk``, ``VmExe``, ``VmLib``, each in
kB, worked out from the vmas as task_mem does: anonymous vmas are data (the VM_GROWSDOWN ones
also stack, and VmData excludes the stack), read-only executable file vmas are exec (those
not VM_EXECUTABLE also lib). The model has no credentials, signals, capabilities or sleep
average, so ``SleepAVG``, ``Uid``, ``Gid`` and the signal and capability lines are left out.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.include.mm_types import (
    VM_EXEC,
    VM_EXECUTABLE,
    VM_GROWSDOWN,
    VM_LOCKED,
    VM_WRITE,
    MmStruct,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import (
    TASK_DEAD,
    TASK_INTERRUPTIBLE,
    TASK_RUNNING,
    TASK_STOPPED,
    TASK_UNINTERRUPTIBLE,
    TASK_ZOMBIE,
)
from scenarios.procfs.tasks import find_task, task_mm

#: task_state_array of 2.6.6, by state.
STATE_WORDS: Final = {
    TASK_RUNNING: "R (running)",
    TASK_INTERRUPTIBLE: "S (sleeping)",
    TASK_UNINTERRUPTIBLE: "D (disk sleep)",
    TASK_STOPPED: "T (stopped)",
    TASK_ZOMBIE: "Z (zombie)",
    TASK_DEAD: "X (dead)",
}


def task_mem_kb(mm: MmStruct) -> dict[str, int]:
    """task_mem's figures in kB: VmSize, VmLck, VmRSS, VmData, VmStk, VmExe, VmLib."""
    data = stack = exe = lib = locked = 0
    for vma in mm.mmap:
        size = (vma.vm_end - vma.vm_start) >> 10
        if vma.vm_flags & VM_LOCKED:
            locked += size
        if vma.vm_file < 0:
            data += size
            if vma.vm_flags & VM_GROWSDOWN:
                stack += size
            continue
        if vma.vm_flags & VM_WRITE:
            continue
        if vma.vm_flags & VM_EXEC:
            exe += size
            if not vma.vm_flags & VM_EXECUTABLE:
                lib += size
    return {"VmSize": mm.total_vm * 4, "VmLck": locked, "VmRSS": mm.rss * 4,
            "VmData": data - stack, "VmStk": stack, "VmExe": exe - lib, "VmLib": lib}


def status_fields(k: Kernel, pid: int) -> dict[str, str]:
    """Each line's label and text.

    Raises:
        NoSuchTask: no task has this pid.
    """
    task = find_task(k, pid)
    out = {
        "Name": task.name[:15],  # the kernel's comm holds 15 characters
        "State": STATE_WORDS.get(task.state, f"? ({task.state})"),
        "Tgid": str(task.pid),
        "Pid": str(task.pid),
        "PPid": str(task.parent),
        "TracerPid": "0",
    }
    mm = task_mm(k, task)
    if mm is not None:
        for name, kb in task_mem_kb(mm).items():
            out[name] = f"{kb:>8} kB"
    return out


def status(k: Kernel, pid: int) -> str:
    """The text of /proc/PID/status."""
    return "".join(f"{name}:\t{text}\n" for name, text in status_fields(k, pid).items())
