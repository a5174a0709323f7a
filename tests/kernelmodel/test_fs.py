"""Tests for kernelmodel/fs/fs.py: block allocation, the block map, inodes, names, open files, mkfs
and boot-time files. Also home of the small driver the page-cache tests share (``boot_kernel``,
``Driver``): it runs kernel ops on hand-made tasks through the real scheduler and events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check import check_invariants
from kernelmodel.fs.fs import (
    BLOCK_SECTORS,
    ENOSPC,
    FIRST_DATA_BLOCK,
    FS_MAGIC,
    File,
    Inode,
    SuperBlock,
    ext2_free_blocks,
    ext2_new_block,
    ext2_truncate_blocks,
    get_block,
    iget,
    inode_sem_key,
    mkfs,
    up_i_sem,
    vl_create_file,
    vl_down_i_sem,
    vl_dup_files,
    vl_fget_path,
    vl_fs_nblocks,
    vl_inode_extents,
    vl_iput_needs_delete,
    vl_lookup_path,
    vl_new_inode,
)
from kernelmodel.fs.state_generated import load_super_block, save_super_block
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING, TASK_STOPPED, KOp, Task
from kernelmodel.oracle.oracle import oracle_file_expected, vl_verify_files
from machine.board import Machine, MachineConfig

# ---- shared scaffolding ------------------------------------------------------------------------


def boot_kernel(
    mem_mb: int = 8, disk_mb: int = 64, swap_mb: int = 16, timeslice_ns: int = 20_000
) -> Kernel:
    """A small booted kernel (filesystem, pdflush and kswapd included)."""
    m = Machine(MachineConfig(mem_mb << 20, disk_mb << 20))
    return vl_start_kernel(m, KernelConfig(swap_bytes=swap_mb << 20, timeslice_ns=timeslice_ns))


def new_task(k: Kernel, name: str) -> Task:
    """A task without a user program; the Driver feeds it kernel ops one by one."""
    task = Task(k.alloc_pid(), name, None)
    task.state = TASK_STOPPED
    task.stopped_at = "idle"
    k.tasks[task.pid] = task
    return task


class Driver:
    """Runs queues of kernel ops on tasks through the scheduler, one machine event at a time.

    Each task runs its ops in order; an op's result is recorded when the task's kernel stack
    empties. Between ops the task is stopped, so the scheduler never spins on it. ``check``
    is called after every event.
    """

    def __init__(self, k: Kernel, check: bool = True) -> None:
        self.k = k
        self.check = check
        self.tasks: list[Task] = []
        self.queues: dict[int, list[KOp]] = {}
        self.busy: dict[int, bool] = {}
        self.results: dict[int, list[int]] = {}
        self.events = 0

    def add(self, task: Task, ops: list[KOp]) -> None:
        if task.pid not in self.queues:
            self.tasks.append(task)
            self.queues[task.pid] = []
            self.busy[task.pid] = False
            self.results[task.pid] = []
        self.queues[task.pid].extend(ops)

    def _feed(self) -> bool:
        k = self.k
        active = False
        for task in self.tasks:
            pid = task.pid
            if not task.kstack:
                if self.busy[pid]:
                    self.results[pid].append(task.kret)
                    self.busy[pid] = False
                    if task.state == TASK_RUNNING:
                        k.stop_task(task, "idle")
                if self.queues[pid]:
                    task.kstack.append(self.queues[pid].pop(0))
                    self.busy[pid] = True
                    if task.state == TASK_STOPPED:
                        task.stopped_at = ""
                        k.make_runnable(task)
            if task.kstack or self.queues[pid]:
                active = True
        return active

    def verify(self) -> None:
        problems = vl_verify_files(self.k)
        assert not problems, problems
        problems = check_invariants(self.k)
        assert not problems, problems

    def run(self, limit: int = 2_000_000) -> dict[int, list[int]]:
        """Run until every queue is empty and every op finished; returns results by pid."""
        while self._feed():
            assert self.k.machine.step(), "deadlock: ops pending and no event"
            self.events += 1
            assert self.events < limit, "ops never finished"
            if self.check:
                self.verify()
        return self.results

    def run_events(self, n: int) -> None:
        """Run ``n`` events (or fewer if nothing is pending), feeding queued ops."""
        for _ in range(n):
            self._feed()
            if not self.k.machine.step():
                return
            self.events += 1
            if self.check:
                self.verify()


# ---- block allocation ---------------------------------------------------------------------------


def test_superblock_layout() -> None:
    sb = SuperBlock(10)
    assert sb.s_bitmap[0] == 1
    assert sb.s_free_blocks == 9
    assert sb.s_next_block == FIRST_DATA_BLOCK


def test_new_block_in_allocation_order_and_wrap() -> None:
    sb = SuperBlock(6)
    assert [ext2_new_block(sb) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert ext2_new_block(sb) == -ENOSPC
    ext2_free_blocks(sb, 2)
    ext2_free_blocks(sb, 4)
    # the cursor wrapped: the next search starts at block 1
    assert ext2_new_block(sb) == 2
    assert ext2_new_block(sb) == 4
    assert sb.s_free_blocks == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=120))
def test_block_allocator_against_a_set(ops: list[tuple[bool, int]]) -> None:
    sb = SuperBlock(32)
    used: set[int] = set()
    for alloc, pick in ops:
        if alloc:
            b = ext2_new_block(sb)
            if len(used) == 31:
                assert b == -ENOSPC
            else:
                assert FIRST_DATA_BLOCK <= b < 32 and b not in used
                used.add(b)
        elif used:
            b = sorted(used)[pick % len(used)]
            ext2_free_blocks(sb, b)
            used.discard(b)
        assert sb.s_free_blocks == 31 - len(used)
        assert sb.s_free_blocks == sb.s_bitmap.count(0)


def test_get_block_create_and_lookup() -> None:
    k = boot_kernel()
    inode = vl_new_inode(k, "a")
    assert get_block(k, inode, 3, 0) == -1
    b = get_block(k, inode, 3, 1)
    assert b >= FIRST_DATA_BLOCK
    assert get_block(k, inode, 3, 0) == b
    assert get_block(k, inode, 3, 1) == b
    assert k.sb.s_bitmap[b] == 1


def test_get_block_enospc() -> None:
    k = boot_kernel(disk_mb=2, swap_mb=1)
    inode = vl_new_inode(k, "a")
    n = k.sb.s_free_blocks
    for i in range(n):
        assert get_block(k, inode, i, 1) > 0
    assert get_block(k, inode, n, 1) == -ENOSPC
    assert ext2_truncate_blocks(k, inode, 10) == n - 10
    assert k.sb.s_free_blocks == n - 10
    assert sorted(inode.i_blocks) == list(range(10))


def test_extents_coalesce_contiguous_runs() -> None:
    inode = Inode(2, "x")
    inode.i_blocks = {0: 10, 1: 11, 2: 12, 3: 20, 5: 21, 6: 22}
    assert vl_inode_extents(inode) == [(0, 10, 3), (3, 20, 1), (5, 21, 2)]
    assert vl_inode_extents(Inode(3, "y")) == []


# ---- mkfs and boot files ----------------------------------------------------------------------


def test_mkfs_sizes_and_magic() -> None:
    k = boot_kernel(disk_mb=64, swap_mb=16)
    assert k.sb.s_nblocks == vl_fs_nblocks(64 << 20, 16 << 20) == 12288
    assert k.machine.disk.read_sectors(0, 1)[: len(FS_MAGIC)] == FS_MAGIC
    k.cfg.swap_bytes = (64 << 20) - 4096
    try:
        mkfs(k)
    except ValueError as e:
        assert "no room" in str(e)
    else:
        raise AssertionError("mkfs accepted a disk with no room")


def test_create_file_contiguous_and_on_disk() -> None:
    k = boot_kernel()
    a = vl_create_file(k, "a", 5 * 4096 + 100, "random", 42)
    b = vl_create_file(k, "b", 3 * 4096, "pattern", 7)
    s = vl_create_file(k, "s", 10 * 4096, "sparse", 0)
    assert vl_inode_extents(a) == [(0, 1, 6)]
    assert vl_inode_extents(b) == [(0, 7, 3)]
    assert s.i_blocks == {}
    disk = k.machine.disk
    for inode in (a, b):
        for index, block in inode.i_blocks.items():
            data = disk.read_sectors(block * BLOCK_SECTORS, BLOCK_SECTORS)
            assert data == oracle_file_expected(k, inode.i_ino, index)
    assert oracle_file_expected(k, a.i_ino, 5)[100:] == bytes(4096 - 100)
    assert vl_verify_files(k) == []
    assert vl_lookup_path(k, "a") is a and vl_lookup_path(k, "nope") is None


def test_create_file_rejects_bad_input() -> None:
    k = boot_kernel(disk_mb=2, swap_mb=1)
    vl_create_file(k, "a", 10, "zero", 0)
    for path, size, content in (("a", 1, "zero"), ("b", -1, "zero"), ("c", 1, "bogus"),
                                ("d", 10 << 20, "random")):
        try:
            vl_create_file(k, path, size, content, 0)
        except ValueError as e:
            assert path in str(e)
        else:
            raise AssertionError(f"accepted {path}")


# ---- inodes, i_sem and open files -------------------------------------------------------------


def test_i_sem_serialises_two_tasks() -> None:
    k = boot_kernel()
    inode = vl_new_inode(k, "a")
    t1 = new_task(k, "t1")
    t2 = new_task(k, "t2")
    t1.state = t2.state = TASK_RUNNING
    assert vl_down_i_sem(k, t1, inode)
    assert not vl_down_i_sem(k, t2, inode)
    assert t2.wait_key == inode_sem_key(inode.i_ino)
    up_i_sem(k, inode)
    assert t2.state == TASK_RUNNING and inode.i_sem == 0
    assert vl_down_i_sem(k, t2, inode)
    assert inode.i_sem == t2.pid


def test_iput_reports_last_reference_of_unlinked_inode() -> None:
    inode = Inode(5, "x")
    iget(inode)
    iget(inode)
    assert not vl_iput_needs_delete(inode)
    inode.i_nlink = 0
    assert vl_iput_needs_delete(inode)


def test_fget_by_path_and_dup_files() -> None:
    k = boot_kernel()
    inode = vl_new_inode(k, "a")
    parent = new_task(k, "p")
    child = new_task(k, "c")
    f = File(k.sb.vl_next_file_id, inode.i_ino, "a", 0)
    k.sb.vl_next_file_id += 1
    k.sb.s_files[f.f_id] = f
    parent.files[4] = f.f_id
    parent.files[3] = f.f_id
    assert vl_fget_path(k, parent, "a") == (3, f)
    assert vl_fget_path(k, parent, "b") == (-1, None)
    vl_dup_files(k, parent, child)
    assert child.files == {4: f.f_id, 3: f.f_id} and f.f_count == 3


def test_state_round_trip() -> None:
    k = boot_kernel()
    vl_create_file(k, "a", 9000, "random", 3)
    inode = vl_new_inode(k, "b")
    inode.i_state = 7
    k.sb.s_dirty.append(inode.i_ino)
    f = File(1, inode.i_ino, "b", 2)
    f.f_pos = 17
    k.sb.s_files[1] = f
    state = save_super_block(k.sb)
    again = save_super_block(load_super_block(state, k.mem_map.pages))
    assert again == state
