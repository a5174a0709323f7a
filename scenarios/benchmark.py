"""Speed workloads behind ``vmlab bench`` and ``benchmarks/``.

Each workload builds its objects, then times only the measured loop (``time.perf_counter``
here, in the harness: the model itself never reads a clock). ``vmlab bench`` runs the list
twice, in two child processes, one importing the compiled modules and one the Python sources
(``VMLAB_INTERPRETED=1``), and prints them side by side.

Run one flavour directly: ``python -m scenarios.benchmark [--quick] [--only NAME,...]``
prints JSON lines, one per workload.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from machine.isa import Insn


@dataclass
class BenchResult:
    """One measured workload: ``ops`` operations in ``seconds`` of wall time.

    ``cpu_seconds`` is the CPU time of this process over the same loop, for the rows compared
    with the plain C reference and the snapshot rows (0.0 elsewhere).
    """

    name: str
    group: str
    ops: int
    seconds: float
    unit: str
    note: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        ops = fn()
        return ops, time.perf_counter() - t0
    finally:
        gc.enable()


def _timed_cpu(fn: Callable[[], int]) -> tuple[int, float, float]:
    """Like ``_timed``, also returning the CPU seconds of this process over the loop."""
    cpu0 = time.process_time()
    ops, secs = _timed(fn)
    return ops, secs, time.process_time() - cpu0


def _scaled(quick: bool, full: int, small: int) -> int:
    return small if quick else full


#: (full, --quick) sizes of the loops the plain C reference (scenarios.c_reference) mirrors.
TLB_HITS_SIZE: tuple[int, int] = (20_000_000, 2_000_000)
RANDOM_PAGES_SIZE: tuple[int, int] = (2_000_000, 300_000)
RADIX_SIZE: tuple[int, int] = (1_000_000, 100_000)


# ------------------------------------------------------------------ machine workloads


def _mapped_mmu(npages: int) -> tuple[object, object, int]:
    from machine.bench_support import vl_build_identity_mapping
    from machine.mmu import MMU
    from machine.physmem import PhysicalMemory

    nframes = npages + npages // 1024 + 16
    mem = PhysicalMemory(nframes)
    mmu = MMU(mem, 64)
    pgd_pfn = 1
    mem.zero_frame(pgd_pfn)
    mmu.load_cr3(pgd_pfn << 12)
    first_pt = 2
    first_data = first_pt + npages // 1024 + 2
    base = 0x40000000
    vl_build_identity_mapping(mem, mmu, base, npages, first_data, first_pt)
    return mem, mmu, base


def bench_tlb_hits(quick: bool) -> BenchResult:
    from machine.bench_support import vl_bench_tlb_hits
    from machine.mmu import MMU

    _, mmu, base = _mapped_mmu(16)
    assert isinstance(mmu, MMU)
    n = _scaled(quick, *TLB_HITS_SIZE)
    if os.environ.get("VMLAB_INTERPRETED") == "1":
        n //= 10
    mmu.probe(base, False, True)
    ops, secs, cpu = _timed_cpu(lambda: (vl_bench_tlb_hits(mmu, base, n), n)[1])
    return BenchResult("mmu translate, TLB hit", "machine", ops, secs, "translations/s",
                       cpu_seconds=cpu)


def bench_random_pages(quick: bool) -> BenchResult:
    from machine.bench_support import vl_bench_random_pages
    from machine.mmu import MMU

    npages = 2048  # 8 MiB
    _, mmu, base = _mapped_mmu(npages)
    assert isinstance(mmu, MMU)
    n = _scaled(quick, *RANDOM_PAGES_SIZE)
    x = 12345
    vaddrs = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        vaddrs.append(base + (x % npages) * 4096 + (x & 0xFFC))
    ops, secs, cpu = _timed_cpu(lambda: (vl_bench_random_pages(mmu, vaddrs), n)[1])
    return BenchResult(
        "mmu translate, random pages over 8 MiB", "machine", ops, secs, "translations/s",
        cpu_seconds=cpu,
    )


def bench_cpu_touch(quick: bool) -> BenchResult:
    from machine.cpu import Cpu, CpuContext
    from machine.isa import OP_ENDLOOP, OP_LOOP, OP_TOUCH, TOUCH_WRITE, Insn
    from machine.mmu import MMU
    from machine.physmem import PhysicalMemory
    from machine.testing_support import VlFakeTrap

    npages = 1024  # 4 MiB resident
    mem = PhysicalMemory(npages + 64)
    mmu = MMU(mem, 64)
    cpu = Cpu(mmu, mem)
    trap = VlFakeTrap(mem, mmu, cpu, 1, 2)
    loops = _scaled(quick, 40, 6)
    prog = [
        Insn(OP_LOOP, loops, 2),
        Insn(OP_TOUCH, 0x40000000, npages * 4096, 64, TOUCH_WRITE),
        Insn(OP_ENDLOOP, 0),
    ]
    warm = CpuContext(1, [Insn(OP_TOUCH, 0x40000000, npages * 4096, 4096, TOUCH_WRITE)])
    cpu.run(warm, 1 << 62, trap)
    ctx = CpuContext(1, prog)
    before = cpu.accesses

    def run() -> int:
        cpu.run(ctx, 1 << 62, trap)
        return int(cpu.accesses - before)

    ops, secs = _timed(run)
    return BenchResult(
        "cpu touch loop over 4 MiB (stride 64, writes)", "machine", ops, secs, "accesses/s"
    )


REPLAY_TOML = """
name = "bench-replay"
duration = "600s"
[machine]
memory = "64MiB"
[[tasks]]
name = "sort"
program = ["replay sort repeat {repeat}"]
"""


def bench_replay(quick: bool) -> BenchResult:
    """The built-in sort trace replayed through the whole model (MMU, faults, oracle,
    scheduler): the first pass faults its pages in; the passes after it are timed, where
    every access hits a mapped page and nearly all hit the TLB."""
    from scenarios.loader import load_text
    from scenarios.session import Session

    repeat = _scaled(quick, 12, 3)
    if os.environ.get("VMLAB_INTERPRETED") == "1":
        repeat = 2
    s = Session(load_text(REPLAY_TOML.format(repeat=repeat)))
    tasks = list(s.kernel.tasks.values())
    count = s.assembly.programs[0].insns[-1].trace
    assert count is not None
    first_pass = int(count.count)

    def warm(sess: Session) -> bool:
        return any(t.ctx is not None and t.ctx.cursor >= first_pass for t in tasks)

    s.run(predicate=warm)
    before = s.metrics()

    def run() -> int:
        s.run()
        return s.metrics()["cpu_accesses"] - before["cpu_accesses"]

    ops, secs = _timed(run)
    after = s.metrics()
    counters = {k: after[k] - before[k] for k in ("tlb_hits", "tlb_misses", "pgfault")}
    hits = counters["tlb_hits"] / max(1, counters["tlb_hits"] + counters["tlb_misses"])
    return BenchResult("replay of a recorded sort, pages resident", "machine", ops, secs,
                       "accesses/s", f"TLB hit rate {hits:.2%}", counters)


def bench_disk(quick: bool) -> BenchResult:
    from machine.clock import Clock
    from machine.disk import Disk

    clock = Clock()
    disk = Disk(clock, (1 << 30) // 512, "deadline")
    n = _scaled(quick, 100_000, 10_000)
    payload = bytes(4096)
    nsect = (1 << 30) // 512

    def run() -> int:
        x = 7
        done = 0
        submitted = 0
        while done < n:
            while submitted < n and submitted - done < 32:
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                disk.submit((x % (nsect // 8)) * 8, 8, True, payload, submitted)
                submitted += 1
            ev = clock.pop()
            assert ev is not None
            # a merged request completes several submissions at once
            done += len(disk.complete().tags)
        return done

    ops, secs = _timed(run)
    return BenchResult(
        "disk requests simulated (random 4 KiB writes, depth 32)",
        "machine",
        ops,
        secs,
        "requests/s",
    )


# ------------------------------------------------------------------ radix tree workloads


def _indices(n: int, shuffled: bool) -> list[int]:
    idx = list(range(n))
    if shuffled:
        x = 99991
        for i in range(n - 1, 0, -1):
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            j = (x >> 33) % (i + 1)
            idx[i], idx[j] = idx[j], idx[i]
        # Fresh int objects allocated in list order: the shuffled ints of range(n) lie
        # scattered over tens of MB, and reading each one would add a cache miss per
        # operation that the model's own callers (and the C reference's index array) do not
        # pay. The values and their order are unchanged.
        idx = [v ^ 0 for v in idx]
    return idx


def _radix_results(quick: bool) -> list[BenchResult]:
    from kernelmodel.bench.radix_bench import (
        vl_bench_gang_tag,
        vl_bench_insert,
        vl_bench_lookup,
        vl_bench_tag_clear,
        vl_bench_tag_set,
    )
    from kernelmodel.lib.radix_tree import RadixTreeRoot

    n = _scaled(quick, *RADIX_SIZE)
    seq = _indices(n, False)
    rnd = _indices(n, True)
    item = object()
    out: list[BenchResult] = []
    root = RadixTreeRoot()
    ops, secs = _timed(lambda: vl_bench_insert(root, seq, item))
    out.append(BenchResult("radix insert, sequential", "radix", ops, secs, "ops/s"))
    ops, secs = _timed(lambda: vl_bench_lookup(root, seq))
    out.append(BenchResult("radix lookup, sequential", "radix", ops, secs, "ops/s"))
    ops, secs, cpu = _timed_cpu(lambda: vl_bench_lookup(root, rnd))
    out.append(BenchResult("radix lookup, random", "radix", ops, secs, "ops/s", cpu_seconds=cpu))
    ops, secs, cpu = _timed_cpu(lambda: vl_bench_tag_set(root, rnd, 0))
    out.append(BenchResult("radix tag_set, random", "radix", ops, secs, "ops/s", cpu_seconds=cpu))
    ops, secs = _timed(lambda: vl_bench_gang_tag(root, 0, 16))
    out.append(BenchResult("radix gang_lookup_tag, batches of 16", "radix", ops, secs, "items/s"))
    ops, secs, cpu = _timed_cpu(lambda: vl_bench_tag_clear(root, rnd, 0))
    out.append(
        BenchResult("radix tag_clear, random", "radix", ops, secs, "ops/s", cpu_seconds=cpu)
    )
    root2 = RadixTreeRoot()
    ops, secs = _timed(lambda: vl_bench_insert(root2, rnd, item))
    out.append(BenchResult("radix insert, random", "radix", ops, secs, "ops/s"))
    return out


def bench_writeback(quick: bool) -> BenchResult:
    """Dirty a file in random page order with 4 KiB writes, then sync(2): sim and wall time."""
    from kernelmodel.boot import vl_start_kernel
    from kernelmodel.include.syscall_abi import O_RDWR, SYS_open, SYS_sync, SYS_write
    from kernelmodel.kernel.config import KernelConfig
    from machine.board import Machine, MachineConfig
    from machine.isa import OP_SYSCALL, Insn

    mib = _scaled(quick, 64, 8)
    pages = mib * 256
    machine = Machine(MachineConfig(mem_bytes=(2 * mib + 32) << 20, disk_bytes=1 << 30))
    k = vl_start_kernel(machine, KernelConfig(swap_bytes=64 << 20, seed=3))
    k.create_file("data", mib << 20, "zero", 0)
    order = _indices(pages, True)
    prog = [Insn(OP_SYSCALL, SYS_open, O_RDWR, s="data")]
    prog += [Insn(OP_SYSCALL, SYS_write, i * 4096, 4096, i + 1, s="data") for i in order]
    prog.append(Insn(OP_SYSCALL, SYS_sync))
    k.spawn("writer", k.add_program("writer", prog))

    def run() -> int:
        while not k.all_user_tasks_exited() and machine.step():
            pass
        return pages

    ops, secs = _timed(run)
    sim = machine.clock.now / 1e9
    note = f"{mib} MiB: {sim:.2f} s simulated, head travel {machine.disk.head_travel} sectors"
    return BenchResult(
        f"writeback run: dirty {mib} MiB at random, sync", "kernel", ops, secs, "pages/s", note
    )


def _fault_kernel(mib: int) -> tuple[object, object]:
    from kernelmodel.boot import vl_start_kernel
    from kernelmodel.kernel.config import KernelConfig
    from machine.board import Machine, MachineConfig

    machine = Machine(MachineConfig(mem_bytes=(3 * mib + 32) << 20, disk_bytes=256 << 20))
    return machine, vl_start_kernel(machine, KernelConfig(swap_bytes=32 << 20, seed=4))


def bench_faults(quick: bool) -> list[BenchResult]:
    """Anonymous write faults (do_anonymous_page) and COW faults (do_wp_page) per wall second."""
    from kernelmodel.include.syscall_abi import (
        MAP_ANONYMOUS,
        MAP_PRIVATE,
        PROT_READ,
        PROT_WRITE,
        VL_WAIT_CHILDREN,
        SYS_fork,
        SYS_mmap2,
        vl_pack_mmap,
    )
    from kernelmodel.kernel.kernel import Kernel
    from machine.board import Machine
    from machine.isa import OP_SYSCALL, OP_TOUCH, TOUCH_WRITE, Insn

    mib = _scaled(quick, 64, 8)
    machine, k = _fault_kernel(mib)
    assert isinstance(machine, Machine) and isinstance(k, Kernel)
    base, length = 0x40000000, mib << 20
    child = k.add_program("child", [Insn(OP_TOUCH, base, length, 4096, TOUCH_WRITE)])
    prot = vl_pack_mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0)
    parent = [
        Insn(OP_SYSCALL, SYS_mmap2, base, length, prot),
        Insn(OP_TOUCH, base, length, 4096, TOUCH_WRITE),
        Insn(OP_SYSCALL, SYS_fork, child),
        Insn(OP_SYSCALL, VL_WAIT_CHILDREN),
    ]
    k.spawn("parent", k.add_program("parent", parent))
    out: list[BenchResult] = []

    def until(pred: Callable[[], bool]) -> int:
        n = 0
        while not pred() and machine.step():
            n += 1
        return n

    anon_before = k.vmstat.pgfault
    _, secs = _timed(lambda: until(lambda: k.vmstat.pgfault - anon_before >= mib * 256))
    out.append(
        BenchResult(
            "anonymous write faults", "kernel", k.vmstat.pgfault - anon_before, secs, "faults/s"
        )
    )
    cow_before = k.vmstat.cow_faults
    _, secs = _timed(lambda: until(k.all_user_tasks_exited))
    out.append(
        BenchResult(
            "COW faults after fork",
            "kernel",
            k.vmstat.cow_faults - cow_before,
            secs,
            "faults/s",
            "wall time includes fork and both exits",
        )
    )
    return out


def _run_until(machine: object, pred: Callable[[], bool]) -> None:
    from machine.board import Machine

    assert isinstance(machine, Machine)
    while not pred() and machine.step():
        pass


def _task_done(k: object, pid: int) -> bool:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import TASK_DEAD, TASK_ZOMBIE

    assert isinstance(k, Kernel)
    task = k.tasks.get(pid)
    return task is None or task.state in (TASK_ZOMBIE, TASK_DEAD)


def _anon_toucher(base: int, npages: int, passes: int) -> list[Insn]:
    from kernelmodel.include.syscall_abi import (
        MAP_ANONYMOUS,
        MAP_PRIVATE,
        PROT_READ,
        PROT_WRITE,
        SYS_mmap2,
        vl_pack_mmap,
    )
    from machine.isa import OP_SYSCALL, OP_TOUCH, TOUCH_WRITE, Insn

    prot = vl_pack_mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0)
    prog = [Insn(OP_SYSCALL, SYS_mmap2, base, npages * 4096, prot)]
    prog += [Insn(OP_TOUCH, base, npages * 4096, 4096, TOUCH_WRITE) for _ in range(passes)]
    return prog


def bench_reclaim(quick: bool) -> BenchResult:
    """The ``reclaim`` workload: about 100k pages reclaimed (10k with --quick)."""
    # at least 24 MiB: below 4096 LRU pages 2.6.7's reclaim (the default profile's) can stall
    # once its kswapd has scanned the zone twice with every page under writeback
    return reclaim_workload(_scaled(quick, 100_000, 10_000), _scaled(quick, 32, 24))


def reclaim_workload(target: int, ram_mib: int) -> BenchResult:
    """Page reclaim under anonymous pressure: one task writes once to an anonymous region
    ``target`` pages larger than RAM (``ram_mib``), so kswapd and direct reclaim free about
    ``target`` pages (shrink_list, add_to_swap, try_to_unmap, swap writeout). Rate: pages
    reclaimed (pgsteal) per wall second; the note and ``counters`` give pgscan, pgsteal,
    pswpout and the simulated nanoseconds."""
    from kernelmodel.boot import vl_start_kernel
    from kernelmodel.kernel.config import KernelConfig
    from machine.board import Machine, MachineConfig

    npages = target + ram_mib * 256
    swap_mib = npages // 256 + 16
    disk = (swap_mib + 64) << 20
    machine = Machine(MachineConfig(mem_bytes=ram_mib << 20, disk_bytes=disk))
    k = vl_start_kernel(machine, KernelConfig(swap_bytes=swap_mib << 20, seed=5))
    pid = k.spawn("hog", k.add_program("hog", _anon_toucher(0x40000000, npages, 1)))
    vs = k.vmstat
    steal0, scan0, out0, t0 = vs.pgsteal, vs.pgscan, vs.pswpout, machine.clock.now

    def run() -> int:
        _run_until(machine, lambda: _task_done(k, pid))
        return vs.pgsteal - steal0

    ops, secs = _timed(run)
    counters = {
        "pgscan": vs.pgscan - scan0,
        "pgsteal": ops,
        "pswpout": vs.pswpout - out0,
        "sim_ns": machine.clock.now - t0,
    }
    note = (
        f"{npages} pages written once in {ram_mib} MiB of RAM: pgscan {counters['pgscan']}, "
        f"pgsteal {ops}, pswpout {counters['pswpout']}, "
        f"{counters['sim_ns'] / 1e9:.2f} s simulated"
    )
    label = f"reclaim, {npages // 256} MiB anon in {ram_mib} MiB"
    return BenchResult(label, "kernel", ops, secs, "pages/s", note, counters)


def _shared_anon_kernel(nforks: int, shared: int) -> tuple[object, object, int]:
    """Boot a kernel where a parent wrote ``shared`` anonymous pages and forked ``nforks``
    children that sleep: every page is mapped by nforks + 1 vmas on one anon_vma. Runs until
    all of them sleep. Returns (machine, kernel, pages of page-cache pressure to read).

    swappiness 100 makes refill_inactive_zone deactivate mapped pages whatever the pressure,
    so that a plain file read (page cache, never mapped) drives the shared pages to
    try_to_unmap and nothing else reaches it.
    """
    from kernelmodel.boot import vl_start_kernel
    from kernelmodel.include.syscall_abi import VL_WAIT_CHILDREN, SYS_fork, SYS_nanosleep
    from kernelmodel.kernel.config import KernelConfig
    from kernelmodel.kernel.task import TASK_RUNNING
    from machine.board import Machine, MachineConfig
    from machine.isa import OP_SYSCALL, Insn

    ram_mib = 8 + (nforks * 16) // 1024  # room for every child's page tables
    machine = Machine(MachineConfig(mem_bytes=ram_mib << 20, disk_bytes=512 << 20))
    # threads-max raised as an administrator would: the default (memory / 128 KiB) is
    # below 1000 tasks on this small machine
    k = vl_start_kernel(machine, KernelConfig(swap_bytes=64 << 20, seed=6, swappiness=100,
                                          threads_max=nforks + 64))
    child = k.add_program("sleeper", [Insn(OP_SYSCALL, SYS_nanosleep, 10**12)])
    parent = _anon_toucher(0x40000000, shared, 1)
    parent += [Insn(OP_SYSCALL, SYS_fork, child) for _ in range(nforks)]
    parent.append(Insn(OP_SYSCALL, VL_WAIT_CHILDREN))
    ppid = k.spawn("parent", k.add_program("parent", parent))

    def settled() -> bool:
        kids = [t for t in k.tasks.values() if t.parent == ppid]
        return len(kids) == nforks and all(
            t.state != TASK_RUNNING for t in [*kids, k.tasks[ppid]]
        )

    _run_until(machine, settled)
    return machine, k, ram_mib * 256 * 3


def unmap_workload(nforks: int, shared: int) -> BenchResult:
    """One row of ``unmap-scaling``: with ``nforks`` sleeping children sharing ``shared``
    pages, read a file three times the size of RAM until reclaim has called try_to_unmap
    ``shared`` times (or the read ends). Measured: that reclaim phase."""
    from kernelmodel.include.syscall_abi import O_RDONLY, SYS_open, SYS_read
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import OP_SYSCALL, Insn

    machine, k, npages = _shared_anon_kernel(nforks, shared)
    assert isinstance(k, Kernel)
    chunk = 128 << 10
    k.create_file("data", npages * 4096, "zero", 0)
    reader = [Insn(OP_SYSCALL, SYS_open, O_RDONLY, s="data")]
    reader += [
        Insn(OP_SYSCALL, SYS_read, i * chunk, chunk, s="data")
        for i in range(npages * 4096 // chunk)
    ]
    pid = k.spawn("reader", k.add_program("reader", reader))
    vs = k.vmstat
    calls0, steps0 = vs.try_to_unmap_calls, vs.try_to_unmap_steps

    def run() -> int:
        _run_until(
            machine, lambda: vs.try_to_unmap_calls - calls0 >= shared or _task_done(k, pid)
        )
        return vs.try_to_unmap_calls - calls0

    calls, secs = _timed(run)
    steps = vs.try_to_unmap_steps - steps0
    per_call = steps / calls if calls else 0.0
    us = secs / calls * 1e6 if calls else 0.0
    note = (
        f"{steps} steps / {calls} calls = {per_call:.1f} steps per call; "
        f"{us:.0f} us wall per call (the whole reclaim phase divided by the calls)"
    )
    return BenchResult(
        f"try_to_unmap, {nforks} forks sharing",
        "kernel",
        calls,
        secs,
        "calls/s",
        note,
        {"try_to_unmap_calls": calls, "try_to_unmap_steps": steps},
    )


def bench_unmap_scaling(quick: bool) -> list[BenchResult]:
    """try_to_unmap's anon_vma walk as the number of forks sharing it grows (1, 10, 100,
    1000; --quick stops at 100): one row per count, steps per call in the note."""
    counts = (1, 10, 100) if quick else (1, 10, 100, 1000)
    return [unmap_workload(n, 256) for n in counts]


#: The built-in swap-storm scaled up: two hogs of {hog} MiB each on {ram} MiB of RAM.
_STORM_TOML = """
name = "snapshot-bench"
seed = 17
[machine]
memory = "{ram}MiB"
swap = "{swap}MiB"
[[tasks]]
name = "hog1"
program = "hog"
[[tasks]]
name = "hog2"
program = "hog"
[programs]
hog = [
  "mmap 0x4000_0000 {hog}MiB anon private rw",
  "touch 0x4000_0000 {hog}MiB write",
  "sleep 50ms",
  "loop 1",
  "  touch 0x4000_0000 {hog}MiB read",
  "  touch 0x4000_0000 {hog}MiB write stride 8KiB",
  "end",
]
"""


def bench_snapshot(quick: bool) -> list[BenchResult]:
    """Saving and loading a snapshot of a machine after a swap storm (the snapshot issue's
    target: 256 MiB of RAM, two hogs of 160 MiB, 20 simulated seconds in; --quick: 64 MiB and
    two of 40 MiB)."""
    ram, hog = (64, 40) if quick else (256, 160)
    return snapshot_workload(ram, hog, 20_000_000_000, 3)


def snapshot_workload(ram: int, hog: int, until_ns: int, rounds: int) -> list[BenchResult]:
    """Two hogs of ``hog`` MiB on ``ram`` MiB, run to ``until_ns``; then ``rounds`` saves
    and ``rounds`` loads (each load restores, re-hashes and runs the invariant checker and
    the data oracle; the loaded state's hash is checked outside the timing). Rates are per
    second of wall-clock time; ``cpu_seconds`` is the CPU time of the process over the timed
    parts (the state hash runs on a second thread, so CPU can exceed wall). The notes give
    the fastest single save and load (wall, and CPU), the file size and the state hash;
    ``counters`` the file size, pswpout and the simulated time."""
    import tempfile

    from scenarios.loader import load_text
    from scenarios.session import Session
    from scenarios.snapshot import load_snapshot, save_snapshot

    text = _STORM_TOML.format(ram=ram, swap=2 * ram, hog=hog)
    session = Session(load_text(text, "snapshot-bench"))
    session.run(until_ns=until_ns)
    label = f"{ram} MiB after a swap storm"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "storm.vmsnap")
        saves: list[tuple[float, float]] = []
        size = 0
        digest = ""

        def save() -> int:
            nonlocal size, digest
            for _ in range(rounds):
                t0, c0 = time.perf_counter(), time.process_time()
                saved = save_snapshot(session, path)
                saves.append((time.perf_counter() - t0, time.process_time() - c0))
                size, digest = saved.size, saved.state_hash
            return rounds

        loads: list[tuple[float, float]] = []

        def load() -> int:
            t0, c0 = time.perf_counter(), time.process_time()
            back = load_snapshot(path)
            loads.append((time.perf_counter() - t0, time.process_time() - c0))
            if back.state_hash() != digest:  # checked outside the timed part
                raise RuntimeError("snapshot bench: the loaded state hashes differently")
            return 1

        ops_s, secs_s = _timed(save)
        ops_l = sum(_timed(load)[0] for _ in range(rounds))
        secs_l = sum(wall for wall, _cpu in loads)
    counters = {"file_bytes": size, "pswpout": session.kernel.vmstat.pswpout,
                "sim_ns": session.sim_time_ns}
    save_wall, save_cpu = min(saves)
    load_wall, load_cpu = min(loads)
    return [
        BenchResult(f"snapshot save, {label}", "snapshot", ops_s, secs_s, "saves/s",
                    f"fastest {save_wall:.3f} s ({save_cpu:.3f} s CPU); {size:,} B file; "
                    f"state {digest[:16]}", counters, sum(cpu for _wall, cpu in saves)),
        BenchResult(f"snapshot load, {label}", "snapshot", ops_l, secs_l, "loads/s",
                    f"fastest {load_wall:.3f} s ({load_cpu:.3f} s CPU), every check included",
                    counters, sum(cpu for _wall, cpu in loads)),
    ]


def bench_seek(quick: bool) -> list[BenchResult]:
    """Seeking back and forth in a swap storm on 256 MiB (--quick: 64 MiB), with the
    history's default memory budget."""
    ram, hog = (64, 40) if quick else (256, 160)
    return seek_workload(ram, hog, 3_000_000_000, 4)


def seek_workload(ram: int, hog: int, until_ns: int, rounds: int) -> list[BenchResult]:
    """Two hogs of ``hog`` MiB on ``ram`` MiB run to ``until_ns`` keeping history (default
    budget and spacing), then ``rounds`` seeks to events spread over the run, back and
    forth. The note gives the slowest seek and the checkpoints' number and memory;
    ``counters`` the checkpoint bytes, the checkpoints and the events of the run."""
    from scenarios.loader import load_text
    from scenarios.session import Session

    text = _STORM_TOML.format(ram=ram, swap=2 * ram, hog=hog)
    session = Session(load_text(text, "seek-bench"))
    history = session.keep_history()
    session.run(until_ns=until_ns)
    events = session.events
    targets = [events * (2 * i + 1) // (2 * rounds) for i in range(rounds)]
    targets = targets[1::2] + targets[0::2]  # back and forth
    seeks: list[float] = []

    def seek() -> int:
        for n in targets:
            t0 = time.perf_counter()
            session.seek(n)
            seeks.append(time.perf_counter() - t0)
        return len(targets)

    ops, secs = _timed(seek)
    mem = history.nbytes
    counters = {"checkpoint_bytes": mem, "checkpoints": len(history.checkpoints),
                "events": events, "budget_bytes": history.budget_bytes}
    return [BenchResult(
        f"seek, {ram} MiB swap storm ({events:,} events)", "seek", ops, secs, "seeks/s",
        f"slowest {max(seeks):.3f} s; {len(history.checkpoints)} checkpoints, "
        f"{mem / (1 << 20):.1f} MiB of {history.budget_bytes >> 20} MiB", counters)]


def _bench_scale(quick: bool) -> list[BenchResult]:
    """Boot, events/s and RSS of machines of 256 MiB to 4 GiB (scenarios/bench_scale.py)."""
    from scenarios.bench_scale import bench_scale

    return bench_scale(quick)


def _bench_steps(quick: bool) -> list[BenchResult]:
    """The longest model step of a 1 GiB swap storm (scenarios/bench_steps.py)."""
    from scenarios.bench_steps import bench_steps

    return bench_steps(quick)


WORKLOADS: dict[str, Callable[[bool], list[BenchResult]]] = {
    "tlb": lambda q: [bench_tlb_hits(q)],
    "random-pages": lambda q: [bench_random_pages(q)],
    "cpu": lambda q: [bench_cpu_touch(q)],
    "replay": lambda q: [bench_replay(q)],
    "disk": lambda q: [bench_disk(q)],
    "radix": _radix_results,
    "writeback": lambda q: [bench_writeback(q)],
    "faults": bench_faults,
    "reclaim": lambda q: [bench_reclaim(q)],
    "unmap-scaling": bench_unmap_scaling,
    "snapshot": bench_snapshot,
    "seek": bench_seek,
    "scale": _bench_scale,
    "steps": _bench_steps,
}


def run_workloads(quick: bool, only: list[str] | None) -> list[BenchResult]:
    """Run the selected workloads in this process (whatever flavour it imported)."""
    results: list[BenchResult] = []
    for name, fn in WORKLOADS.items():
        if only and name not in only:
            continue
        results.extend(fn(quick))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios.benchmark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    from scenarios.flavour import flavour

    kind = flavour()
    only = [s for s in args.only.split(",") if s] or None
    for r in run_workloads(args.quick, only):
        rec = {
            "flavour": kind,
            "name": r.name,
            "group": r.group,
            "ops": r.ops,
            "seconds": r.seconds,
            "unit": r.unit,
            "note": r.note,
            "counters": r.counters,
            "cpu_seconds": r.cpu_seconds,
        }
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
