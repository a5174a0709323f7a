"""fsync/fdatasync/sync: the fsync guarantee and its races."""

from __future__ import annotations

from collections.abc import Callable

from test_fs import Driver, boot_kernel, new_task
from test_wb_support import (
    drain_io,
    drive,
    fake_task,
    make_file,
    make_kernel,
    step_machine,
    wait_woken,
    write_page,
)

from kernelmodel.check.check import check_pagecache
from kernelmodel.fs.fs import I_DIRTY_SYNC, Inode, iget, vl_alloc_file
from kernelmodel.fs.fsync import FsyncOp, SyncOp
from kernelmodel.fs.mpage import MpageWritepages
from kernelmodel.fs.open import OpenOp
from kernelmodel.fs.read_write import WriteOp
from kernelmodel.include.page import PageWriteback, SetPageError
from kernelmodel.include.syscall_abi import O_CREAT, O_RDWR
from kernelmodel.include.vmstat import TR_FSYNC_BEGIN, TR_FSYNC_END
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_DONE,
    PF_SYNCWRITE,
    TASK_RUNNING,
    TASK_STOPPED,
    KOp,
    Task,
)
from kernelmodel.lib.radix_tree import radix_tree_tag_clear, radix_tree_tagged
from kernelmodel.mm.filemap import AS_EIO, PAGECACHE_TAG_DIRTY, mapping_set_error
from kernelmodel.mm.filemap_wb import (
    WaitOnPageWritebackRange,
    filemap_write_and_wait,
    vl_fdatawait_frame,
)
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    WritebackControl,
    set_page_dirty,
    set_page_writeback,
)
from kernelmodel.oracle.oracle import vl_verify_durable
from tests.kernelmodel.frames_support import run_frame, stack_round_trips

RW = O_CREAT | O_RDWR


def _open(k: Kernel, task: Task, inode: Inode, path: str) -> None:
    iget(inode)
    f = vl_alloc_file(k, inode, path, 2)
    task.files[task.next_fd] = f.f_id
    task.next_fd += 1


class Runner:
    """Round-robin over hand-driven tasks: each has a step function returning a KOP_ code."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.jobs: list[tuple[Task, Callable[[], int]]] = []
        self.done: set[int] = set()

    def add(self, task: Task, fn: Callable[[], int]) -> None:
        self.jobs.append((task, fn))

    def runnable(self) -> list[tuple[Task, Callable[[], int]]]:
        return [
            (t, f) for t, f in self.jobs if t.pid not in self.done and t.state == TASK_RUNNING
        ]

    def step(self) -> bool:
        """Run every runnable job once; if none, advance the machine. False when all done."""
        if all(t.pid in self.done for t, _f in self.jobs):
            return False
        ready = self.runnable()
        if not ready:
            assert step_machine(self.k), "deadlock: every job sleeps and no event is pending"
        for t, f in ready:
            if t.state != TASK_RUNNING:
                continue
            if f() == KOP_DONE:
                self.done.add(t.pid)
        for t, _f in self.jobs:
            if t.pid in self.k.runqueue:
                self.k.runqueue.remove(t.pid)
        return True

    def run_until(self, cond: Callable[[], bool], limit: int = 1_000_000) -> None:
        n = 0
        while not cond():
            assert self.step() or cond(), "all jobs finished before the condition held"
            n += 1
            assert n < limit


def _race_a(k: Kernel, pre_fix: bool) -> tuple[int, int]:
    """Race A. Returns (fsync result, acknowledged bytes lost after a cut)."""
    inode, pages = make_file(k, "f", 50)
    for p in pages:
        write_page(k, inode, p, p.index + 100)
    # pdflush: WB_SYNC_NONE from writeback_index 20, stopped after clear_page_dirty_for_io(P20)
    inode.i_mapping.writeback_index = 20
    k.breakpoints["mpage_writepages:after_clear_dirty"] = "pdflush"
    pd = fake_task(k, "pdflush")
    walk = MpageWritepages(inode.i_mapping)
    pd_wbc = WritebackControl(WB_SYNC_NONE, 1024, True)
    assert run_frame(k, pd, walk, pd_wbc) == KOP_BLOCKED and pd.state == TASK_STOPPED
    if pre_fix:
        # 2.6.5's test_clear_page_dirty (and a tag-clearing variant of the walk) drops the tag
        radix_tree_tag_clear(inode.i_mapping.page_tree, 20, PAGECACHE_TAG_DIRTY)
    t = fake_task(k, "app")
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    r = Runner(k)
    r.add(t, lambda: run_frame(k, t, op))
    r.run_until(
        lambda: t.pid in r.done or (t.state != TASK_RUNNING and k.machine.disk.queue_depth == 0)
    )
    if t.pid not in r.done:
        # fsync is blocked on page 20 (its lock): let pdflush resume and finish
        assert not pre_fix
        assert t.wait_key == f"page {pages[20].pfn} locked"
        k.continue_task(pd)
        r.add(pd, lambda: run_frame(k, pd, walk, pd_wbc))
        r.run_until(lambda: t.pid in r.done)
    # power cut right after fsync returned
    k.machine.disk.power_cut()
    lost, _problems = vl_verify_durable(k)
    return op.result, lost


def test_race_a_fsync_waits_for_the_page_pdflush_holds() -> None:
    k = make_kernel()
    ret, lost = _race_a(k, pre_fix=False)
    assert ret == 0
    assert lost == 0
    assert k.vmstat.fsync_calls == 1


def test_race_a_without_the_kept_tag_loses_acknowledged_data() -> None:
    """Control: if the DIRTY tag went with PG_dirty (the hole 2.6.6 closed), the oracle sees it."""
    k = make_kernel()
    ret, lost = _race_a(k, pre_fix=True)
    assert ret == 0
    assert lost == 4096


def test_race_b_two_waiters_both_wait() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 40)
    for p in pages:
        write_page(k, inode, p, 7)
    t1 = fake_task(k, "fsync")
    _open(k, t1, inode, "f")
    op1 = FsyncOp("f", False)
    t2 = fake_task(k, "odirect")
    op2 = filemap_write_and_wait(k, inode.i_mapping)
    r = Runner(k)
    tagged_at_return: list[bool] = []

    def wrap(step: Callable[[], int]) -> Callable[[], int]:
        def f() -> int:
            res = step()
            if res == KOP_DONE:
                tagged_at_return.append(radix_tree_tagged(inode.i_mapping.page_tree, 1) != 0)
            return res

        return f

    r.add(t1, wrap(lambda: run_frame(k, t1, op1)))
    r.add(t2, wrap(lambda: run_frame(k, t2, op2)))
    r.run_until(lambda: len(r.done) == 2)
    assert tagged_at_return == [False, False]
    assert op1.result == 0 and op2.result == 0


def test_fdatawait_walks_forward_only() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 100)
    for p in pages:
        write_page(k, inode, p, 1)
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    drive(k, t, lambda: run_frame(k, t, walk, WritebackControl(WB_SYNC_ALL, 1000)))
    w = vl_fdatawait_frame(inode.i_mapping)
    seen: list[int] = []
    requeued = False
    while True:
        res = run_frame(k, t, w)
        seen.append(w.index)
        if res == KOP_DONE:
            break
        if w.index > 50 and not requeued:
            # another writer puts page 10 (behind the cursor) under writeback again
            drain_io(k)
            set_page_writeback(k, pages[10])
            requeued = True
        if res == KOP_BLOCKED:
            wait_woken(k, t)
    assert seen == sorted(seen)
    assert requeued and PageWriteback(pages[10])  # not waited on: bounded forward walk
    assert w.visited <= 100
    assert w.ret == 0


def test_fdatawait_reports_page_and_mapping_errors_once() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    t = fake_task(k)
    mapping_set_error(inode.i_mapping, AS_EIO)
    w = WaitOnPageWritebackRange(inode.i_mapping, 0, 0xFFFFFFFF)
    drive(k, t, lambda: run_frame(k, t, w))
    assert w.ret == -5
    w2 = vl_fdatawait_frame(inode.i_mapping)
    drive(k, t, lambda: run_frame(k, t, w2))
    assert w2.ret == 0  # test-and-clear
    set_page_writeback(k, pages[1])
    SetPageError(pages[1])
    from kernelmodel.mm.filemap_wb import end_page_writeback

    end_page_writeback(k, pages[1])
    set_page_writeback(k, pages[1])
    w3 = vl_fdatawait_frame(inode.i_mapping)
    res = run_frame(k, t, w3)
    assert res == KOP_BLOCKED
    end_page_writeback(k, pages[1])
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, w3))
    assert w3.ret == -5
    assert run_frame(k, t, WaitOnPageWritebackRange(inode.i_mapping, 5, 4)) == KOP_DONE


def test_fsync_while_a_writer_redirties_page_zero_terminates() -> None:
    """Livelock D: both walks are single forward sweeps."""
    k = make_kernel()
    inode, pages = make_file(k, "f", 100)
    for p in pages:
        write_page(k, inode, p, 2)
    t = fake_task(k)
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    steps = 0
    while True:
        res = run_frame(k, t, op)
        steps += 1
        if res == KOP_DONE:
            break
        write_page(k, inode, pages[0], steps)  # redirty page 0 behind the cursor, every step
        if res == KOP_BLOCKED:
            wait_woken(k, t)
        assert steps < 100_000
    assert op.result == 0
    assert k.vmstat.fsync_pages_visited <= 2 * 100


def test_fsync_semantics_counters_trace_and_latency() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 8)
    for p in pages:
        write_page(k, inode, p, 3)
    inode.i_state |= I_DIRTY_SYNC
    t = fake_task(k)
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    start = k.now()
    seen_syncwrite = False

    def step() -> int:
        nonlocal seen_syncwrite
        res = run_frame(k, t, op)
        seen_syncwrite = seen_syncwrite or (t.flags & PF_SYNCWRITE) != 0
        return res

    drive(k, t, step)
    assert op.result == 0
    assert seen_syncwrite and not (t.flags & PF_SYNCWRITE)
    assert inode.i_sem == 0
    assert inode.i_state == 0 and k.sb.s_dirty == [] and k.sb.s_io == []
    assert k.vmstat.nr_dirty == 0 and k.vmstat.nr_writeback == 0
    # 8 dirty pages; ->fsync (sync_inode of the I_DIRTY_SYNC inode) already waited on their
    # I/O, so the final fdatawait finds none (the inner wait is not counted)
    assert k.vmstat.fsync_pages_visited == 8
    kinds = [e.kind for e in k.trace.since(0)]
    assert TR_FSYNC_BEGIN in kinds and TR_FSYNC_END in kinds
    assert k.wb.fsync_done == 1 and k.wb.fsync_latency_last == k.now() - start > 0
    assert check_pagecache(k) == []
    k.machine.disk.power_cut()
    assert vl_verify_durable(k)[0] == 0


def test_fdatasync_skips_a_timestamp_only_inode_write() -> None:
    k = make_kernel()
    inode, _pages = make_file(k, "f", 2)
    from kernelmodel.fs.fs_writeback import _mark_inode_dirty

    _mark_inode_dirty(k, inode, I_DIRTY_SYNC)
    t = fake_task(k)
    _open(k, t, inode, "f")
    op = FsyncOp("f", True)
    drive(k, t, lambda: run_frame(k, t, op))
    assert op.result == 0
    assert inode.i_state == I_DIRTY_SYNC  # fdatasync: the inode stays dirty
    op2 = FsyncOp("f", False)
    drive(k, t, lambda: run_frame(k, t, op2))
    assert inode.i_state == 0 and k.sb.s_dirty == []


def test_fsync_errors_first_error_wins_and_ebadf() -> None:
    k = make_kernel()
    inode, _pages = make_file(k, "f", 2)
    t = fake_task(k)
    op = FsyncOp("nope", False)
    drive(k, t, lambda: run_frame(k, t, op))
    assert op.result == -9
    _open(k, t, inode, "f")
    mapping_set_error(inode.i_mapping, AS_EIO)
    op = FsyncOp("f", False)
    drive(k, t, lambda: run_frame(k, t, op))
    assert op.result == -5
    assert k.wb.fsync_done == 1


def test_fsyncs_of_one_inode_are_serialised_by_i_sem() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 10)
    for p in pages:
        write_page(k, inode, p, 4)
    t1 = fake_task(k, "a")
    t2 = fake_task(k, "b")
    _open(k, t1, inode, "f")
    _open(k, t2, inode, "f")
    op1 = FsyncOp("f", False)
    op2 = FsyncOp("f", False)
    r = Runner(k)
    order: list[str] = []

    def wrap(name: str, step: Callable[[], int]) -> Callable[[], int]:
        def f() -> int:
            res = step()
            if res == KOP_DONE:
                order.append(name)
            return res

        return f

    r.add(t1, wrap("a", lambda: run_frame(k, t1, op1)))
    r.add(t2, wrap("b", lambda: run_frame(k, t2, op2)))
    saw_b_waiting = False
    while len(r.done) < 2:
        r.step()
        saw_b_waiting = saw_b_waiting or t2.wait_key == f"inode {inode.i_ino} i_sem"
    assert saw_b_waiting
    assert order == ["a", "b"]


def test_sys_sync_writes_waits_and_acknowledges() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 20)
    b, pb = make_file(k, "b", 20)
    for p in pa + pb:
        write_page(k, a if p in pa else b, p, 9)
    t = fake_task(k)
    op = SyncOp()
    drive(k, t, lambda: run_frame(k, t, op))
    assert op.result == 0
    assert k.vmstat.nr_dirty == 0 and k.vmstat.nr_writeback == 0
    assert k.sb.s_dirty == [] and k.sb.s_io == []
    k.machine.disk.power_cut()
    assert vl_verify_durable(k)[0] == 0


def test_fsync_op_state_round_trip_while_blocked() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 30)
    for p in pages:
        write_page(k, inode, p, 5)
    t = fake_task(k)
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    while run_frame(k, t, op) != KOP_BLOCKED:
        pass
    assert len(stack_round_trips(k, t.kstack)) > 1
    stack_round_trips(k, [SyncOp()])
    set_page_dirty(k, pages[0])


def test_every_writeback_op_round_trips_at_every_step() -> None:
    """save -> load -> save is the identity for every task stack, whatever its frames' phases."""
    from kernelmodel.fs.fs_writeback import _sync_single_inode, sync_sb_inodes, writeback_inodes
    from kernelmodel.mm.filemap_wb import filemap_fdatawait, filemap_fdatawrite, filemap_flush
    from kernelmodel.mm.page_writeback import (
        BalanceDirtyPagesOp,
        vl_start_pdflush,
        wakeup_bdflush,
    )

    k = make_kernel()
    vl_start_pdflush(k)
    a, pa = make_file(k, "a", 120)
    b, pb = make_file(k, "b", 60)
    for p in pa:
        write_page(k, a, p, 1)
    for p in pb:
        write_page(k, b, p, 2)
    wakeup_bdflush(k, 0)
    r = Runner(k)
    ops: list[tuple[Task, KOp]] = []

    def add(name: str, op: KOp) -> None:
        t = fake_task(k, name)
        if isinstance(op, FsyncOp):
            _open(k, t, a, "a")
        ops.append((t, op))
        r.add(t, lambda: run_frame(k, t, op))

    add("fsync", FsyncOp("a", False))
    add("sync", SyncOp())
    add("bdp", BalanceDirtyPagesOp(a.i_ino, 48))
    add("fdw", filemap_fdatawrite(k, b.i_mapping))
    add("flush", filemap_flush(k, a.i_mapping))
    add("fdwait", filemap_fdatawait(k, a.i_mapping))
    add("ww", filemap_write_and_wait(k, b.i_mapping))
    add("wbi", writeback_inodes(k, WritebackControl(WB_SYNC_NONE, 30)))
    add("ssi", sync_sb_inodes(k, WritebackControl(WB_SYNC_ALL, 1000)))
    add("s1", _sync_single_inode(k, b, WritebackControl(WB_SYNC_ALL, 1000)))
    seen: set[str] = set()
    n = 0
    while len(r.done) < len(ops) and n < 20_000:
        r.step()
        n += 1
        for t in k.tasks.values():
            if t.kstack:
                seen.add(repr(stack_round_trips(k, t.kstack)))
    assert len(r.done) == len(ops)
    # many distinct intermediate states were exercised (the elevator merges adjacent bios,
    # so fewer completions interleave with the ops than one request per bio would give)
    assert len(seen) > 60


# ---- end to end: scheduler, pdflush, write(2), fsync(2) and a power cut -------------------------


def _run_until(d: Driver, cond: Callable[[], bool], limit: int = 2_000_000) -> None:
    n = 0
    while not cond():
        d._feed()
        assert d.k.machine.step(), "deadlock"
        d.verify()
        n += 1
        assert n < limit


def _fsync_done(d: Driver, task: Task, nops: int) -> Callable[[], bool]:
    def cond() -> bool:
        d._feed()
        return len(d.results[task.pid]) >= nops

    return cond


def test_fsync_guarantee_with_a_concurrent_writer_and_pdflush() -> None:
    from kernelmodel.mm.page_writeback import wakeup_bdflush

    k = boot_kernel(mem_mb=16, disk_mb=64, swap_mb=8, timeslice_ns=50_000)
    w = new_task(k, "writer")
    f = new_task(k, "fsyncer")
    d = Driver(k)
    d.add(w, [OpenOp("log", RW), WriteOp("log", 0, 1 << 20, 11)])
    d.run()
    d.add(w, [WriteOp("log", 1 << 20, 1 << 20, 12), WriteOp("log", 4096 * 10, 65536, 13)])
    d.add(f, [OpenOp("log", RW), FsyncOp("log", False)])
    wakeup_bdflush(k, 0)  # pdflush writes the same file back at the same time
    _run_until(d, _fsync_done(d, f, 2))
    assert d.results[f.pid][1] == 0
    k.machine.disk.power_cut()  # right after fsync returned: in-flight writes are lost
    lost, problems = vl_verify_durable(k)
    assert lost == 0, problems
    inode = k.sb.s_inodes[k.sb.s_names["log"]]
    assert len(k.oracle.files[inode.i_ino].acked) > 0
    assert k.vmstat.fsync_calls == 1 and k.wb.fsync_done == 1


def test_race_a_end_to_end_with_a_stopped_pdflush() -> None:
    from kernelmodel.mm.page_writeback import wakeup_bdflush
    from kernelmodel.mm.pdflush import PF_FLUSHER

    k = boot_kernel(mem_mb=16, disk_mb=64, swap_mb=8)
    w = new_task(k, "writer")
    f = new_task(k, "fsyncer")
    d = Driver(k)
    d.add(w, [OpenOp("data", RW), WriteOp("data", 0, 128 * 4096, 21)])
    d.run()
    inode = k.sb.s_inodes[k.sb.s_names["data"]]
    inode.i_mapping.writeback_index = 40
    k.breakpoints["mpage_writepages:after_clear_dirty"] = "pdflush"
    assert wakeup_bdflush(k, 0) == 0
    pd = [t for t in k.tasks.values() if t.flags & PF_FLUSHER]

    def pdflush_stopped() -> bool:
        return any(t.state == TASK_STOPPED and t.stopped_at != "" for t in pd)

    _run_until(d, pdflush_stopped)
    stopped = next(t for t in pd if t.state == TASK_STOPPED)
    from kernelmodel.include.page import PageDirty, PageLocked
    from kernelmodel.mm.filemap import vl_find_page_nolock

    p40 = vl_find_page_nolock(inode.i_mapping, 40)
    assert p40 is not None and PageLocked(p40) and not PageDirty(p40)  # held by pdflush
    d.add(f, [OpenOp("data", RW), FsyncOp("data", False)])
    _run_until(d, lambda: f.wait_key == f"page {p40.pfn} locked")
    k.continue_task(stopped)
    _run_until(d, _fsync_done(d, f, 2))
    assert d.results[f.pid][1] == 0
    k.machine.disk.power_cut()
    lost, problems = vl_verify_durable(k)
    assert lost == 0, problems


def test_programs_fsync_while_another_program_writes_the_same_file() -> None:
    """User programs through the system-call table; durability checked after every event
    (as if the power failed then) and once more after a real power cut at the last fsync."""
    from kernelmodel.check.check import check_invariants
    from kernelmodel.include.syscall_abi import (
        SYS_close,
        SYS_fdatasync,
        SYS_fsync,
        SYS_open,
        SYS_write,
    )
    from kernelmodel.include.vmstat import TR_FSYNC_END
    from kernelmodel.oracle.oracle import vl_verify_files
    from machine.isa import OP_ENDLOOP, OP_LOOP, OP_SYSCALL, Insn

    def sys(nr: int, s: str = "", b: int = 0, c: int = 0, d: int = 0) -> Insn:
        return Insn(OP_SYSCALL, nr, b, c, d, s)

    k = boot_kernel(mem_mb=16, disk_mb=64, swap_mb=8, timeslice_ns=20_000)
    writer = [
        sys(SYS_open, "log", O_CREAT | O_RDWR),
        Insn(OP_LOOP, 150, 3),
        sys(SYS_write, "log", -1, 3 * 4096 + 100, 5),
        Insn(OP_ENDLOOP, 1),
        sys(SYS_close, "log"),
    ]
    syncer = [
        sys(SYS_open, "log", O_CREAT | O_RDWR),
        Insn(OP_LOOP, 6, 5),
        sys(SYS_write, "log", 4096, 6 * 4096, 9),
        sys(SYS_fsync, "log"),
        sys(SYS_fdatasync, "log"),
        Insn(OP_ENDLOOP, 1),
        sys(SYS_close, "log"),
    ]
    k.spawn("writer", k.add_program("writer", writer))
    k.spawn("syncer", k.add_program("syncer", syncer))
    seq = 0
    ends = 0
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step()
        n += 1
        assert n < 3_000_000
        for ev in k.trace.since(seq):
            seq = ev.seq + 1
            if ev.kind == TR_FSYNC_END:
                assert ev.b == 0
                ends += 1
        lost, problems = vl_verify_durable(k)
        assert lost == 0, problems
        if n % 50 == 0:
            bad = check_invariants(k) + vl_verify_files(k)
            assert bad == [], bad
    assert ends == 12 and k.vmstat.fsync_calls == 12
    assert check_invariants(k) == []
    k.machine.disk.power_cut()
    assert vl_verify_durable(k) == (0, [])
