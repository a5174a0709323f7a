"""2.6.5's inode-level writeback rules (fs/fs-writeback.c, mm/page-writeback.c, 2.6.5) on the
``lists`` writeback design, each against 2.6.6's on ``tags``: where an inode goes after its
pages were written, background_writeout's stop rule, and do_writepages with nr_to_write 0."""

from __future__ import annotations

import pytest
from test_wb_support import drive, fake_task, make_file, write_page

from kernelmodel.boot import vl_start_kernel
from kernelmodel.fs.fs import I_DIRTY_PAGES
from kernelmodel.fs.fs_writeback import SyncSbInodes, WritebackSingleInode
from kernelmodel.include.page import PageDirty, PageWriteback
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    BackgroundWriteout,
    WritebackControl,
)
from machine.board import Machine, MachineConfig
from tests.kernelmodel.frames_support import run_frame


def _kernel(writeback: str) -> Kernel:
    release = "2.6.5" if writeback == "lists" else "2.6.6"
    m = Machine(MachineConfig(16 << 20, 64 << 20))
    return vl_start_kernel(m, KernelConfig(release=release, writeback=writeback, rmap="pte_chain",
                                       swap_bytes=8 << 20))


def _advance(k: Kernel, ns: int) -> None:
    """Let simulated time pass (dirtied_when stamps differ)."""
    k.machine.run_until(k.now() + ns, 10_000)


@pytest.mark.parametrize("writeback", ["lists", "tags"])
def test_a_partly_written_inode_stays_on_s_io_in_2_6_5(writeback: str) -> None:
    k = _kernel(writeback)
    a, pages_a = make_file(k, "a", 40)
    b, pages_b = make_file(k, "b", 2)
    for p in pages_a:
        write_page(k, a, p, 7)
    _advance(k, 1_000_000)
    for p in pages_b:
        write_page(k, b, p, 9)
    sb = k.sb
    assert sb.s_dirty == [b.i_ino, a.i_ino]  # newest at the head
    t = fake_task(k)
    wbc = WritebackControl(WB_SYNC_NONE, 3)  # far less than a's 40 pages
    walk = SyncSbInodes()
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert a.i_state & I_DIRTY_PAGES
    if writeback == "lists":
        # 2.6.5: io_pages left, the inode stays at the tail of s_io: it is next
        assert sb.s_io == [b.i_ino, a.i_ino] and sb.s_dirty == []
    else:
        # 2.6.6: back to s_dirty with a fresh dirtied_when (not kupdate)
        assert sb.s_io == [b.i_ino] and sb.s_dirty == [a.i_ino]


@pytest.mark.parametrize("writeback", ["lists", "tags"])
def test_an_inode_redirtied_during_writeback(writeback: str) -> None:
    """A page dirtied again while the inode's writeback runs: 2.6.5 moves the inode to the
    head of s_dirty with a fresh dirtied_when; 2.6.6 leaves an I_DIRTY inode where it is."""
    k = _kernel(writeback)
    a, pages = make_file(k, "a", 20)
    for p in pages:
        write_page(k, a, p, 3)
    when = a.dirtied_when
    _advance(k, 2_000_000)
    k.sb.s_io[0:0] = k.sb.s_dirty  # sync_sb_inodes' splice
    k.sb.s_dirty.clear()
    t = fake_task(k)
    wbc = WritebackControl(WB_SYNC_NONE, 100)
    ws = WritebackSingleInode(a)
    # one pagevec written, I_LOCK held
    assert run_frame(k, t, ws, wbc) not in (KOP_DONE, KOP_BLOCKED)
    assert not PageDirty(pages[0])
    write_page(k, a, pages[0], 5)  # written, and dirtied again meanwhile
    drive(k, t, lambda: run_frame(k, t, ws, wbc))
    if writeback == "lists":
        assert k.sb.s_dirty == [a.i_ino] and k.sb.s_io == []
        assert a.dirtied_when > when
    else:
        assert k.sb.s_io == [a.i_ino] and k.sb.s_dirty == []  # left where it was
        assert a.dirtied_when == when


@pytest.mark.parametrize(("writeback", "pages_written"), [("lists", 1), ("tags", 0)])
def test_sync_inode_with_nr_to_write_0(writeback: str, pages_written: int) -> None:
    """ext2_sync_file's sync_inode: WB_SYNC_ALL, nr_to_write 0. 2.6.5's do_writepages has no
    nr_to_write test, so its walk writes one page first; 2.6.6 returns at once."""
    k = _kernel(writeback)
    a, pages = make_file(k, "a", 3)
    for p in pages:
        write_page(k, a, p, 4)
    before = k.vmstat.writeback_pages
    t = fake_task(k)
    wbc = WritebackControl(WB_SYNC_ALL, 0)
    ws = WritebackSingleInode(a)
    drive(k, t, lambda: run_frame(k, t, ws, wbc))
    assert k.vmstat.writeback_pages - before == pages_written
    assert sum(1 for p in pages if PageDirty(p)) == 3 - pages_written
    assert not any(PageWriteback(p) for p in pages)  # WB_SYNC_ALL waited for it


@pytest.mark.parametrize(("writeback", "first"), [("lists", KOP_DONE), ("tags", KOP_BLOCKED)])
def test_background_writeout_stops_at_once_in_2_6_5(writeback: str, first: int) -> None:
    """A pass that wrote less than MAX_WRITEBACK_PAGES without congestion: 2.6.5 returns
    at once; 2.6.6 first naps HZ/10 in blk_congestion_wait."""
    k = _kernel(writeback)
    a, pages = make_file(k, "a", 4)
    for p in pages:
        write_page(k, a, p, 2)
    t = fake_task(k)
    bw = BackgroundWriteout(4)  # min_pages: write at least 4 pages
    r = run_frame(k, t, bw)
    while r not in (KOP_DONE, KOP_BLOCKED):
        r = run_frame(k, t, bw)
    assert r == first
    assert not any(PageDirty(p) for p in pages)
