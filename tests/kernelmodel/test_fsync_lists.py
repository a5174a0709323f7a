"""The fsync races on both writeback designs: the same scripts lose acknowledged data on the
2.6.5 page lists (Race A, Race B) and livelock fsync (D), and do neither on the 2.6.6 tags."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_wb_support import drive, fake_task, make_file, step_machine, wait_woken, write_page

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check import check_pagecache
from kernelmodel.fs.fs import Inode, iget, vl_alloc_file
from kernelmodel.fs.fsync import FsyncOp
from kernelmodel.fs.mpage import MpageWritepages, vl_do_writepages_frame
from kernelmodel.include.page import PageDirty, PageLocked, PageWriteback
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, TASK_RUNNING, TASK_STOPPED, Task
from kernelmodel.mm.filemap_wb import filemap_write_and_wait
from kernelmodel.mm.page_lists import PL_LOCKED
from kernelmodel.mm.page_writeback import WB_SYNC_NONE, WritebackControl
from kernelmodel.oracle.oracle import oracle_fsync_acked, oracle_fsync_begin, vl_verify_durable
from machine.board import Machine, MachineConfig
from tests.kernelmodel.frames_support import run_frame

#: FsyncOp's phases from ->fsync to filemap_fdatawait's return (->fsync, sync_inode,
#: filemap_fdatawait)
_IN_FSYNC_OR_FDATAWAIT = (3, 4, 5)

MODES = ("tags", "lists")


def make_kernel(mode: str) -> Kernel:
    m = Machine(MachineConfig(16 << 20, 64 << 20))
    return vl_start_kernel(m, KernelConfig(swap_bytes=8 << 20, writeback=mode))


def _open(k: Kernel, task: Task, inode: Inode, path: str) -> None:
    iget(inode)
    f = vl_alloc_file(k, inode, path, 2)
    task.files[task.next_fd] = f.f_id
    task.next_fd += 1


def _run(k: Kernel, jobs: list[tuple[Task, Callable[[], int]]], until: Callable[[], bool],
         limit: int = 200_000) -> None:
    """Round-robin the hand-driven jobs; advance the machine when none can run."""
    done: set[int] = set()
    n = 0
    while not until():
        ready = [(t, f) for t, f in jobs if t.pid not in done and t.state == TASK_RUNNING]
        if not ready:
            assert step_machine(k), "deadlock"
        for t, f in ready:
            if t.state == TASK_RUNNING and f() == KOP_DONE:
                done.add(t.pid)
        n += 1
        assert n < limit


def _race_a(mode: str) -> tuple[int, int, list[str]]:
    """pdflush stops after clearing P0's dirty bit, before ->writepage; fsync; power cut.

    Returns (fsync result, acknowledged bytes lost, checker problems seen on the way).
    """
    k = make_kernel(mode)
    inode, pages = make_file(k, "f", 50)
    for p in pages:
        write_page(k, inode, p, p.index + 100)
    k.breakpoints["mpage_writepages:after_clear_dirty"] = "pdflush"
    pd = fake_task(k, "pdflush")
    pd_wbc = WritebackControl(WB_SYNC_NONE, 1024, True)
    walk = vl_do_writepages_frame(k, inode.i_mapping, pd_wbc)
    assert walk is not None
    assert run_frame(k, pd, walk, pd_wbc) == KOP_BLOCKED and pd.state == TASK_STOPPED
    p0 = pages[0]  # the oldest-dirtied page (lists) and the first index (tags)
    assert PageLocked(p0) and not PageDirty(p0) and not PageWriteback(p0)
    problems = check_pagecache(k)
    if mode == "lists":
        assert p0.list_id == PL_LOCKED
    t = fake_task(k, "app")
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    jobs: list[tuple[Task, Callable[[], int]]] = [(t, lambda: run_frame(k, t, op))]
    fsync_done = [False]

    def fsync_step() -> int:
        r = run_frame(k, t, op)
        fsync_done[0] = r == KOP_DONE
        return r

    jobs = [(t, fsync_step)]
    _run(k, jobs, lambda: fsync_done[0] or t.wait_key == f"page {p0.pfn} locked")
    if not fsync_done[0]:
        # tags: fsync sleeps on P0's lock until pdflush has written it
        k.continue_task(pd)
        jobs.append((pd, lambda: run_frame(k, pd, walk, pd_wbc)))
        _run(k, jobs, lambda: fsync_done[0])
    problems += check_pagecache(k)
    k.machine.disk.power_cut()  # the crash, right after fsync returned
    lost, _p = vl_verify_durable(k)
    return op.result, lost, problems


@pytest.mark.parametrize("mode", MODES)
def test_race_a(mode: str) -> None:
    ret, lost, problems = _race_a(mode)
    assert ret == 0
    assert problems == []
    if mode == "lists":
        assert lost > 0  # fsync returned 0 and P0 never reached the disk
    else:
        assert lost == 0


def _race_b(mode: str) -> tuple[int, int]:
    """T1 fsync sleeps on P0's writeback; T2's filemap_write_and_wait returns; power cut.

    Returns (T2's result, acknowledged bytes lost).
    """
    k = make_kernel(mode)
    inode, pages = make_file(k, "f", 1)  # one page: T1 takes it off locked_pages
    write_page(k, inode, pages[0], 7)
    t1 = fake_task(k, "fsync")
    _open(k, t1, inode, "f")
    op1 = FsyncOp("f", False)
    while True:
        r = run_frame(k, t1, op1)
        assert r != KOP_DONE
        if r == KOP_BLOCKED and "writeback" in t1.wait_key:
            break
    assert k.machine.disk.queue_depth > 0  # the writes are in flight
    t2 = fake_task(k, "odirect")
    token = oracle_fsync_begin(k, inode.i_ino)
    op2 = filemap_write_and_wait(k, inode.i_mapping)
    res = drive(k, t2, lambda: run_frame(k, t2, op2))
    assert res > 0
    if op2.result == 0:
        oracle_fsync_acked(k, inode.i_ino, token)  # T2's caller was promised the pages
    k.machine.disk.power_cut()
    lost, _p = vl_verify_durable(k)
    return op2.result, lost


@pytest.mark.parametrize("mode", MODES)
def test_race_b(mode: str) -> None:
    ret, lost = _race_b(mode)
    assert ret == 0
    if mode == "lists":
        assert lost > 0  # T2 found locked_pages empty while T1 still waited on the I/O
    else:
        assert lost == 0


def _livelock_d(mode: str, max_steps: int) -> tuple[bool, int]:
    """fsync while a writer keeps dirtying the file's pages and pdflush keeps writing them.

    Between two steps of the fsync op the writer dirties the next page of a 40-page cycle;
    once fsync has passed filemap_fdatawrite, pdflush (WB_SYNC_NONE) writes the dirty pages
    out. Returns (fsync finished, fsync op steps taken).
    """
    k = make_kernel(mode)
    inode, pages = make_file(k, "f", 40)
    for p in pages:
        write_page(k, inode, p, 2)
    t = fake_task(k, "app")
    pd = fake_task(k, "pdflush")
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    steps = 0
    while steps < max_steps:
        r = run_frame(k, t, op)
        steps += 1
        if r == KOP_DONE:
            return True, steps
        write_page(k, inode, pages[steps % 40], steps)
        if op.phase in _IN_FSYNC_OR_FDATAWAIT:
            wbc = WritebackControl(WB_SYNC_NONE, 16, True)
            walk = vl_do_writepages_frame(k, inode.i_mapping, wbc)
            if walk is not None:
                drive(k, pd, lambda w=walk, c=wbc: run_frame(k, pd, w, c))
        if r == KOP_BLOCKED:
            wait_woken(k, t)
    assert op.phase in _IN_FSYNC_OR_FDATAWAIT  # still waiting in a filemap_fdatawait
    assert check_pagecache(k) == []
    return False, steps


def test_livelock_d_lists_fsync_does_not_finish() -> None:
    finished, steps = _livelock_d("lists", 3000)
    assert not finished and steps == 3000


def test_livelock_d_tags_fsync_finishes() -> None:
    finished, steps = _livelock_d("tags", 3000)
    assert finished and steps < 3000


def test_lists_walk_is_oldest_dirtied_first() -> None:
    """2.6.5 submits in dirtying order; 2.6.6 in offset order."""
    for mode, want in (("lists", [5, 2, 7, 0, 3]), ("tags", [0, 2, 3, 5, 7])):
        k = make_kernel(mode)
        inode, pages = make_file(k, "f", 8)
        for i in (5, 2, 7, 0, 3):
            write_page(k, inode, pages[i], i)
        order: list[int] = []
        pd = fake_task(k, "pdflush")
        wbc = WritebackControl(WB_SYNC_NONE, 100)
        walk = vl_do_writepages_frame(k, inode.i_mapping, wbc)
        assert isinstance(walk, MpageWritepages)
        while True:
            k.breakpoints["mpage_writepages:after_writepage"] = "pdflush"
            r = run_frame(k, pd, walk, wbc)
            for p in pages:
                if PageWriteback(p) and p.index not in order:
                    order.append(p.index)
            if r == KOP_DONE:
                break
            if pd.state == TASK_STOPPED:
                k.continue_task(pd)
            elif r == KOP_BLOCKED:
                wait_woken(k, pd)
        assert order == want, mode
        assert check_pagecache(k) == []
