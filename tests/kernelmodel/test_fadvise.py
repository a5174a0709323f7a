"""sys_fadvise64 (mm/fadvise.c): POSIX_FADV_DONTNEED starts writeback without waiting for it;
the other advice values do nothing; bad arguments are refused."""

from __future__ import annotations

import pytest
from test_wb_support import make_file, write_page

from kernelmodel.boot import vl_start_kernel
from kernelmodel.fs.fs import Inode, iget, vl_alloc_file
from kernelmodel.include.page import Page, PageDirty, PageWriteback
from kernelmodel.include.syscall_abi import EBADF, EINVAL, SYS_fadvise64
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, KOp, Task
from kernelmodel.mm.fadvise import (
    POSIX_FADV_DONTNEED,
    POSIX_FADV_NOREUSE,
    POSIX_FADV_NORMAL,
    POSIX_FADV_WILLNEED,
    sys_fadvise64,
)
from kernelmodel.mm.page_lists import PL_LOCKED
from kernelmodel.state.restore import vl_kop_from_state
from machine.board import Machine, MachineConfig
from machine.isa import OP_SYSCALL, Insn
from tests.kernelmodel.frames_support import run_frame


def _kernel(mode: str) -> Kernel:
    m = Machine(MachineConfig(16 << 20, 64 << 20))
    return vl_start_kernel(m, KernelConfig(swap_bytes=8 << 20, writeback=mode))


def _setup(mode: str, npages: int = 8) -> tuple[Kernel, Task, Inode, list[Page]]:
    k = _kernel(mode)
    inode, pages = make_file(k, "f", npages)
    for p in pages:
        write_page(k, inode, p, p.index + 7)
    task = Task(k.alloc_pid(), "app", None)
    k.tasks[task.pid] = task
    iget(inode)
    f = vl_alloc_file(k, inode, "f", 2)
    task.files[task.next_fd] = f.f_id
    task.next_fd += 1
    return k, task, inode, pages


def _call(k: Kernel, task: Task, advice: int, path: str = "f", length: int = 0) -> KOp:
    return sys_fadvise64(k, task, Insn(OP_SYSCALL, SYS_fadvise64, 0, length, advice, path))


def _run_unblocked(k: Kernel, task: Task, op: KOp) -> int:
    """Step the op to completion; it must never put the task to sleep."""
    for _ in range(10_000):
        r = run_frame(k, task, op)
        assert r != KOP_BLOCKED, "fadvise slept"
        if r == KOP_DONE:
            return op.result
    raise AssertionError("fadvise never finished")


@pytest.mark.parametrize("mode", ["tags", "lists"])
def test_dontneed_starts_writeback_without_waiting(mode: str) -> None:
    k, task, inode, pages = _setup(mode)
    assert all(PageDirty(p) for p in pages)
    op = _call(k, task, POSIX_FADV_DONTNEED)
    assert _run_unblocked(k, task, op) == 0
    assert all(not PageDirty(p) for p in pages)
    assert all(PageWriteback(p) for p in pages)  # started, and nobody waited for the I/O
    if mode == "lists":
        assert all(p.list_id == PL_LOCKED for p in pages)
        assert len(inode.i_mapping.locked_pages) == len(pages)


@pytest.mark.parametrize("advice", [POSIX_FADV_NORMAL, POSIX_FADV_WILLNEED, POSIX_FADV_NOREUSE])
def test_other_advice_does_nothing(advice: int) -> None:
    k, task, _, pages = _setup("tags")
    assert _run_unblocked(k, task, _call(k, task, advice)) == 0
    assert all(PageDirty(p) and not PageWriteback(p) for p in pages)


@pytest.mark.parametrize(("advice", "length"), [(6, 0), (-1, 0), (POSIX_FADV_DONTNEED, -1)])
def test_bad_arguments_return_einval(advice: int, length: int) -> None:
    k, task, _, pages = _setup("tags")
    assert _run_unblocked(k, task, _call(k, task, advice, length=length)) == -EINVAL
    assert all(PageDirty(p) for p in pages)


def test_unopened_file_returns_ebadf() -> None:
    k, task, _, _ = _setup("tags")
    assert _run_unblocked(k, task, _call(k, task, POSIX_FADV_DONTNEED, path="g")) == -EBADF


@pytest.mark.parametrize("advice", [POSIX_FADV_DONTNEED, POSIX_FADV_NORMAL, 9])
def test_op_state_round_trip(advice: int) -> None:
    k, task, _, _ = _setup("lists")
    op = _call(k, task, advice)
    op.is_syscall = True
    state = op.to_state()
    again = vl_kop_from_state(k, state)
    assert again.to_state() == state
    assert again.is_syscall
