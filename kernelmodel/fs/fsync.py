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
from kernelmodel.fs.fs_writeback import SyncSbInodes, WritebackSingleInode, vl_sync_inodes_sb_wbc
from kernelmodel.include.syscall_abi import EBADF, EIO
from kernelmodel.include.vmstat import TR_FSYNC_BEGIN, TR_FSYNC_END
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    PF_SYNCWRITE,
    Frame,
    KOp,
    Task,
    vl_call,
    vl_push,
)
from kernelmodel.mm.filemap_wb import (
    Fdatawrite,
    WaitOnPageWritebackRange,
    vl_fdatawait_frame,
    vl_fdatawrite,
)
from kernelmodel.mm.page_writeback import WB_SYNC_ALL, WritebackControl, wakeup_bdflush

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


class FsyncOp(Frame):
    """sys_fsync(fd) / sys_fdatasync(fd) (fs/buffer.c, 2.6.6) on the file opened as ``path``."""

    KIND = "sys_fsync"
    FIELDS = (("path", "str"), ("datasync", "bool"), ("ino", "int"), ("start_ns", "int"),
              ("token", "int"), ("ret", "int"), ("visited", "int"), ("write", "callee"),
              ("wbc", "wbc"), ("sync_inode", "callee"), ("wait", "callee"))  # fmt: skip

    def __init__(self, path: str = "", datasync: bool = False) -> None:
        super().__init__("fdatasync" if datasync else "fsync")
        self.path = path
        self.datasync = datasync
        self.ino = -1
        self.start_ns = 0
        self.token = 0
        self.ret = 0
        self.visited = 0
        self.write: Fdatawrite | None = None
        #: sync_inode's writeback_control (f_op->fsync)
        self.wbc: WritebackControl | None = None
        self.sync_inode: WritebackSingleInode | None = None
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
            self.write = vl_fdatawrite(self._inode(k).i_mapping, WB_SYNC_ALL)
            vl_push(task, self.write)
            self.phase = F_WRITE
            return KOP_BLOCKED if k.preempt_point(task, "fsync:after_down") else KOP_CONTINUE
        if phase == F_WRITE:
            return self._fdatawritten(k, task)
        if phase == F_FSYNC:
            return self._fsync(k, task)
        if phase == F_WAIT:
            return self._fdatawaited(k, task)
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

    def _fdatawritten(self, k: Kernel, task: Task) -> int:
        """filemap_fdatawrite returned."""
        write = self.write
        assert write is not None
        self.ret = write.ret
        self.visited += write.visited
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
                return self._start_wait(k, task)
            si = WritebackSingleInode(inode)
            self.wbc = si.wbc = WritebackControl(WB_SYNC_ALL, 0)
            self.sync_inode = si
            return vl_call(task, si)
        # sync_inode returned
        if self.ret == 0 and si.ret != 0:
            self.ret = -EIO
        self.sync_inode = None
        self.wbc = None
        return self._start_wait(k, task)

    def _start_wait(self, k: Kernel, task: Task) -> int:
        self.wait = vl_fdatawait_frame(self._inode(k).i_mapping)
        vl_push(task, self.wait)
        self.phase = F_WAIT
        return KOP_CONTINUE

    def _fdatawaited(self, k: Kernel, task: Task) -> int:
        """filemap_fdatawait returned."""
        wait = self.wait
        assert wait is not None
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
            n += self.write.visited_so_far()
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


#: sys_sync's passes: sync_inodes(0) = one pass without waiting; sync_inodes(1) = a pass
#: without waiting, then one with.
SYNC_PASSES: Final = (False, False, True)


class SyncOp(Frame):
    """sys_sync() = do_sync(1) (fs/buffer.c, 2.6.6)."""

    KIND = "sys_sync"
    FIELDS = (("token", "int"), ("npass", "int"), ("wbc", "wbc"), ("sb_frame", "callee"))

    def __init__(self) -> None:
        super().__init__("sync")
        self.token = 0
        self.npass = 0
        self.wbc: WritebackControl | None = None
        self.sb_frame: SyncSbInodes | None = None

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:
            self.token = k.oracle.fsync_begin(k, 0)
            wakeup_bdflush(k, 0)
            self.phase = 1
            self._start_pass(k, task)
            return KOP_CONTINUE
        # sync_sb_inodes returned
        frame = self.sb_frame
        assert frame is not None
        if SYNC_PASSES[self.npass]:
            for ino in frame.synced:
                k.oracle.fsync_acked(k, ino, self.token)
        self.npass += 1
        if self.npass < len(SYNC_PASSES):
            self._start_pass(k, task)
            return KOP_CONTINUE
        self.sb_frame = None
        self.wbc = None
        self.result = 0
        return KOP_DONE

    def _start_pass(self, k: Kernel, task: Task) -> None:
        """sync_inodes_sb(sb, wait) for the next pass."""
        self.wbc = vl_sync_inodes_sb_wbc(k, SYNC_PASSES[self.npass])
        self.sb_frame = SyncSbInodes()
        self.sb_frame.wbc = self.wbc
        vl_push(task, self.sb_frame)

    def describe(self) -> str:
        if self.sb_frame is not None:
            return f"sync (pass {self.npass + 1}): {self.sb_frame.describe()}"
        return "sync"


def sys_fsync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """fsync(2) on the file the task opened as ``insn.s``."""
    return FsyncOp(insn.s, False)


def sys_fdatasync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """fdatasync(2) on the file the task opened as ``insn.s``."""
    return FsyncOp(insn.s, True)


def sys_sync(k: Kernel, task: Task, insn: Insn) -> KOp:
    """sync(2)."""
    return SyncOp()
