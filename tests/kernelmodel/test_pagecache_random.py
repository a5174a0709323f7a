"""Random interleavings of dirtying, writeback, fsync, waits, I/O completion and page removal.

After every event the page-cache checker must find nothing, and the data oracle must find
every byte an fsync acknowledged on the disk *now* (vl_verify_durable reads only completed
writes, so it is the power-cut check without cutting the power).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wb_support import (
    add_cached_page,
    fake_task,
    make_kernel,
    step_machine,
    unqueue_fake_tasks,
    write_page,
)

from kernelmodel.check.check import check_invariants, check_pagecache
from kernelmodel.fs.fs import Inode, get_block, iget, vl_alloc_file, vl_new_inode
from kernelmodel.fs.fsync import FsyncOp, SyncOp
from kernelmodel.fs.mpage import MpageWritepages
from kernelmodel.include.page import PageDirty, PageLocked, PageWriteback, SetPageLocked
from kernelmodel.kernel.task import KOP_DONE, TASK_RUNNING, TASK_STOPPED, Task
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.filemap import remove_from_page_cache, vl_find_page_nolock
from kernelmodel.mm.filemap_wb import WaitOnPageWritebackRange, vl_fdatawait_frame
from kernelmodel.mm.page_writeback import (
    WB_SYNC_NONE,
    WritebackControl,
    clear_page_dirty,
)
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.oracle.oracle import vl_verify_durable, vl_verify_files
from tests.kernelmodel.frames_support import run_frame

NPAGES = 24


class World:
    """Two files and four hand-driven tasks: an fsync-er, a pdflush-like walker, a waiter and
    a syncer."""

    def __init__(self) -> None:
        k = make_kernel(mem_mb=8, disk_mb=32)
        self.k = k
        self.inodes: list[Inode] = []
        for name in ("a", "b"):
            inode = vl_new_inode(k, name)
            self.inodes.append(inode)
        # interleaved blocks, as two concurrent writers get them
        for i in range(NPAGES):
            for inode in self.inodes:
                assert get_block(k, inode, i, 1) > 0
        for inode in self.inodes:
            for i in range(NPAGES):
                add_cached_page(k, inode, i, i)
        self.fs_task = fake_task(k, "app")
        for inode in self.inodes:
            iget(inode)
            f = vl_alloc_file(k, inode, inode.vl_path, 2)
            self.fs_task.files[self.fs_task.next_fd] = f.f_id
            self.fs_task.next_fd += 1
        self.fsync: FsyncOp | None = None
        self.pd_task = fake_task(k, "pdflush")
        self.pd: MpageWritepages | None = None
        self.pd_wbc = WritebackControl(WB_SYNC_NONE, 8)
        self.w_task = fake_task(k, "waiter")
        self.wait: WaitOnPageWritebackRange | None = None
        self.s_task = fake_task(k, "syncer")
        self.sync: SyncOp | None = None
        self.fill = 1
        self.nchecks = 0

    def check(self) -> None:
        """check_pagecache after every event; every checker of the model every 8th event."""
        self.nchecks += 1
        full = self.nchecks % 8 == 0
        problems = check_invariants(self.k) if full else check_pagecache(self.k)
        assert problems == [], problems
        lost, detail = vl_verify_durable(self.k)
        assert lost == 0, detail

    # ---- actions ----------------------------------------------------------------------------

    def write(self, f: int, index: int) -> None:
        inode = self.inodes[f]
        page = vl_find_page_nolock(inode.i_mapping, index)
        self.fill = (self.fill + 1) & 0xFF
        if page is None:
            page = add_cached_page(self.k, inode, index, self.fill)
        if PageLocked(page):
            return  # write(2) would sleep in lock_page; skip this time
        SetPageLocked(page)
        write_page(self.k, inode, page, self.fill)
        unlock_page(self.k, page)

    def invalidate(self, f: int, index: int) -> None:
        """invalidate_inode_pages / reclaim of a clean page: drop it from the cache."""
        inode = self.inodes[f]
        page = vl_find_page_nolock(inode.i_mapping, index)
        if page is None or PageLocked(page) or PageDirty(page) or PageWriteback(page):
            return
        if page.pfn in [p.pfn for p in (self.pd.pvec if self.pd is not None else [])]:
            return  # the walk holds a reference on it
        if self.wait is not None and page in self.wait.pvec:
            return
        if self.fsync is not None:
            return
        SetPageLocked(page)
        clear_page_dirty(self.k, page)
        remove_from_page_cache(self.k, page)
        unlock_page(self.k, page)
        page_cache_release(self.k, page)

    def _step(self, task: Task, fn: Callable[[], int]) -> bool:
        """Step a job if its task can run; True when it finished."""
        if task.state != TASK_RUNNING:
            return False
        done = fn() == KOP_DONE
        unqueue_fake_tasks(self.k)
        return done

    def fsync_step(self, f: int, datasync: bool) -> None:
        k = self.k
        if self.fsync is None:
            self.fsync = FsyncOp(self.inodes[f].vl_path, datasync)
        op = self.fsync
        for _ in range(50):  # run until it sleeps (or ends), as the scheduler would
            if self._step(self.fs_task, lambda: run_frame(k, self.fs_task, op)):
                assert op.result == 0
                self.fsync = None
                return
            if self.fs_task.state != TASK_RUNNING:
                return
            self.check()

    def pdflush_step(self, f: int, nr: int, stop: bool) -> None:
        k = self.k
        if self.pd_task.state == TASK_STOPPED:
            return  # stays at its preemption point until resume()
        if self.pd is None:
            self.pd = MpageWritepages(self.inodes[f].i_mapping)
            self.pd_wbc = WritebackControl(WB_SYNC_NONE, nr)
            if stop:
                k.breakpoints["mpage_writepages:after_clear_dirty"] = "pdflush"
        walk = self.pd
        if self._step(self.pd_task, lambda: run_frame(k, self.pd_task, walk, self.pd_wbc)):
            self.pd = None
            k.breakpoints.pop("mpage_writepages:after_clear_dirty", None)

    def resume(self) -> None:
        """Continue the walker from its preemption point."""
        if self.pd_task.state == TASK_STOPPED:
            self.k.continue_task(self.pd_task)
            unqueue_fake_tasks(self.k)

    def wait_step(self, f: int) -> None:
        k = self.k
        if self.wait is None:
            self.wait = vl_fdatawait_frame(self.inodes[f].i_mapping)
        w = self.wait
        if self._step(self.w_task, lambda: run_frame(k, self.w_task, w)):
            self.wait = None

    def sync_step(self) -> None:
        k = self.k
        if self.sync is None:
            self.sync = SyncOp()
        op = self.sync
        if self._step(self.s_task, lambda: run_frame(k, self.s_task, op)):
            self.sync = None

    def event(self) -> None:
        step_machine(self.k)

    def busy(self) -> bool:
        return any(j is not None for j in (self.fsync, self.pd, self.wait, self.sync))

    def finish(self) -> None:
        """Let every job run to its end, then check every byte."""
        k = self.k
        n = 0
        while self.busy():
            if self.pd_task.state == TASK_STOPPED:
                k.continue_task(self.pd_task)
                unqueue_fake_tasks(k)
            progressed = False
            if self.fsync is not None and self.fs_task.state == TASK_RUNNING:
                self.fsync_step(0, False)
                progressed = True
            if self.pd is not None and self.pd_task.state == TASK_RUNNING:
                self.pdflush_step(0, 1, False)
                progressed = True
            if self.wait is not None and self.w_task.state == TASK_RUNNING:
                self.wait_step(0)
                progressed = True
            if self.sync is not None and self.s_task.state == TASK_RUNNING:
                self.sync_step()
                progressed = True
            if not progressed:
                assert step_machine(k), "deadlock among the jobs"
            self.check()
            n += 1
            assert n < 200_000
        while k.machine.disk.queue_depth > 0:
            step_machine(k)
        self.check()
        assert check_invariants(k) == []
        assert vl_verify_files(k) == []


ACTIONS = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 1), st.integers(0, NPAGES + 4)),
    st.tuples(st.just("fsync"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("pdflush"), st.integers(0, 1), st.integers(1, 40), st.booleans()),
    st.tuples(st.just("wait"), st.integers(0, 1)),
    st.tuples(st.just("sync")),
    st.tuples(st.just("resume")),
    st.tuples(st.just("event")),
    st.tuples(st.just("invalidate"), st.integers(0, 1), st.integers(0, NPAGES - 1)),
)


def _apply(w: World, action: tuple[object, ...]) -> None:
    kind = action[0]
    if kind == "write":
        w.write(int(action[1]), int(action[2]))  # type: ignore[call-overload]
    elif kind == "fsync":
        w.fsync_step(int(action[1]), bool(action[2]))  # type: ignore[call-overload]
    elif kind == "pdflush":
        w.pdflush_step(int(action[1]), int(action[2]), bool(action[3]))  # type: ignore[call-overload]
    elif kind == "wait":
        w.wait_step(int(action[1]))  # type: ignore[call-overload]
    elif kind == "sync":
        w.sync_step()
    elif kind == "resume":
        w.resume()
    elif kind == "event":
        w.event()
    else:
        w.invalidate(int(action[1]), int(action[2]))  # type: ignore[call-overload]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=1, max_size=120))
def test_random_writeback_keeps_every_invariant(actions: list[tuple[object, ...]]) -> None:
    w = World()
    w.check()
    for action in actions:
        _apply(w, action)
        w.check()
    w.finish()


def test_a_fixed_busy_interleaving() -> None:
    """A deterministic long run of the same actions (a smoke test with no shrinking)."""
    from kernelmodel.lib.rng import Rng

    w = World()
    rng = Rng(11)
    for _ in range(1500):
        r = rng.below(100)
        f = rng.below(2)
        if r < 35:
            w.write(f, rng.below(NPAGES + 2))
        elif r < 55:
            w.fsync_step(f, rng.below(2) == 0)
        elif r < 67:
            w.pdflush_step(f, 1 + rng.below(30), rng.below(3) == 0)
        elif r < 70:
            w.resume()
        elif r < 76:
            w.wait_step(f)
        elif r < 79:
            w.sync_step()
        elif r < 95:
            w.event()
        else:
            w.invalidate(f, rng.below(NPAGES))
        w.check()
    w.finish()
    assert w.k.vmstat.fsync_calls > 0
