"""Inode-level writeback: dirty inode lists and the superblock walk (fs/fs-writeback.c, 2.6.6).

``_mark_inode_dirty`` (``__mark_inode_dirty``) puts a newly dirtied inode at the head of
``sb->s_dirty`` with ``dirtied_when = now``; an inode already dirty keeps its place, so
``s_dirty`` stays ordered by dirtying time (newest at the head, index 0). ``sync_sb_inodes``
splices ``s_dirty`` onto ``s_io`` (for kupdate only when ``s_io`` is empty) and writes inodes
from the tail of ``s_io`` (oldest first), stopping at inodes dirtied after the pass began or
younger than ``older_than_this``. ``__writeback_single_inode`` skips an I_LOCK'd inode unless
the writeback is WB_SYNC_ALL (which waits for it); ``__sync_single_inode`` sets I_LOCK, clears
I_DIRTY, runs do_writepages, writes the inode if it was I_DIRTY_SYNC/DATASYNC, waits for the
pages when WB_SYNC_ALL, and then places the inode:

* not marked dirty but still has DIRTY-tagged pages: redirty it; kupdate puts it at the tail
  of ``s_dirty`` (it is spliced and written first next time), other callers at the head with
  a fresh ``dirtied_when`` (so one heavily written file cannot starve the others);
* redirtied meanwhile: leave it where it is;
* clean: off the dirty lists (the kernel moves it to inode_in_use / inode_unused).

``sync_sb_inodes`` also moves an inode back to ``s_dirty`` when ``wbc->pages_skipped`` grew
while writing it, and under WB_SYNC_HOLD (sys_sync) after every inode.

List conventions: ``k.sb.s_dirty`` and ``k.sb.s_io`` are lists of inode numbers, head at index
0 (``list_move`` = remove and insert at 0; ``list_move_tail`` = remove and append). An inode
is on at most one of them.

Model simplifications:
    * one superblock, one request queue, no memory-backed inodes, no blockdev superblock;
    * write_inode is a no-op: the model keeps inode metadata in memory, durable by
      definition (fs.py), so only data pages go to the disk;
    * the __iget/iput pair around a writeback is left out: an inode deleted meanwhile is
      marked I_FREEING by the delete path, and the list placement skips it as the kernel's
      does.

Invariants:
    * an inode number appears at most once in s_dirty + s_io, and only for a live inode;
    * an inode with I_DIRTY bits and without I_LOCK or I_FREEING is on s_dirty or s_io.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.fs.fs import (
    I_CLEAR,
    I_DIRTY,
    I_DIRTY_DATASYNC,
    I_DIRTY_PAGES,
    I_DIRTY_SYNC,
    I_FREEING,
    I_LOCK,
    Inode,
    vl_wait_on_inode,
    wake_up_inode,
)
from kernelmodel.fs.mpage import MpageWritepages, vl_do_writepages_frame
from kernelmodel.include.bug import bug_on
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    PF_FLUSHER,
    Frame,
    KOp,
    Task,
    vl_call,
    vl_push,
)
from kernelmodel.lib.radix_tree import radix_tree_tagged
from kernelmodel.mm.filemap import PAGECACHE_TAG_DIRTY
from kernelmodel.mm.filemap_wb import WaitOnPageWritebackRange, vl_fdatawait_frame
from kernelmodel.mm.page_lists import vl_lists_mode, vl_mapping_has_io_pages
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_HOLD,
    WB_SYNC_NONE,
    WritebackControl,
    bdi_write_congested,
    vl_nr_inodes_in_use,
)

if TYPE_CHECKING:
    from kernelmodel.fs.fs import SuperBlock
    from kernelmodel.kernel.kernel import Kernel


# ---- the dirty lists ----------------------------------------------------------------------------


def _list_del(sb: SuperBlock, ino: int) -> None:
    """Take ``ino`` off s_dirty / s_io (list_del_init of inode->i_list on those lists)."""
    if ino in sb.s_dirty:
        sb.s_dirty.remove(ino)
    if ino in sb.s_io:
        sb.s_io.remove(ino)


def list_move_s_dirty(sb: SuperBlock, ino: int) -> None:
    """list_move(&inode->i_list, &sb->s_dirty): to the head of s_dirty (newest)."""
    _list_del(sb, ino)
    sb.s_dirty.insert(0, ino)


def list_move_tail_s_dirty(sb: SuperBlock, ino: int) -> None:
    """list_move_tail(&inode->i_list, &sb->s_dirty): to the tail of s_dirty (oldest)."""
    _list_del(sb, ino)
    sb.s_dirty.append(ino)


def _mark_inode_dirty(k: Kernel, inode: Inode, flags: int) -> None:
    """__mark_inode_dirty(inode, flags) (fs/fs-writeback.c, 2.6.6).

    Sets ``flags`` in i_state. An inode becoming dirty (no I_DIRTY bit before) gets
    ``dirtied_when = now`` and goes to the head of s_dirty, unless it is I_LOCK'd (the
    writeback in progress places it when done) or being freed. s_op->dirty_inode does
    nothing in the model.
    """
    if (inode.i_state & flags) == flags:
        return
    was_dirty = inode.i_state & I_DIRTY
    inode.i_state |= flags
    if inode.i_state & I_LOCK:
        return
    if inode.i_state & (I_FREEING | I_CLEAR):
        return
    if not was_dirty:
        inode.dirtied_when = k.now()
        list_move_s_dirty(k.sb, inode.i_ino)


def write_inode(k: Kernel, inode: Inode, sync: bool) -> int:
    """write_inode(inode, sync) -> s_op->write_inode: a no-op for the model filesystem.

    The model keeps inode metadata in memory and treats it as durable (fs.py), so there is
    nothing to send to the disk.
    """
    return 0


# ---- __writeback_single_inode / __sync_single_inode ---------------------------------------------

def _place_inode_265(k: Kernel, inode: Inode) -> None:
    """The end of 2.6.5's __sync_single_inode: where the inode goes after its writeback.

    * pages left on io_pages (the walk stopped early): I_DIRTY_PAGES, and the inode stays
      where it is, at the tail of s_io, so sync_sb_inodes takes it again next;
    * else pages on dirty_pages (redirtied during the writeback): I_DIRTY_PAGES, a fresh
      dirtied_when and the head of s_dirty;
    * else redirtied inode (I_DIRTY): a fresh dirtied_when and the head of s_dirty;
    * else clean: off the dirty lists.

    2.6.6 (``_finish``) asks the DIRTY tag instead and requeues a partly written inode on
    s_dirty (at the tail for kupdate).
    """
    sb = k.sb
    mapping = inode.i_mapping
    if vl_mapping_has_io_pages(mapping):
        inode.i_state |= I_DIRTY_PAGES  # needs more writeback
    elif mapping.dirty_pages:
        inode.i_state |= I_DIRTY_PAGES
        inode.dirtied_when = k.now()
        list_move_s_dirty(sb, inode.i_ino)
    elif inode.i_state & I_DIRTY:
        inode.dirtied_when = k.now()
        list_move_s_dirty(sb, inode.i_ino)
    else:
        _list_del(sb, inode.i_ino)  # clean: to inode_in_use / inode_unused


#: The inode of a frame not yet given one.
NO_INODE: Final = Inode(0, "")


@final
class WritebackSingleInode(Frame):
    """The frame of __writeback_single_inode(inode, wbc) and the __sync_single_inode it
    calls (fs/fs-writeback.c, 2.6.6), one after the other in ``step``.

    ``wbc`` is the caller's; the result is in ``ret`` (and ``result``) once it returns.
    Phases (resume points): 0 entry; 1 waiting while I_LOCK (a data-integrity sync);
    2 do_writepages returned; 3 filemap_fdatawait returned (or not called).
    """

    KIND = "__writeback_single_inode"
    FIELDS = (("inode", "inode"), ("wbc", "wbc"), ("dirty", "int"), ("ret", "int"),
              ("walk", "callee"), ("wait", "callee"))  # fmt: skip

    def __init__(self, inode: Inode = NO_INODE) -> None:
        super().__init__("__sync_single_inode")
        self.inode = inode
        self.wbc = WritebackControl(WB_SYNC_NONE, 0)
        self.dirty = 0
        self.ret = 0
        self.walk: MpageWritepages | None = None
        self.wait: WaitOnPageWritebackRange | None = None

    def step(self, k: Kernel, task: Task) -> int:
        inode = self.inode
        wbc = self.wbc
        sb = k.sb
        if self.phase == 0:  # __writeback_single_inode
            if wbc.sync_mode != WB_SYNC_ALL and (inode.i_state & I_LOCK):
                if not (inode.i_state & I_FREEING):
                    list_move_s_dirty(sb, inode.i_ino)
                return KOP_DONE
            self.phase = 1
        if self.phase == 1:
            # It's a data-integrity sync.  We must wait.
            if not vl_wait_on_inode(k, task, inode):
                return KOP_BLOCKED
            # __sync_single_inode: set I_LOCK, reset I_DIRTY
            bug_on((inode.i_state & I_LOCK) != 0, "__sync_single_inode: I_LOCK already set")
            self.dirty = inode.i_state & I_DIRTY
            inode.i_state |= I_LOCK
            inode.i_state &= ~I_DIRTY
            self.walk = vl_do_writepages_frame(k, inode.i_mapping, wbc)
            self.phase = 2
            if self.walk is not None:
                return vl_call(task, self.walk)  # ret = do_writepages(mapping, wbc);
        if self.phase == 2:
            if self.walk is not None:
                self.ret = self.walk.ret
                self.walk = None
            # Don't write the inode if only I_DIRTY_PAGES was set
            if self.dirty & (I_DIRTY_SYNC | I_DIRTY_DATASYNC):
                err = write_inode(k, inode, wbc.sync_mode == WB_SYNC_ALL)
                if self.ret == 0:
                    self.ret = err
            self.phase = 3
            if wbc.sync_mode == WB_SYNC_ALL:
                self.wait = vl_fdatawait_frame(inode.i_mapping)
                return vl_call(task, self.wait)  # err = filemap_fdatawait(mapping);
        if self.wait is not None:
            if self.ret == 0:
                self.ret = self.wait.ret
            self.wait = None
        inode.i_state &= ~I_LOCK
        if not (inode.i_state & I_FREEING):
            if vl_lists_mode(k):
                _place_inode_265(k, inode)
            elif not (inode.i_state & I_DIRTY) and radix_tree_tagged(
                inode.i_mapping.page_tree, PAGECACHE_TAG_DIRTY
            ):
                # We didn't write back all the pages: redirty the inode (still on s_io).
                inode.i_state |= I_DIRTY_PAGES
                if wbc.for_kupdate:
                    list_move_tail_s_dirty(sb, inode.i_ino)
                else:
                    inode.dirtied_when = k.now()
                    list_move_s_dirty(sb, inode.i_ino)
            elif inode.i_state & I_DIRTY:
                pass  # someone redirtied the inode while we were writing back its pages
            else:
                _list_del(sb, inode.i_ino)  # clean: to inode_in_use / inode_unused
        wake_up_inode(k, inode)
        self.result = self.ret
        return KOP_DONE

    def describe(self) -> str:
        if self.walk is not None:
            return self.walk.describe()
        if self.wait is not None:
            return self.wait.describe()
        return f"__sync_single_inode: inode {self.inode.i_ino}"


@final
class SyncSbInodes(Frame):
    """The frame of sync_sb_inodes(sb, wbc) (fs/fs-writeback.c, 2.6.6).

    Returns when the walk stopped; unwritten inodes stay on s_io. ``written`` counts the
    inodes handed to __writeback_single_inode; ``synced`` lists those whose writeback
    returned 0 (model bookkeeping: sys_sync acknowledges them). ``wbc`` is the caller's.
    Phases (resume points): 0 entry; 1 the while condition (after cond_resched);
    2 __writeback_single_inode returned.
    """

    KIND = "sync_sb_inodes"
    FIELDS = (("wbc", "wbc"), ("start", "int"), ("cur", "callee"), ("pages_skipped", "int"),
              ("acquired", "bool"), ("written", "int"), ("synced", "ints"))  # fmt: skip

    def __init__(self) -> None:
        super().__init__("sync_sb_inodes")
        self.wbc = WritebackControl(WB_SYNC_NONE, 0)
        self.start = 0
        self.cur: WritebackSingleInode | None = None
        self.pages_skipped = 0
        self.acquired = False
        self.written = 0
        self.synced: list[int] = []

    def step(self, k: Kernel, task: Task) -> int:
        sb = k.sb
        wbc = self.wbc
        if self.phase == 0:
            self.start = k.now()  # livelock avoidance
            if not wbc.for_kupdate or not sb.s_io:
                sb.s_io[0:0] = sb.s_dirty  # list_splice_init(&sb->s_dirty, &sb->s_io)
                sb.s_dirty.clear()
            self.phase = 1
        if self.phase == 1:  # while (!list_empty(&sb->s_io)) {
            if not sb.s_io:
                return KOP_DONE
            ino = sb.s_io[len(sb.s_io) - 1]
            inode = sb.s_inodes.get(ino)
            bug_on(inode is None, f"sync_sb_inodes: inode {ino} on s_io is gone")
            assert inode is not None
            if wbc.nonblocking and bdi_write_congested(k):
                wbc.encountered_congestion = True
                return KOP_DONE  # Skip a congested fs
            if inode.dirtied_when > self.start:
                return KOP_DONE  # Was this inode dirtied after sync_sb_inodes was called?
            older = wbc.older_than_this
            if older is not None and inode.dirtied_when > older:
                return KOP_DONE  # Was this inode dirtied too recently?
            self.acquired = False
            if (task.flags & PF_FLUSHER) != 0:  # current_is_pdflush() && !writeback_acquire()
                if k.wb.bdi_pdflush:
                    return KOP_DONE  # Is another pdflush already flushing this queue?
                k.wb.bdi_pdflush = True
                self.acquired = True
            bug_on((inode.i_state & I_FREEING) != 0, "sync_sb_inodes: I_FREEING inode on s_io")
            self.pages_skipped = wbc.pages_skipped
            self.cur = WritebackSingleInode(inode)
            self.cur.wbc = wbc
            self.written += 1
            self.phase = 2
            if k.preempt_point(task, "sync_sb_inodes:before_writeback"):
                vl_push(task, self.cur)
                return KOP_BLOCKED
            return vl_call(task, self.cur)  # __writeback_single_inode(inode, wbc);
        assert self.cur is not None
        inode = self.cur.inode
        if self.cur.ret == 0:
            self.synced.append(inode.i_ino)
        self.cur = None
        freeing = (inode.i_state & I_FREEING) != 0
        if wbc.sync_mode == WB_SYNC_HOLD and not freeing:
            inode.dirtied_when = k.now()
            list_move_s_dirty(sb, inode.i_ino)
        if self.acquired:
            k.wb.bdi_pdflush = False  # writeback_release
            self.acquired = False
        if wbc.pages_skipped != self.pages_skipped and not freeing and not vl_lists_mode(k):
            # (2.6.6; 2.6.5's sync_sb_inodes has no pages_skipped requeue)
            # writeback is not making progress due to locked buffers: skip this inode for now
            list_move_s_dirty(sb, inode.i_ino)
        if wbc.nr_to_write <= 0:
            return KOP_DONE
        self.phase = 1
        return KOP_CONTINUE  # cond_resched();


def vl_writeback_inodes_frame(k: Kernel, wbc: WritebackControl) -> SyncSbInodes | None:
    """writeback_inodes(wbc) as a frame: sync_sb_inodes of the one superblock, if it has work.

    Returns None when s_dirty and s_io are both empty (nothing to do).
    """
    sb = k.sb
    if not sb.s_dirty and not sb.s_io:
        return None
    f = SyncSbInodes()
    f.wbc = wbc
    return f


def vl_sync_inodes_sb_wbc(k: Kernel, wait: bool) -> WritebackControl:
    """The writeback_control of sync_inodes_sb(sb, wait).

    WB_SYNC_ALL when waiting, else WB_SYNC_HOLD; nr_to_write = (2 x (nr_dirty + nr_unstable)
    + inodes in use) x 1.5 ("a bit more for luck").
    """
    ps = k.vmstat
    nr = ps.nr_dirty + ps.nr_unstable + vl_nr_inodes_in_use(k) + ps.nr_dirty + ps.nr_unstable
    nr += nr // 2
    return WritebackControl(WB_SYNC_ALL if wait else WB_SYNC_HOLD, nr)


def writeback_inodes(k: Kernel, wbc: WritebackControl) -> KOp:
    """writeback_inodes(wbc): write dirty inodes of every superblock (one here), a frame."""
    f = SyncSbInodes()
    f.name = "writeback_inodes"
    f.wbc = wbc
    return f


def sync_sb_inodes(k: Kernel, wbc: WritebackControl) -> KOp:
    """sync_sb_inodes(sb, wbc) on the one superblock, a frame."""
    f = SyncSbInodes()
    f.wbc = wbc
    return f


def _sync_single_inode(k: Kernel, inode: Inode, wbc: WritebackControl) -> KOp:
    """__writeback_single_inode(inode, wbc) (and so __sync_single_inode), a frame."""
    f = WritebackSingleInode(inode)
    f.wbc = wbc
    return f
