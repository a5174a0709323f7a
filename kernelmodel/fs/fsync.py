"""fsync(2), fdatasync(2) and sync(2) (fs/buffer.c of 2.6.6: sys_fsync, sys_fdatasync, do_sync).

``sys_fsync`` / ``sys_fdatasync``, unchanged since 2.6.5 except that the two
walks are now in-order tree walks:

1. -EBADF when the task has no such open file (every model file has an f_op->fsync);
2. ``down(&inode->i_sem)`` (fsyncs of one inode are serialised, but not against pdflush,
   sync(2) or page-fault dirtying);
3. set PF_SYNCWRITE;
4. ``filemap_fdatawrite`` (WB_SYNC_ALL: one sweep of the DIRTY tag from index 0);
5. ``f_op->fsync(file, dentry, datasync)``: the model filesystem behaves as ext2_sync_file:
   nothing if the inode is clean (for fdatasync: unless I_DIRTY_DATASYNC), else sync_inode
   (__writeback_single_inode with WB_SYNC_ALL and nr_to_write = 0: no pages, a no-op inode
   write, a wait on the inode's pages, and the inode leaves the dirty lists if clean);
6. ``filemap_fdatawait`` (one sweep of the WRITEBACK tag from index 0);
7. the first error wins; clear PF_SYNCWRITE;
8. ``up(i_sem)``.

Why fsync is reliable in 2.6.6 (Race A): a page that pdflush has taken
through clear_page_dirty_for_io keeps its DIRTY tag while locked, so step 4 finds it, sleeps
in lock_page until pdflush has set PG_writeback, then waits on the writeback (WB_SYNC_ALL);
step 6 finds every page still under writeback through its tag (Race B).

Instrumentation (no kernel counterpart): ``fsync_calls`` counts calls; ``fsync_pages_visited``
adds the pages looked up by steps 4 and 6 (the two sweeps that bound livelock D) when a call
returns, and the metric of the same name also counts the calls still running
(``vl_visited_so_far``); the walks of step 5 (sync_inode) are not counted; the latency from
call to return goes to ``k.wb`` (``vl_metrics()["fsync_latency_ns"]`` is the maximum);
TR_FSYNC_BEGIN / TR_FSYNC_END trace records; the data oracle is told when an fsync starts and
when it returns 0 (its pages are then acknowledged, for power-cut checks).

``sys_sync`` is do_sync(1): wakeup_bdflush(0), then sync_inodes(0) (one WB_SYNC_HOLD pass)
and sync_inodes(1) (a WB_SYNC_HOLD pass and a WB_SYNC_ALL pass). Superblocks, quotas and
->sync_fs have nothing to do in the model. The oracle acknowledges the inodes the WB_SYNC_ALL
pass wrote and waited on: in 2.6.6 sync(2) does not wait for I/O pdflush started on inodes
that were clean by then.

Invariants:
    * an FsyncOp holds i_sem from F_WRITE to F_END, and PF_SYNCWRITE meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import (
    I_DIRTY,
    I_DIRTY_DATASYNC,
    Inode,
    up_i_sem,
    vl_down_i_sem,
    vl_fget_path,
)
from kernelmodel.fs.fs_writeback import (
    SyncSbInodes,
    SyncSbInodesOp,
    SyncSingleInodeOp,
    WritebackSingleInode,
    vl_sync_inodes_sb_wbc,
)
from kernelmodel.include.syscall_abi import EBADF, EIO
from kernelmodel.include.vmstat import TR_FSYNC_BEGIN, TR_FSYNC_END
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, PF_SYNCWRITE, KOp, Task
from kernelmodel.mm.filemap_wb import (
    FdatawaitOp,
    Fdatawrite,
    FdatawriteOp,
    WaitOnPageWritebackRange,
    WriteAndWaitOp,
    vl_fdatawait_frame,
)
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    BalanceDirtyPagesOp,
    DoWritepagesOp,
    WritebackControl,
    vl_state_bool,
    vl_state_dict,
    vl_state_int,
    wakeup_bdflush,
)
from kernelmodel.mm.pdflush import PdflushOp

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import Insn

F_BEGIN: Final = 0
F_DOWN: Final = 1
F_WRITE: Final = 2
F_FSYNC: Final = 3
F_WAIT: Final = 4
F_END: Final = 5
F_PHASE_NAMES: Final = ("begin", "down(i_sem)", "filemap_fdatawrite", "->fsync",
                        "filemap_fdatawait", "up(i_sem)")  # fmt: skip


class FsyncOp(KOp):
    """sys_fsync(fd) / sys_fdatasync(fd) (fs/buffer.c, 2.6.6) on the file opened as ``path``."""

    def __init__(self, path: str, datasync: bool) -> None:
        super().__init__("fdatasync" if datasync else "fsync")
        self.path = path
        self.datasync = datasync
        self.ino = -1
        self.start_ns = 0
        self.token = 0
        self.ret = 0
        self.visited = 0
        self.write: Fdatawrite | None = None
        self.sync_inode: WritebackSingleInode | None = None
        self.sync_wbc: WritebackControl | None = None
        self.wait: WaitOnPageWritebackRange | None = None

    def _inode(self, k: Kernel) -> Inode:
        inode = k.sb.s_inodes.get(self.ino)
        assert inode is not None
        return inode

    def step(self, k: Kernel, task: Task) -> int:
        phase = self.phase
        if phase == F_BEGIN:
            return self._begin(k, task)
        if phase == F_DOWN:
            if not vl_down_i_sem(k, task, self._inode(k)):
                return KOP_BLOCKED
            task.flags |= PF_SYNCWRITE
            self.write = Fdatawrite(k, self._inode(k).i_mapping, WB_SYNC_ALL)
            self.phase = F_WRITE
            return KOP_BLOCKED if k.preempt_point(task, "fsync:after_down") else KOP_CONTINUE
        if phase == F_WRITE:
            return self._fdatawrite(k, task)
        if phase == F_FSYNC:
            return self._fsync(k, task)
        if phase == F_WAIT:
            return self._fdatawait(k, task)
        return self._end(k, task)

    def _begin(self, k: Kernel, task: Task) -> int:
        """fget; no file: -EBADF. Starts the latency clock and tells the oracle."""
        _fd, f = vl_fget_path(k, task, self.path)
        if f is None or f.f_ino not in k.sb.s_inodes:
            self.result = -EBADF
            return KOP_DONE
        self.ino = f.f_ino
        self.start_ns = k.now()
        self.token = k.oracle.fsync_begin(k, self.ino)
        k.vmstat.fsync_calls += 1
        k.trace.emit(k.now(), TR_FSYNC_BEGIN, task.pid, self.ino, int(self.datasync), self.path)
        self.phase = F_DOWN
        return KOP_CONTINUE

    def _fdatawrite(self, k: Kernel, task: Task) -> int:
        write = self.write
        assert write is not None
        r = write.run(k, task)
        if r != KOP_DONE:
            return r
        self.ret = write.ret
        self.visited += write.visited()
        self.write = None
        self.phase = F_FSYNC
        return KOP_BLOCKED if k.preempt_point(task, "fsync:after_fdatawrite") else KOP_CONTINUE

    def _fsync(self, k: Kernel, task: Task) -> int:
        """f_op->fsync as ext2_sync_file: sync_inode when the inode (data) is dirty."""
        inode = self._inode(k)
        si = self.sync_inode
        if si is None:
            dirty = (inode.i_state & I_DIRTY) != 0
            if self.datasync and not (inode.i_state & I_DIRTY_DATASYNC):
                dirty = False
            if not dirty:
                return self._start_wait(k)
            si = WritebackSingleInode(inode)
            self.sync_inode = si
            self.sync_wbc = WritebackControl(WB_SYNC_ALL, 0)
        wbc = self.sync_wbc
        assert wbc is not None
        r = si.run(k, task, wbc)
        if r != KOP_DONE:
            return r
        if self.ret == 0 and si.ret != 0:
            self.ret = -EIO
        self.sync_inode = None
        self.sync_wbc = None
        return self._start_wait(k)

    def _start_wait(self, k: Kernel) -> int:
        self.wait = vl_fdatawait_frame(self._inode(k).i_mapping)
        self.phase = F_WAIT
        return KOP_CONTINUE

    def _fdatawait(self, k: Kernel, task: Task) -> int:
        wait = self.wait
        assert wait is not None
        r = wait.run(k, task)
        if r != KOP_DONE:
            return r
        if self.ret == 0:
            self.ret = wait.ret
        self.visited += wait.visited
        self.wait = None
        self.phase = F_END
        return KOP_BLOCKED if k.preempt_point(task, "fsync:after_fdatawait") else KOP_CONTINUE

    def _end(self, k: Kernel, task: Task) -> int:
        """Clear PF_SYNCWRITE, up(i_sem); account and acknowledge."""
        task.flags &= ~PF_SYNCWRITE
        up_i_sem(k, self._inode(k))
        k.vmstat.fsync_pages_visited += self.visited
        if self.ret == 0:
            k.oracle.fsync_acked(k, self.ino, self.token)
        latency = k.now() - self.start_ns
        k.wb.vl_note_fsync_latency(latency)
        k.trace.emit(k.now(), TR_FSYNC_END, task.pid, self.ino, self.ret, f"{latency} ns")
        self.result = self.ret
        return KOP_DONE

    def vl_visited_so_far(self) -> int:
        """Pages this call has looked up so far, its current walk included."""
        n = self.visited
        if self.write is not None:
            n += self.write.visited()
        if self.wait is not None:
            n += self.wait.visited
        return n

    def describe(self) -> str:
        what = f"{self.name} {self.path}"
        if self.write is not None:
            return f"{what}: {self.write.describe()}"
        if self.wait is not None:
            return f"{what}: {self.wait.describe()}"
        return f"{what}: {F_PHASE_NAMES[self.phase]}"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["path"] = self.path
        s["datasync"] = self.datasync
        s["ino"] = self.ino
        s["start_ns"] = self.start_ns
        s["token"] = self.token
        s["ret"] = self.ret
        s["visited"] = self.visited
        s["write"] = self.write.to_state() if self.write is not None else None
        s["sync_inode"] = self.sync_inode.to_state() if self.sync_inode is not None else None
        s["sync_wbc"] = self.sync_wbc.to_state() if self.sync_wbc is not None else None
        s["wait"] = self.wait.to_state() if self.wait is not None else None
        return s

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> FsyncOp:
        path = state.get("path")
        if not isinstance(path, str):
            raise ValueError("fsync state: path must be a string")
        op = FsyncOp(path, vl_state_bool(state, "datasync"))
        op.load_base_state(state)
        op.ino = vl_state_int(state, "ino")
        op.start_ns = vl_state_int(state, "start_ns")
        op.token = vl_state_int(state, "token")
        op.ret = vl_state_int(state, "ret")
        op.visited = vl_state_int(state, "visited")
        w = vl_state_dict(state, "write")
        op.write = Fdatawrite.from_state(k, w) if w is not None else None
        si = vl_state_dict(state, "sync_inode")
        op.sync_inode = WritebackSingleInode.from_state(k, si) if si is not None else None
        sw = vl_state_dict(state, "sync_wbc")
        op.sync_wbc = WritebackControl.from_state(sw) if sw is not None else None
        t = vl_state_dict(state, "wait")
        op.wait = WaitOnPageWritebackRange.from_state(k, t) if t is not None else None
        return op


#: sys_sync's passes: sync_inodes(0) = one pass without waiting; sync_inodes(1) = a pass
#: without waiting, then one with.
SYNC_PASSES: Final = (False, False, True)


class SyncOp(KOp):
    """sys_sync() = do_sync(1) (fs/buffer.c, 2.6.6)."""

    def __init__(self) -> None:
        super().__init__("sync")
        self.token = 0
        self.npass = 0
        self.wbc: WritebackControl | None = None
        self.frame: SyncSbInodes | None = None

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:
            self.token = k.oracle.fsync_begin(k, 0)
            wakeup_bdflush(k, 0)
            self.phase = 1
            self._start_pass(k)
            return KOP_CONTINUE
        frame = self.frame
        wbc = self.wbc
        assert frame is not None and wbc is not None
        r = frame.run(k, task, wbc)
        if r != KOP_DONE:
            return r
        if SYNC_PASSES[self.npass]:
            for ino in frame.synced:
                k.oracle.fsync_acked(k, ino, self.token)
        self.npass += 1
        if self.npass < len(SYNC_PASSES):
            self._start_pass(k)
            return KOP_CONTINUE
        self.frame = None
        self.wbc = None
        self.result = 0
        return KOP_DONE

    def _start_pass(self, k: Kernel) -> None:
        """sync_inodes_sb(sb, wait) for the next pass."""
        self.wbc = vl_sync_inodes_sb_wbc(k, SYNC_PASSES[self.npass])
        self.frame = SyncSbInodes()

    def describe(self) -> str:
        if self.frame is not None:
            return f"sync (pass {self.npass + 1}): {self.frame.describe()}"
        return "sync"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["token"] = self.token
        s["npass"] = self.npass
        s["wbc"] = self.wbc.to_state() if self.wbc is not None else None
        s["frame"] = self.frame.to_state() if self.frame is not None else None
        return s

    @staticmethod
    def from_state(k: Kernel, state: dict[str, object]) -> SyncOp:
        op = SyncOp()
        op.load_base_state(state)
        op.token = vl_state_int(state, "token")
        op.npass = vl_state_int(state, "npass")
        w = vl_state_dict(state, "wbc")
        op.wbc = WritebackControl.from_state(w) if w is not None else None
        f = vl_state_dict(state, "frame")
        op.frame = SyncSbInodes.from_state(k, f) if f is not None else None
        return op


def sys_fsync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """fsync(2) on the file the task opened as ``insn.s``."""
    return FsyncOp(insn.s, False)


def sys_fdatasync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """fdatasync(2) on the file the task opened as ``insn.s``."""
    return FsyncOp(insn.s, True)


def sys_sync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """sync(2)."""
    return SyncOp()


def vl_writeback_op_from_state(k: Kernel, state: dict[str, object]) -> KOp | None:
    """Rebuild any op of the writeback modules from its ``to_state`` output.

    Returns:
        The op, or None when ``state["op"]`` names an op of another module.

    Raises:
        ValueError: the state is malformed.
    """
    name = state.get("op")
    if name == "fsync" or name == "fdatasync":
        return FsyncOp.from_state(k, state)
    if name == "sync":
        return SyncOp.from_state(k, state)
    if name == "balance_dirty_pages":
        return BalanceDirtyPagesOp.from_state(k, state)
    if name == "pdflush":
        return PdflushOp.from_state(k, state)
    if name == "do_writepages":
        return DoWritepagesOp.from_state(k, state)
    if name == "filemap_fdatawrite" or name == "filemap_flush":
        return FdatawriteOp.from_state(k, state)
    if name == "filemap_fdatawait":
        return FdatawaitOp.from_state(k, state)
    if name == "filemap_write_and_wait":
        return WriteAndWaitOp.from_state(k, state)
    if name == "writeback_inodes" or name == "sync_sb_inodes":
        return SyncSbInodesOp.from_state(k, state)
    if name == "__sync_single_inode":
        return SyncSingleInodeOp.from_state(k, state)
    return None
