"""Shared scaffolding for the writeback tests: a small kernel, files with cached pages, and a
driver that runs a writeback frame for a task outside the scheduler."""

from __future__ import annotations

from collections.abc import Callable

from kernelmodel.boot import vl_start_kernel
from kernelmodel.fs.fs import Inode, get_block, vl_new_inode
from kernelmodel.include.page import Page, SetPageUptodate
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, TASK_RUNNING, Task
from kernelmodel.mm.filemap import AddressSpace, add_to_page_cache_lru
from kernelmodel.mm.page_writeback import set_page_dirty
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.oracle.oracle import oracle_file_write
from machine.board import Machine, MachineConfig


def make_kernel(mem_mb: int = 16, disk_mb: int = 64, **cfg: int) -> Kernel:
    """Boot a small kernel (pdflush and kswapd start with it; the first kupdate is at 5 s)."""
    m = Machine(MachineConfig(mem_mb << 20, disk_mb << 20))
    kc = KernelConfig(swap_bytes=8 << 20)
    for name, value in cfg.items():
        setattr(kc, name, value)
    return vl_start_kernel(m, kc)


def fake_task(k: Kernel, name: str = "t") -> Task:
    """A task the test drives by hand (no program, not on the run queue)."""
    pid = k.alloc_pid()
    task = Task(pid, name, None)
    k.tasks[pid] = task
    return task


def add_cached_page(k: Kernel, inode: Inode, index: int, fill: int = 0) -> Page:
    """Put an uptodate page at ``index`` of the file, unlocked, its bytes told to the oracle.

    The page is clean: the test pretends its bytes are on the disk too (see make_file).
    """
    from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page
    from kernelmodel.mm.page_alloc import GFP_HIGHUSER

    page = vl_alloc_page(k, GFP_HIGHUSER)
    assert page is not None
    assert add_to_page_cache_lru(k, page, inode.i_mapping, index) == 0
    k.machine.mem.write(page.pfn << 12, bytes([fill & 0xFF]) * 4096)
    SetPageUptodate(page)
    unlock_page(k, page)
    page_cache_release(k, page)
    if (index + 1) << 12 > inode.i_size:
        inode.i_size = (index + 1) << 12
    oracle_file_write(k, inode.i_ino, index << 12, bytes([fill & 0xFF]) * 4096)
    block = inode.i_blocks.get(index, -1)
    if block >= 0:
        k.machine.disk.write_sectors(block * 8, bytes([fill & 0xFF]) * 4096)
    return page


def write_page(k: Kernel, inode: Inode, page: Page, fill: int) -> None:
    """What write(2) does to a cached page: new bytes (told to the oracle), then dirty it."""
    k.machine.mem.write(page.pfn << 12, bytes([fill & 0xFF]) * 4096)
    oracle_file_write(k, inode.i_ino, page.index << 12, bytes([fill & 0xFF]) * 4096)
    set_page_dirty(k, page)


def make_file(
    k: Kernel, path: str, npages: int, block_order: list[int] | None = None
) -> tuple[Inode, list[Page]]:
    """A file of ``npages`` cached clean pages; blocks allocated in ``block_order`` of index."""
    inode = vl_new_inode(k, path)
    order = block_order if block_order is not None else list(range(npages))
    for index in order:
        assert get_block(k, inode, index, 1) > 0
    pages = [add_cached_page(k, inode, i, i + 1) for i in range(npages)]
    return inode, pages


def dirty(k: Kernel, pages: list[Page]) -> None:
    for p in pages:
        set_page_dirty(k, p)


def unqueue_fake_tasks(k: Kernel) -> None:
    """Keep hand-driven tasks (no program, empty kernel stack) off the run queue."""
    for pid in list(k.runqueue):
        t = k.tasks.get(pid)
        if t is not None and t.ctx is None and not t.kstack:
            k.runqueue.remove(pid)


def step_machine(k: Kernel) -> bool:
    """One machine event, then keep the hand-driven tasks off the run queue."""
    r = k.machine.step()
    unqueue_fake_tasks(k)
    return r


def wait_woken(k: Kernel, task: Task, limit: int = 1_000_000) -> None:
    """Step the machine until ``task`` is woken; keep it off the run queue (the test drives it)."""
    n = 0
    unqueue_fake_tasks(k)
    while task.state != TASK_RUNNING:
        assert step_machine(k), f"deadlock: {task.describe_wait()} and no events pending"
        n += 1
        assert n < limit, "task never woke"


def drive(k: Kernel, task: Task, run: Callable[[], int], limit: int = 1_000_000) -> int:
    """Call ``run`` (a frame step for ``task``) until it returns KOP_DONE; returns the steps."""
    steps = 0
    while True:
        r = run()
        steps += 1
        assert steps < limit, "frame never finished"
        if r == KOP_DONE:
            return steps
        if r == KOP_BLOCKED:
            wait_woken(k, task)


def drain_io(k: Kernel, limit: int = 1_000_000) -> None:
    """Run events until the disk is idle (no request queued or in service)."""
    n = 0
    disk = k.machine.disk
    unqueue_fake_tasks(k)
    while disk.queue_depth > 0:
        assert step_machine(k)
        n += 1
        assert n < limit


def mapping_of(inode: Inode) -> AddressSpace:
    return inode.i_mapping
