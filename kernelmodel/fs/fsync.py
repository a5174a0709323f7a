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
    * an FsyncOp holds i_sem from phase 2 to its return, and PF_SYNCWRITE meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import (
    I_DIRTY,
    I_DIRTY_DATASYNC,
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

#: What a sys_fsync frame is doing at each phase (describe; in phase 4 ->fsync's sync_inode
#: runs).
F_PHASE_NAMES: Final = ("begin", "down(i_sem)", "filemap_fdatawrite", "->fsync", "->fsync",
                        "filemap_fdatawait", "up(i_sem)")  # fmt: skip


class FsyncOp(Frame):
    """sys_fsync(fd) / sys_fdatasync(fd) (fs/buffer.c, 2.6.6) on the file opened as ``path``.

    ``step`` reads as sys_fsync with ext2_sync_file inlined as f_op->fsync. Phases (resume
    points): 0 fget; 1 down(i_sem); 2 filemap_fdatawrite returned; 3 ->fsync; 4 ->fsync
    returned; 5 filemap_fdatawait returned; 6 up(i_sem) and return.
    """

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

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:  # file = fget(fd); if (!file) goto out;
            _fd, f = vl_fget_path(k, task, self.path)
            if f is None or f.f_ino not in k.sb.s_inodes:
                self.result = -EBADF
                return KOP_DONE
            self.ino = f.f_ino
            self.start_ns = k.now()
            self.token = k.oracle.fsync_begin(k, self.ino)
            k.vmstat.fsync_calls += 1
            k.trace.emit(k.now(), TR_FSYNC_BEGIN, task.pid, self.ino, int(self.datasync),
                         self.path)
            self.phase = 1
            return KOP_CONTINUE
        inode = k.sb.s_inodes[self.ino]
        if self.phase == 1:  # down(&mapping->host->i_sem);
            if not vl_down_i_sem(k, task, inode):
                return KOP_BLOCKED
            task.flags |= PF_SYNCWRITE
            self.write = vl_fdatawrite(inode.i_mapping, WB_SYNC_ALL)
            self.phase = 2
            vl_push(task, self.write)  # ret = filemap_fdatawrite(mapping);
            return KOP_BLOCKED if k.preempt_point(task, "fsync:after_down") else KOP_CONTINUE
        if self.phase == 2:
            assert self.write is not None
            self.ret = self.write.ret
            self.visited += self.write.visited
            self.write = None
            self.phase = 3
            if k.preempt_point(task, "fsync:after_fdatawrite"):
                return KOP_BLOCKED
            return KOP_CONTINUE
        if self.phase == 3:  # err = file->f_op->fsync(file, file->f_dentry, datasync);
            self.phase = 4  # ext2_sync_file: sync_inode if the inode (its data) is dirty
            if (inode.i_state & I_DIRTY) and not (
                self.datasync and not (inode.i_state & I_DIRTY_DATASYNC)
            ):
                self.wbc = WritebackControl(WB_SYNC_ALL, 0)
                self.sync_inode = WritebackSingleInode(inode)
                self.sync_inode.wbc = self.wbc
                return vl_call(task, self.sync_inode)
        if self.phase == 4:
            if self.sync_inode is not None:  # return err ? -EIO : 0; if (!ret) ret = err;
                if self.ret == 0 and self.sync_inode.ret != 0:
                    self.ret = -EIO
                self.sync_inode = None
                self.wbc = None
            self.wait = vl_fdatawait_frame(inode.i_mapping)
            self.phase = 5
            vl_push(task, self.wait)  # err = filemap_fdatawait(mapping);
            return KOP_CONTINUE
        if self.phase == 5:
            assert self.wait is not None
            if self.ret == 0:
                self.ret = self.wait.ret
            self.visited += self.wait.visited
            self.wait = None
            self.phase = 6
            if k.preempt_point(task, "fsync:after_fdatawait"):
                return KOP_BLOCKED
            return KOP_CONTINUE
        task.flags &= ~PF_SYNCWRITE
        up_i_sem(k, inode)  # up(&mapping->host->i_sem);
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


class SyncOp(Frame):
    """sys_sync() = do_sync(1) (fs/buffer.c, 2.6.6).

    ``step`` reads as do_sync: wakeup_bdflush(0); sync_inodes(0), one sync_inodes_sb(sb, 0)
    pass; sync_inodes(1), a sync_inodes_sb(sb, 0) pass and a sync_inodes_sb(sb, 1) pass.
    Phase N (1 to 3) resumes when pass N has returned.
    """

    KIND = "sys_sync"
    FIELDS = (("token", "int"), ("wbc", "wbc"), ("sb_frame", "callee"))

    def __init__(self) -> None:
        super().__init__("sync")
        self.token = 0
        self.wbc: WritebackControl | None = None
        self.sb_frame: SyncSbInodes | None = None

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:
            self.token = k.oracle.fsync_begin(k, 0)
            wakeup_bdflush(k, 0)
            return self._sync_inodes_sb(k, task, False)  # sync_inodes(0);
        if self.phase == 1:
            return self._sync_inodes_sb(k, task, False)  # sync_inodes(wait): a pass,
        if self.phase == 2:
            return self._sync_inodes_sb(k, task, True)  # and, as wait is 1, one that waits
        assert self.sb_frame is not None
        for ino in self.sb_frame.synced:  # written and waited on
            k.oracle.fsync_acked(k, ino, self.token)
        self.sb_frame = None
        self.wbc = None
        self.result = 0
        return KOP_DONE

    def _sync_inodes_sb(self, k: Kernel, task: Task, wait: bool) -> int:
        """Call sync_inodes_sb(sb, wait) on the one superblock; the next phase resumes."""
        self.wbc = vl_sync_inodes_sb_wbc(k, wait)
        self.sb_frame = SyncSbInodes()
        self.sb_frame.wbc = self.wbc
        self.phase += 1
        vl_push(task, self.sb_frame)
        return KOP_CONTINUE

    def describe(self) -> str:
        if self.sb_frame is not None:
            return f"sync (pass {self.phase}): {self.sb_frame.describe()}"
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
