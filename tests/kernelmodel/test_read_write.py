"""End-to-end tests of read(2), write(2), open/close/unlink and ftruncate through the page cache
(kernelmodel/fs/read_write.py, open.py, truncate.py), run by the scheduler on a small kernel with
the data oracle (and the page-cache checker) verified after every event."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fs import Driver, boot_kernel, new_task

from kernelmodel.check.check import check_invariants
from kernelmodel.fs.fs import ENOSPC, vl_create_file, vl_inode_extents, vl_lookup_path
from kernelmodel.fs.fsync import FsyncOp
from kernelmodel.fs.open import KOPS as OPEN_KOPS
from kernelmodel.fs.open import CloseOp, DeleteInodeOp, ExitFilesOp, OpenOp, UnlinkOp
from kernelmodel.fs.read_write import KOPS as RW_KOPS
from kernelmodel.fs.read_write import ReadOp, WriteOp
from kernelmodel.include.syscall_abi import (
    EBADF,
    ENOENT,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_APPEND,
    O_CREAT,
    O_RDWR,
    O_SYNC,
    O_TRUNC,
    PROT_READ,
    PROT_WRITE,
    VL_CHECKPOINT,
    SYS_close,
    SYS_fsync,
    SYS_ftruncate,
    SYS_mmap2,
    SYS_open,
    SYS_read,
    SYS_write,
    vl_pack_mmap,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOp
from kernelmodel.lib.payload import PAYLOAD_GENERATOR, vl_payload_slice
from kernelmodel.mm.truncate import TruncateOp
from kernelmodel.oracle.oracle import vl_verify_durable, vl_verify_files
from machine.isa import OP_ENDLOOP, OP_LOOP, OP_SYSCALL, OP_TOUCH, TOUCH_WRITE, Insn

_SMALL = {"mem_mb": 8, "disk_mb": 32, "swap_mb": 8}
RW = O_CREAT | O_RDWR


def _inode_pages(k: Kernel, path: str) -> int:
    inode = vl_lookup_path(k, path)
    assert inode is not None
    return inode.i_mapping.nrpages


def test_write_then_read_back() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", RW), WriteOp("f", 100, 10000, 7), ReadOp("f", 0, 20000),
              ReadOp("f", 5000, 10)])
    assert d.run()[t.pid] == [3, 10000, 10100, 10]
    inode = vl_lookup_path(k, "f")
    assert inode is not None and inode.i_size == 10100
    assert k.oracle.read_mismatches == 0
    payload = vl_payload_slice(PAYLOAD_GENERATOR, 7, 0, 10000)
    mem = k.machine.mem
    cached = b"".join(mem.frame_bytes(_pfn(k, "f", i)) for i in range(3))
    assert cached[:100] == bytes(100) and cached[100:10100] == payload
    assert k.vmstat.nr_dirty == 3 and len(inode.i_blocks) == 3


def _pfn(k: Kernel, path: str, index: int) -> int:
    from kernelmodel.mm.filemap import vl_find_page_nolock

    inode = vl_lookup_path(k, path)
    assert inode is not None
    page = vl_find_page_nolock(inode.i_mapping, index)
    assert page is not None
    return page.pfn


def test_cold_then_warm_read() -> None:
    k = boot_kernel(**_SMALL)
    vl_create_file(k, "data", 64 * 1024, "random", 3)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("data", O_RDWR), ReadOp("data", -1, 64 * 1024)])
    d.run()
    cold_in, cold_req, cold_ns = k.vmstat.pgpgin, k.machine.disk.requests, k.machine.clock.now
    assert cold_in == 64 and cold_req >= 1
    d.add(t, [ReadOp("data", 0, 64 * 1024)])
    d.run()
    assert k.vmstat.pgpgin == cold_in and k.machine.disk.requests == cold_req
    assert d.results[t.pid] == [3, 65536, 65536]
    assert k.machine.clock.now - cold_ns < cold_ns
    assert k.oracle.read_mismatches == 0


def test_partial_write_of_uncached_page_reads_it_first() -> None:
    k = boot_kernel(**_SMALL)
    vl_create_file(k, "f", 3 * 4096, "pattern", 5)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", O_RDWR), WriteOp("f", 5000, 10, 1), WriteOp("f", 8192, 4096, 2)])
    assert d.run()[t.pid] == [3, 10, 4096]
    assert k.vmstat.pgpgin == 4  # page 1 was read; page 2 was overwritten whole
    assert _inode_pages(k, "f") == 2
    d.add(t, [ReadOp("f", 0, 3 * 4096)])
    assert d.run()[t.pid][-1] == 3 * 4096
    assert k.oracle.read_mismatches == 0


def test_two_writers_interleave_blocks_on_disk() -> None:
    k = boot_kernel(mem_mb=16, disk_mb=32, swap_mb=8)
    a = new_task(k, "a")
    b = new_task(k, "b")
    d = Driver(k)
    d.add(a, [OpenOp("x", RW)] + [WriteOp("x", -1, 8192, i) for i in range(16)])
    d.add(b, [OpenOp("y", RW)] + [WriteOp("y", -1, 8192, 50 + i) for i in range(16)])
    d.run()
    x = vl_lookup_path(k, "x")
    y = vl_lookup_path(k, "y")
    assert x is not None and y is not None
    ex = vl_inode_extents(x)
    ey = vl_inode_extents(y)
    assert len(ex) > 4 and len(ey) > 4
    # the extents alternate on disk: between two extents of x lies an extent of y
    starts = sorted([(blk, "x") for _i, blk, _n in ex] + [(blk, "y") for _i, blk, _n in ey])
    switches = sum(1 for i in range(1, len(starts)) if starts[i][1] != starts[i - 1][1])
    assert switches >= 8
    assert x.i_size == y.i_size == 16 * 8192


def test_truncate_frees_pages_and_blocks_and_zeroes_tail() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", RW), WriteOp("f", 0, 5 * 4096, 9)])
    d.run()
    free = k.sb.s_free_blocks
    cache = k.vmstat.nr_pagecache
    d.add(t, [TruncateOp("f", -1, 4096 + 100), ReadOp("f", 0, 10 * 4096)])
    assert d.run()[t.pid][-2:] == [0, 4196]
    inode = vl_lookup_path(k, "f")
    assert inode is not None
    assert inode.i_size == 4196 and sorted(inode.i_blocks) == [0, 1]
    assert k.sb.s_free_blocks == free + 3 and k.vmstat.nr_pagecache == cache - 3
    assert k.machine.mem.frame_bytes(_pfn(k, "f", 1))[100:] == bytes(3996)
    assert k.vmstat.nr_dirty == 2
    # growing again exposes zeros past the old end
    d.add(t, [TruncateOp("f", -1, 3 * 4096), ReadOp("f", 4096, 8192)])
    assert d.run()[t.pid][-1] == 8192
    assert k.oracle.read_mismatches == 0


def test_unlink_keeps_open_file_until_last_close() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    free = k.sb.s_free_blocks
    d.add(t, [OpenOp("f", RW), WriteOp("f", 0, 4 * 4096, 1), UnlinkOp("f"), ReadOp("f", 0, 100)])
    assert d.run()[t.pid] == [3, 16384, 0, 100]
    assert vl_lookup_path(k, "f") is None and len(k.sb.s_inodes) == 1
    assert k.vmstat.nr_pagecache == 4
    d.add(t, [CloseOp("f"), OpenOp("f", O_RDWR)])
    assert d.run()[t.pid][-2:] == [0, -ENOENT]
    assert k.sb.s_inodes == {} and k.sb.s_free_blocks == free
    assert k.vmstat.nr_pagecache == 0 and k.vmstat.nr_dirty == 0
    assert k.oracle.files == {}


def test_enospc() -> None:
    k = boot_kernel(mem_mb=8, disk_mb=2, swap_mb=1)
    nfree = k.sb.s_free_blocks
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", RW), WriteOp("f", 0, (nfree + 5) * 4096, 3),
              WriteOp("f", nfree * 4096, 10, 4)])
    res = d.run()[t.pid]
    assert res == [3, nfree * 4096, -ENOSPC]
    assert k.sb.s_free_blocks == 0
    inode = vl_lookup_path(k, "f")
    assert inode is not None and inode.i_size == nfree * 4096
    d.add(t, [TruncateOp("f", -1, 0), WriteOp("f", 0, 4096, 5)])
    assert d.run()[t.pid][-2:] == [0, 4096]


def test_append_position_and_bad_descriptors() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [ReadOp("f", 0, 1), OpenOp("f", O_RDWR), OpenOp("f", RW | O_APPEND),
              WriteOp("f", 0, 100, 1), WriteOp("f", 0, 50, 2), OpenOp("g", RW),
              WriteOp("g", -1, 30, 3), WriteOp("g", -1, 30, 4), ReadOp("g", -1, 100),
              ReadOp("g", 0, 100)])
    assert d.run()[t.pid] == [-EBADF, -ENOENT, 3, 100, 50, 4, 30, 30, 0, 60]
    f = vl_lookup_path(k, "f")
    assert f is not None and f.i_size == 150
    d.add(t, [OpenOp("f", O_RDWR | O_TRUNC), ReadOp("f", 0, 10)])
    assert d.run()[t.pid][-2:] == [5, 0]


def test_o_sync_write_is_on_disk_when_it_returns() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", RW | O_SYNC), WriteOp("f", 0, 3 * 4096 + 5, 4)])
    assert d.run()[t.pid] == [3, 3 * 4096 + 5]
    inode = vl_lookup_path(k, "f")
    assert inode is not None and inode.i_mapping.nrpages == 4
    assert k.vmstat.nr_dirty == 0 and k.vmstat.nr_writeback == 0
    assert sorted(k.oracle.files[inode.i_ino].acked) == [0, 1, 2, 3]
    k.machine.disk.power_cut()
    assert vl_verify_durable(k) == (0, [])


def _round_trip(op: KOp) -> None:
    registry = {**RW_KOPS, **OPEN_KOPS}
    state = op.to_state()
    kind = state["kind"]
    assert isinstance(kind, str)
    assert registry[kind](state).to_state() == state


def test_op_state_round_trip_including_in_flight() -> None:
    for op in (ReadOp("f", 3, 4), WriteOp("f", -1, 4, 9), OpenOp("f", 3), CloseOp("f"),
               UnlinkOp("f"), DeleteInodeOp(4), ExitFilesOp()):
        _round_trip(op)
    k = boot_kernel(**_SMALL)
    vl_create_file(k, "f", 4 * 4096, "random", 2)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("f", O_RDWR), WriteOp("f", 10, 3 * 4096, 6)])
    seen = 0
    while d.events < 10_000 and (t.kstack or d.queues[t.pid]):
        d.run_events(1)
        for op in t.kstack:
            _round_trip(op)
            seen += 1
    assert seen > 0 and k.oracle.read_mismatches == 0


def test_exit_files_closes_everything() -> None:
    k = boot_kernel(**_SMALL)
    t = new_task(k, "t")
    d = Driver(k)
    d.add(t, [OpenOp("a", RW), OpenOp("b", RW), WriteOp("b", 0, 10, 1), UnlinkOp("b"),
              ExitFilesOp()])
    d.run()
    assert t.files == {} and k.sb.s_files == {}
    assert vl_lookup_path(k, "a") is not None and vl_lookup_path(k, "b") is None
    assert len(k.sb.s_inodes) == 1


# ---- random workloads ----------------------------------------------------------------------------

_PATHS = ("p", "q")


def _script(max_off: int, max_len: int) -> st.SearchStrategy[list[tuple[str, str, int, int]]]:
    path = st.sampled_from(_PATHS)
    return st.lists(
        st.one_of(
            st.tuples(st.just("write"), path, st.integers(-1, max_off), st.integers(1, max_len)),
            st.tuples(st.just("read"), path, st.integers(-1, max_off), st.integers(1, max_len)),
            st.tuples(st.just("truncate"), path, st.integers(0, max_off), st.just(0)),
            st.tuples(st.just("fsync"), path, st.just(0), st.just(0)),
            st.tuples(st.just("reopen"), path, st.just(0), st.just(0)),
            st.tuples(st.just("unlink"), path, st.just(0), st.just(0)),
        ),
        min_size=1,
        max_size=10,
    )


def _build(script: list[tuple[str, str, int, int]], seed: int) -> list[KOp]:
    ops: list[KOp] = [OpenOp(p, RW) for p in _PATHS]
    for i, (kind, path, a, b) in enumerate(script):
        if kind == "write":
            ops.append(WriteOp(path, a, b, seed * 1000 + i))
        elif kind == "read":
            ops.append(ReadOp(path, a, b))
        elif kind == "truncate":
            ops.append(TruncateOp(path, -1, a))
        elif kind == "fsync":
            ops.append(FsyncOp(path, False))
        elif kind == "reopen":
            ops.extend([CloseOp(path), OpenOp(path, RW)])
        else:
            ops.append(UnlinkOp(path))
    ops.append(ExitFilesOp())
    return ops


def _random_workload(scripts: list[list[tuple[str, str, int, int]]], mem_mb: int) -> Kernel:
    k = boot_kernel(mem_mb=mem_mb, disk_mb=16, swap_mb=4, timeslice_ns=30_000)
    vl_create_file(k, "p", 20_000, "random", 1)
    d = Driver(k)
    for i, script in enumerate(scripts):
        d.add(new_task(k, f"t{i}"), _build(script, i))
    d.run()
    assert k.oracle.read_mismatches == 0, k.oracle.log
    assert k.vmstat.nr_pagecache == sum(i.i_mapping.nrpages for i in k.sb.s_inodes.values())
    assert all(not t.files for t in d.tasks)
    return k


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_script(60_000, 30_000), min_size=2, max_size=3), st.sampled_from([4, 8]))
def test_random_workload_keeps_oracle_and_invariants(
    scripts: list[list[tuple[str, str, int, int]]], mem_mb: int
) -> None:
    _random_workload(scripts, mem_mb)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_script(1_500_000, 800_000), min_size=2, max_size=2))
def test_random_workload_under_memory_pressure(
    scripts: list[list[tuple[str, str, int, int]]],
) -> None:
    _random_workload(scripts, 2)


@pytest.mark.slow
def test_write_and_read_more_than_memory() -> None:
    k = boot_kernel(mem_mb=2, disk_mb=16, swap_mb=4, timeslice_ns=30_000)
    vl_create_file(k, "boot", 512 * 1024, "random", 9)
    a = new_task(k, "a")
    b = new_task(k, "b")
    d = Driver(k)
    d.add(a, [OpenOp("big", RW)] + [WriteOp("big", -1, 192 * 1024, i) for i in range(8)]
          + [ReadOp("big", 0, 2 << 20)])
    d.add(b, [OpenOp("boot", O_RDWR), ReadOp("boot", -1, 1 << 20), ReadOp("boot", 0, 1 << 20)])
    res = d.run()
    assert res[a.pid][-1] == 8 * 192 * 1024 and res[b.pid][-2:] == [512 * 1024, 512 * 1024]
    assert k.vmstat.pgsteal > 0 and k.vmstat.pgpgout > 0
    assert k.oracle.read_mismatches == 0


# ---- end to end: user programs making system calls ----------------------------------------------


def _sys(nr: int, s: str = "", b: int = 0, c: int = 0, d: int = 0) -> Insn:
    return Insn(OP_SYSCALL, nr, b, c, d, s)


def _run_programs(k: Kernel, limit: int = 2_000_000) -> int:
    """Step the machine until every user task exited, checking after every event."""
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step(), "deadlock: user tasks left and no event pending"
        n += 1
        assert n < limit
        problems = vl_verify_files(k) + check_invariants(k)
        assert not problems, problems
    return n


def test_programs_write_fsync_read_and_survive_a_power_cut() -> None:
    k = boot_kernel(mem_mb=8, disk_mb=32, swap_mb=8, timeslice_ns=50_000)
    vl_create_file(k, "data", 48 * 1024, "random", 11)
    writer = [
        _sys(SYS_open, "log", O_CREAT | O_RDWR),
        _sys(SYS_write, "log", -1, 5 * 4096 + 7, 1),
        _sys(SYS_write, "log", 2 * 4096 + 5, 100, 2),
        _sys(SYS_fsync, "log"),
        _sys(SYS_read, "log", 0, 8 * 4096),
        _sys(SYS_close, "log"),
    ]
    reader = [
        _sys(SYS_open, "data", O_RDWR),
        _sys(SYS_read, "data", -1, 48 * 1024),
        _sys(SYS_read, "data", 0, 48 * 1024),
        _sys(SYS_write, "data", 4096 * 3 + 1, 10, 3),
    ]
    k.spawn("writer", k.add_program("writer", writer))
    k.spawn("reader", k.add_program("reader", reader))
    _run_programs(k)
    log = vl_lookup_path(k, "log")
    assert log is not None and log.i_size == 5 * 4096 + 7
    assert k.oracle.read_mismatches == 0
    assert k.vmstat.pgpgin >= 48 and k.sb.s_files == {}
    # every byte the fsync acknowledged is on the disk after a power cut
    k.machine.disk.power_cut()
    assert vl_verify_durable(k) == (0, [])


def test_programs_writing_at_once_interleave_their_blocks() -> None:
    k = boot_kernel(mem_mb=16, disk_mb=32, swap_mb=8, timeslice_ns=10_000)
    for name in ("a", "b"):
        prog = [_sys(SYS_open, name, O_CREAT | O_RDWR),
                Insn(OP_LOOP, 24, 3),
                _sys(SYS_write, name, -1, 4096, 5),
                Insn(OP_ENDLOOP, 1),
                _sys(SYS_close, name)]
        k.spawn(name, k.add_program(name, prog))
    _run_programs(k)
    a = vl_lookup_path(k, "a")
    b = vl_lookup_path(k, "b")
    assert a is not None and b is not None and a.i_size == b.i_size == 24 * 4096
    assert len(vl_inode_extents(a)) > 2 and len(vl_inode_extents(b)) > 2
    blocks_a = set(a.i_blocks.values())
    lo = min(blocks_a | set(b.i_blocks.values()))
    hi = max(blocks_a | set(b.i_blocks.values()))
    assert hi - lo + 1 == 48  # the two files share one contiguous region, interleaved


def test_truncate_unmaps_mapped_pages_past_the_end() -> None:
    k = boot_kernel(mem_mb=8, disk_mb=32, swap_mb=8, timeslice_ns=50_000)
    base = 0x10000000
    shared = vl_pack_mmap(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, 0)
    private = vl_pack_mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, 0)
    prog = [
        _sys(SYS_open, "f", O_CREAT | O_RDWR),
        _sys(SYS_write, "f", 0, 4 * 4096, 1),
        _sys(SYS_mmap2, "f", base, 4 * 4096, shared),
        _sys(SYS_mmap2, "f", base + 0x100000, 4 * 4096, private),
        Insn(OP_TOUCH, base, 4 * 4096, 4096, TOUCH_WRITE),
        Insn(OP_TOUCH, base + 0x100000, 4 * 4096, 4096, TOUCH_WRITE),
        _sys(VL_CHECKPOINT, "mapped"),
        _sys(SYS_ftruncate, "f", 4096 + 10),
        _sys(VL_CHECKPOINT, "truncated"),
        Insn(OP_TOUCH, base, 4096, 4096, TOUCH_WRITE),
        _sys(SYS_close, "f"),
    ]
    k.spawn("t", k.add_program("t", prog))
    mapped: list[int] = []
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step()
        n += 1
        assert n < 1_000_000
        problems = vl_verify_files(k) + check_invariants(k)
        assert not problems, problems
        if len(k.checkpoints) > len(mapped):
            mapped.append(k.vmstat.nr_mapped)
    # both vmas mapped all four pages; the truncate took the ptes of pages 2 and 3 away
    assert mapped[0] == 8 and mapped[1] == 4
    inode = vl_lookup_path(k, "f")
    assert inode is not None and inode.i_size == 4096 + 10
    assert inode.i_mapping.nrpages == 2 and sorted(inode.i_blocks) == [0, 1]
    assert k.vmstat.nr_mapped == 0 and k.vmstat.segfaults == 0
