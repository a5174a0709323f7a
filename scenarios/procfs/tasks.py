"""Finding a task and its address space by pid, for the per-task views."""

from __future__ import annotations

from kernelmodel.include.mm_types import MmStruct
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task


class NoSuchTask(LookupError):
    """No task has this pid (``str()`` names the tasks there are)."""


def find_task(k: Kernel, pid: int) -> Task:
    """The task ``pid``.

    Raises:
        NoSuchTask: naming the tasks that exist.
    """
    task = k.tasks.get(pid)
    if task is None:
        there = ", ".join(f"{t.pid} ({t.name})" for t in k.tasks.values())
        raise NoSuchTask(f"no task with pid {pid}; the tasks: {there or 'none'}")
    return task


def task_mm(k: Kernel, task: Task) -> MmStruct | None:
    """The task's mm_struct, or None (a kernel thread, or a task that has exited)."""
    if task.mm_id < 0:
        return None
    return k.mm_registry.mms.get(task.mm_id)
