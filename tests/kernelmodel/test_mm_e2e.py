"""End-to-end process memory: user programs on the emulated CPU, through the syscall table and
the scheduler (mmap2, munmap, fork, exit, wait), checked after every event."""

from __future__ import annotations

from test_mm_support import MiB, make_kernel, problems

from kernelmodel.include.syscall_abi import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_SYNC,
    O_RDWR,
    PROT_READ,
    PROT_WRITE,
    VL_VERIFY,
    VL_WAIT_CHILDREN,
    SYS_close,
    SYS_exit,
    SYS_fork,
    SYS_mmap2,
    SYS_msync,
    SYS_munmap,
    SYS_open,
    SYS_unlink,
    vl_pack_mmap,
)
from kernelmodel.include.vmstat import TR_SEGV
from kernelmodel.kernel.kernel import Kernel
from machine.isa import OP_LOAD, OP_STORE, OP_SYSCALL, OP_TOUCH, TOUCH_WRITE, Insn

BASE = 0x40000000
ANON = vl_pack_mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, 0)


def mmap(addr: int, length: int) -> Insn:
    return Insn(OP_SYSCALL, SYS_mmap2, addr, length, ANON)


def store(addr: int, value: int) -> Insn:
    return Insn(OP_STORE, addr, value)


def expect(addr: int, value: int) -> Insn:
    return Insn(OP_LOAD, addr, value, 1)


def syscall(nr: int, b: int = 0, c: int = 0) -> Insn:
    return Insn(OP_SYSCALL, nr, b, c)


def run_checked(k: Kernel, limit: int = 200_000, every: int = 1) -> int:
    """Run until every user task exited, checking the invariants after every ``every`` events."""
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step(), "user tasks left but nothing to do"
        n += 1
        if n % every == 0:
            assert problems(k) == [], f"after event {n}"
        assert n < limit
    assert problems(k) == []
    return n


def test_fork_cow_through_the_cpu() -> None:
    k = make_kernel()
    child = k.add_program("child", [
        expect(BASE, 0x1111),
        store(BASE, 0x2222),
        expect(BASE, 0x2222),
        Insn(OP_TOUCH, BASE + 0x1000, 0x3000, 64, TOUCH_WRITE),
        syscall(VL_VERIFY),
        syscall(SYS_exit, 3),
    ])
    parent = k.add_program("parent", [
        mmap(BASE, 64 << 10),
        store(BASE, 0x1111),
        Insn(OP_TOUCH, BASE + 0x1000, 0x8000, 128, TOUCH_WRITE),
        syscall(SYS_fork, child),
        syscall(SYS_fork, child),
        syscall(VL_WAIT_CHILDREN),
        expect(BASE, 0x1111),
        syscall(SYS_munmap, BASE + 0x4000, 0x4000),
        syscall(VL_VERIFY),
    ])
    pid = k.spawn("parent", parent)
    run_checked(k)
    p = k.tasks[pid]
    assert p.exit_code == 0 and p.ctx is not None and p.ctx.load_mismatches == 0
    kids = [t for t in k.tasks.values() if t.parent == pid]
    assert len(kids) == 2 and all(t.exit_code == 3 for t in kids)
    assert all(t.ctx is not None and t.ctx.load_mismatches == 0 for t in kids)
    assert k.verify_failures == 0 and k.mm_oracle.load_mismatches == 0
    assert k.vmstat.cow_faults >= 2
    assert k.mm_registry.mms == {} and k.mm_registry.vmas == {} and k.vmstat.rmap_bytes == 0


def test_segfault_through_the_cpu_kills_only_that_task() -> None:
    k = make_kernel()
    bad = k.spawn("bad", k.add_program("bad", [mmap(BASE, 4096), store(BASE + 4096, 1)]))
    good = k.spawn("good", k.add_program("good", [
        mmap(BASE, 8192),
        store(BASE + 4096, 7),
        expect(BASE + 4096, 7),
    ]))
    run_checked(k)
    assert k.tasks[bad].exit_code == 139 and k.tasks[good].exit_code == 0
    segv = [e for e in k.trace.since(0) if e.kind == TR_SEGV]
    assert [e.pid for e in segv] == [bad] and k.vmstat.segfaults == 1


def test_exit_returns_every_frame() -> None:
    k = make_kernel()
    touch = Insn(OP_TOUCH, BASE, 1 * MiB, 4096, TOUCH_WRITE)
    prog = k.add_program("p", [mmap(BASE, 1 * MiB), touch])
    from kernelmodel.mm.swap import lru_add_drain

    free0 = k.pgdat.zone.free_pages
    k.spawn("p", prog)
    run_checked(k, every=64)
    lru_add_drain(k)
    assert k.pgdat.zone.free_pages == free0
    assert k.vmstat.nr_page_table_pages == 0 and k.vmstat.nr_anon == 0


def test_memory_pressure_with_forks_through_the_cpu() -> None:
    """A 4 MiB machine: a parent and two children write 2 MiB each; reclaim swaps through rmap."""
    k = make_kernel(mem=4 * MiB, swap=8 * MiB, disk=32 * MiB)
    size = 512 << 12
    child = k.add_program("child", [
        Insn(OP_TOUCH, BASE, size, 4096 + 4, TOUCH_WRITE),
        Insn(OP_TOUCH, BASE, size, 2048, 0),
        syscall(VL_VERIFY),
    ])
    parent = k.add_program("parent", [
        mmap(BASE, size),
        Insn(OP_TOUCH, BASE, size, 1024, TOUCH_WRITE),
        syscall(SYS_fork, child),
        syscall(SYS_fork, child),
        Insn(OP_TOUCH, BASE, size, 4096, 0),
        syscall(VL_WAIT_CHILDREN),
        syscall(VL_VERIFY),
    ])
    k.spawn("parent", parent)
    run_checked(k, every=7)
    assert k.verify_failures == 0
    assert k.vmstat.pswpout > 0 and k.vmstat.pswpin > 0 and k.vmstat.pgmajfault > 0
    assert k.vmstat.try_to_unmap_calls > 0 and k.vmstat.try_to_unmap_steps > 0


# ---- file mappings ---------------------------------------------------------------------------

SEED = 0x5EED


def fmap(addr: int, length: int, path: str, shared: bool, pgoff: int = 0) -> Insn:
    flags = (MAP_SHARED if shared else MAP_PRIVATE) | MAP_FIXED
    d = vl_pack_mmap(PROT_READ | PROT_WRITE, flags, pgoff)
    return Insn(OP_SYSCALL, SYS_mmap2, addr, length, d, path)


def test_shared_and_private_file_mappings() -> None:
    k = make_kernel()
    k.create_file("f", 64 << 10, "pattern", SEED)
    b2 = BASE + (1 << 20)
    prog = k.add_program("p", [
        Insn(OP_SYSCALL, SYS_open, O_RDWR, s="f"),
        fmap(BASE, 64 << 10, "f", True),
        fmap(b2, 64 << 10, "f", False),
        expect(BASE + 8, 8 ^ SEED),
        store(BASE + 8, 0xABCD),
        expect(b2 + 8, 0xABCD),  # the private mapping still sees the page cache
        store(b2 + 8, 0x1234),  # copy-on-write of a file page
        expect(BASE + 8, 0xABCD),
        expect(b2 + 8, 0x1234),
        expect(b2 + 0x2000, 0x2000 ^ SEED),
        Insn(OP_TOUCH, BASE + 0x4000, 0x4000, 512, TOUCH_WRITE),
        Insn(OP_SYSCALL, SYS_msync, BASE, 64 << 10, MS_SYNC),
        syscall(VL_VERIFY),
        syscall(SYS_munmap, BASE, 64 << 10),
        Insn(OP_SYSCALL, SYS_close, s="f"),
        expect(b2 + 8, 0x1234),
        syscall(VL_VERIFY),
    ])
    pid = k.spawn("p", prog)
    run_checked(k)
    t = k.tasks[pid]
    assert t.exit_code == 0 and t.ctx is not None and t.ctx.load_mismatches == 0
    assert k.verify_failures == 0 and k.verify_data() == []
    assert k.mm_oracle.file_stores > 0 and k.vmstat.cow_faults >= 1


def test_file_fault_beyond_eof_is_sigbus() -> None:
    k = make_kernel()
    k.create_file("small", 6000, "random", 3)
    prog = k.add_program("p", [
        Insn(OP_SYSCALL, SYS_open, O_RDWR, s="small"),
        fmap(BASE, 16 << 10, "small", True),
        Insn(OP_LOAD, BASE + 4096),
        Insn(OP_LOAD, BASE + 8192),
    ])
    pid = k.spawn("p", prog)
    run_checked(k)
    assert k.tasks[pid].exit_code == 135
    assert any(e.kind == TR_SEGV and "SIGBUS" in e.s for e in k.trace.since(0))


def test_reclaim_unmaps_file_pages_through_i_mmap() -> None:
    k = make_kernel(mem=4 * MiB, swap=4 * MiB, disk=32 * MiB)
    size = 6 * MiB
    k.create_file("big", size, "pattern", SEED)
    child = k.add_program("c", [Insn(OP_TOUCH, BASE, size, 4096, 0), syscall(VL_VERIFY)])
    prog = k.add_program("p", [
        Insn(OP_SYSCALL, SYS_open, O_RDWR, s="big"),
        fmap(BASE, size, "big", True),
        Insn(OP_TOUCH, BASE, size, 8192, TOUCH_WRITE),
        syscall(SYS_fork, child),
        Insn(OP_TOUCH, BASE, size, 4096, 0),
        syscall(VL_WAIT_CHILDREN),
        syscall(VL_VERIFY),
    ])
    k.spawn("p", prog)
    run_checked(k, every=25)
    assert k.verify_failures == 0 and k.verify_data() == []
    assert k.vmstat.try_to_unmap_calls > 0 and k.vmstat.pgmajfault > 0


def test_mapping_keeps_an_unlinked_file_until_munmap() -> None:
    k = make_kernel()
    k.create_file("gone", 16 << 10, "pattern", SEED)
    prog = k.add_program("p", [
        Insn(OP_SYSCALL, SYS_open, O_RDWR, s="gone"),
        fmap(BASE, 16 << 10, "gone", True),
        Insn(OP_SYSCALL, SYS_close, s="gone"),
        Insn(OP_SYSCALL, SYS_unlink, s="gone"),
        expect(BASE + 0x1004, 0x1004 ^ SEED),
        store(BASE + 0x1004, 77),
        expect(BASE + 0x1004, 77),
        syscall(SYS_munmap, BASE, 16 << 10),
        syscall(VL_VERIFY),
    ])
    pid = k.spawn("p", prog)
    ino = k.sb.s_names["gone"]
    run_checked(k)
    assert k.tasks[pid].exit_code == 0 and k.verify_failures == 0
    assert ino not in k.sb.s_inodes and k.mm_registry.deferred_iput == []


def test_fork_chain_of_100_under_memory_pressure() -> None:
    """A parent and 100 descendants (a fork chain) share 2 MiB of anonymous pages; the last
    one rewrites them all on a 4 MiB machine, so reclaim must unmap pages mapped 101 times
    through the anon_vma (every vma of the chain is on one list)."""
    # 101 tasks: above the default threads-max of a 4 MiB machine (64), raised as
    # /proc/sys/kernel/threads-max would be
    k = make_kernel(mem=4 * MiB, swap=8 * MiB, disk=32 * MiB, threads_max=128)
    size = 2 * MiB
    depth = 100
    last = k.add_program("last", [
        Insn(OP_TOUCH, BASE, size, 4096, TOUCH_WRITE),
        Insn(OP_TOUCH, BASE, size, 1024, 0),
        syscall(VL_VERIFY),
    ])
    nxt = last
    for _ in range(depth - 1):
        nxt = k.add_program("link", [syscall(SYS_fork, nxt), syscall(VL_WAIT_CHILDREN)])
    root = k.add_program("root", [
        mmap(BASE, size),
        Insn(OP_TOUCH, BASE, size, 2048, TOUCH_WRITE),
        syscall(SYS_fork, nxt),
        syscall(VL_WAIT_CHILDREN),
        Insn(OP_TOUCH, BASE, size, 4096, 0),
        syscall(VL_VERIFY),
    ])
    k.spawn("root", root)
    seen = 0
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step()
        n += 1
        avs = list(k.mm_registry.anon_vmas.values())
        if avs:
            seen = max(seen, max(len(av.head) for av in avs))
        if n % 400 == 0:
            assert problems(k) == [], f"after event {n}"
    assert problems(k) == []
    assert seen == depth + 1
    assert len(k.tasks) >= depth + 1 and k.verify_failures == 0
    assert k.vmstat.pswpout > 0 and k.vmstat.try_to_unmap_steps > 0
