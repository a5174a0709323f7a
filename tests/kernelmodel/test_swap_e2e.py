"""End-to-end reclaim: swap storms, fork chains sharing anonymous memory, random workloads.

Tasks here have an mm but no user program: the test performs each user access itself the way
the CPU does (MMU.probe, then do_page_fault, and a retry once the task runs again), records
stores in the memory oracle, and lets the machine run events (disk completions, kswapd, the
scheduler stepping sleeping faults) in between. After every event and every access the
memory oracle, check_mm and check_swap must hold.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_swap_support import make_kernel

from kernelmodel.check.check import check_invariants
from kernelmodel.check.check_mm import check_mm
from kernelmodel.check.check_swap import check_swap
from kernelmodel.include.swap_generated import load_oom_state, save_oom_state
from kernelmodel.include.syscall_abi import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
)
from kernelmodel.include.vmstat import TR_OOM, TR_SWAP_IN, TR_SWAP_OUT
from kernelmodel.kernel.fork import dup_mm, vl_exec_mm
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import PF_MEMDIE, TASK_RUNNING, TASK_ZOMBIE, Task
from kernelmodel.mm.memory import do_page_fault
from kernelmodel.mm.mmap import do_mmap_pgoff
from kernelmodel.mm.oom_kill import vl_oom_kill_pending
from kernelmodel.mm.pgtable import vl_switch_mm
from kernelmodel.oracle.oracle_mm import (
    oracle_note_store,
    vl_oracle_fork,
    vl_verify_memory,
)
from kernelmodel.oracle.oracle_page import MAX_STROKES
from kernelmodel.oracle.state_generated import load_vl_mm_oracle

BASE = 0x20000000


class Sim:
    """A booted kernel driven access by access, checked after every event."""

    def __init__(
        self, mem_mb: int, swap_mb: int, check_every: int = 1, disk_mb: int = 64,
        design: tuple[str, str, str] = ("2.6.7", "tags", "anon_vma"),
    ) -> None:
        # 2.6.6's reclaim: 2.6.7's stalls machines this small once kswapd has scanned the
        # zone twice while every page is being written (docs/scenarios.md); the scenario
        # tests and test_vmscan_267.py cover 2.6.7's.
        self.k: Kernel = make_kernel(mem_mb=mem_mb, swap_mb=swap_mb, disk_mb=disk_mb,
                                     design=design, vmscan="2.6.6")
        self.check_every = check_every
        self.events = 0
        self.ticks = 0
        self.checks = 0

    def spawn(self, name: str) -> Task:
        k = self.k
        t = Task(k.alloc_pid(), name, None)
        k.tasks[t.pid] = t
        assert vl_exec_mm(k, t)
        return t

    def mmap_anon(self, t: Task, addr: int, npages: int) -> None:
        mm = self.k.mm_registry.mms[t.mm_id]
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
        prot = PROT_READ | PROT_WRITE
        got = do_mmap_pgoff(self.k, mm, -1, 0, addr, npages * 4096, prot, flags, 0)
        assert got == addr

    def fork(self, parent: Task, name: str) -> Task:
        """ForkOp's work for a driven task: dup_mm, retried after a wait if memory is short."""
        k = self.k
        old = k.mm_registry.mms[parent.mm_id]
        for _ in range(200):
            k.current = parent.pid
            mm = dup_mm(k, old)
            k.current = -1
            if mm is not None:
                break
            until = k.now() + 20_000_000  # vl_wait_for_memory
            while k.now() < until:
                self.step()
        assert mm is not None, "fork: no memory after 4 s"
        child = Task(k.alloc_pid(), name, None)
        child.mm_id = mm.mm_id
        child.parent = parent.pid
        k.tasks[child.pid] = child
        vl_oracle_fork(k, old.mm_id, mm.mm_id)
        return child

    def check(self) -> None:
        k = self.k
        self.checks += 1
        problems = check_invariants(k) + vl_verify_memory(k)  # includes check_mm, check_swap
        assert problems == [], problems[:10]

    def tick(self) -> None:
        """Count one event or fault; run the checks every ``check_every`` ticks."""
        self.ticks += 1
        if self.ticks % self.check_every == 0:
            self.check()

    def park_idle(self) -> None:
        """Take driven tasks whose fault completed off the run queue.

        They have no user program: the test performs their next access itself, so the
        scheduler must not spin on them with empty slices.
        """
        k = self.k
        for pid in list(k.runqueue):
            t = k.tasks.get(pid)
            if t is not None and t.ctx is None and not t.is_kthread() and not t.kstack:
                k.runqueue.remove(pid)

    def deliver_kills(self) -> None:
        """The return-to-user signal check for driven tasks: between events no kernel path
        runs, so a pending OOM kill can be delivered as at the start of a slice."""
        k = self.k
        for t in list(k.tasks.values()):
            if t.ctx is None and (t.flags & PF_MEMDIE) and t.mm_id >= 0:
                vl_oom_kill_pending(k, t, True)

    def step(self) -> None:
        self.park_idle()
        self.deliver_kills()
        assert self.k.machine.step(), "no event pending while a task waits"
        self.events += 1
        self.tick()

    def settle(self, t: Task, limit: int = 200_000) -> None:
        """Run events until ``t`` is running with no kernel op left (its fault completed),
        or has exited."""
        n = 0
        while (t.state != TASK_RUNNING or t.kstack) and t.state != TASK_ZOMBIE:
            self.step()
            n += 1
            assert n < limit, f"task {t.pid} stuck: {t.describe_wait()}"

    def access(self, t: Task, vaddr: int, write: bool, value: int = 0) -> int:
        """One u32 user access; returns the value read (or written), or -1 if the task died."""
        k = self.k
        mmu = k.machine.mmu
        mem = k.machine.mem
        for _ in range(1000):
            self.settle(t)
            if t.state == TASK_ZOMBIE:
                return -1
            k.current = t.pid
            vl_switch_mm(k, t)
            paddr = mmu.probe(vaddr, write, True)
            if paddr >= 0:
                if write:
                    mem.write_u32(paddr, value)
                    oracle_note_store(k, t, vaddr, value)
                got = mem.read_u32(paddr)
                k.current = -1
                return got
            do_page_fault(k, t, int(mmu.fault_vaddr), int(mmu.fault_error))
            k.current = -1
            self.tick()
        raise AssertionError(f"access {vaddr:#x}: no progress")


def value_for(pid: int, vpn: int, gen: int) -> int:
    return (pid * 0x9E3779B1 + vpn * 0x85EBCA77 + gen) & 0xFFFFFFFF


#: (release, writeback, rmap): 2.6.7; 2.6.5 (pte chains, and the swap cache in
#: mapping/index); rmap 10's anonmm.
DESIGNS = [("2.6.7", "tags", "anon_vma"), ("2.6.5", "lists", "pte_chain"),
           ("2.6.7", "tags", "anonmm")]


@pytest.mark.parametrize("design", DESIGNS)
def test_anonymous_swap_storm_twice_ram(design: tuple[str, str, str]) -> None:
    """Anonymous memory twice the RAM: written, then read back twice; the data survives."""
    sim = Sim(mem_mb=2, swap_mb=8, check_every=64, design=design)
    k = sim.k
    nframes = k.mem_map.nframes
    npages = 2 * nframes
    t = sim.spawn("storm")
    sim.mmap_anon(t, BASE, npages)
    for i in range(npages):
        if i % 4 == 0:  # more stores than a description holds: the oracle keeps the words
            for w in range(MAX_STROKES):
                sim.access(t, BASE + i * 4096 + 2048 + 8 * w, True, value_for(t.pid, i, w + 1))
        sim.access(t, BASE + i * 4096, True, value_for(t.pid, i, 0))
    for rnd in range(2):
        for i in range(npages):
            got = sim.access(t, BASE + i * 4096 + 4 * (rnd + 1), False)
            assert got == 0
            got = sim.access(t, BASE + i * 4096, False)
            assert got == value_for(t.pid, i, 0)
    sim.check()
    vs = k.vmstat
    assert vs.pswpout > nframes // 2 and vs.pswpin > nframes // 2
    assert vs.pgmajfault > 0 and vs.pgsteal > 0 and vs.kswapd_steal > 0
    assert vs.oom_kill == 0
    assert sim.checks > 50
    _oracle_state_names_frames_and_slots(k, npages)


def _oracle_state_names_frames_and_slots(k: Kernel, npages: int) -> None:
    """After a storm every expected page the oracle holds in full is where the page tables
    say (a frame or a swap slot): the oracle's state names those places instead of holding
    the bytes; the others are their few-int descriptions; reading the state back gives
    every page's words again."""
    s = k.mm_oracle.to_state(k)
    in_frame = s["in_frame"]
    on_disk = s["on_disk"]
    described = s["described"]
    assert isinstance(in_frame, list) and isinstance(on_disk, list)
    assert isinstance(described, list)
    assert s["page_ids"] == [] and s["page_data"] == []
    held = len(in_frame) // 2 + len(on_disk) // 2
    assert held == (npages + 3) // 4 and len(described) == (npages - held) * 6
    assert in_frame and on_disk
    back = load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)
    for mm_id, table in k.mm_oracle.mms.items():
        assert {vpn: p.expected_words() for vpn, p in back.mms[mm_id].items()} == \
            {vpn: p.expected_words() for vpn, p in table.items()}


@pytest.mark.parametrize("design", DESIGNS)
def test_fork_chain_of_100_shares_anon_pages_under_pressure(design: tuple[str, str, str]) -> None:
    """A chain of 100 descendants maps the parent's anonymous pages; memory pressure makes
    reclaim unmap each shared page from all 101 address spaces through the reverse map (the
    anon_vma's 101 vmas, the 101 ptes of the chain, the bundle's 101 mms)."""
    sim = Sim(mem_mb=4, swap_mb=16, check_every=256, design=design)
    k = sim.k
    shared = 32
    root = sim.spawn("root")
    sim.mmap_anon(root, BASE, shared)
    for i in range(shared):
        sim.access(root, BASE + i * 4096, True, value_for(root.pid, i, 1))
    chain = [root]
    for n in range(100):
        chain.append(sim.fork(chain[-1], f"c{n}"))
    sim.check()
    hog = sim.spawn("hog")
    hog_pages = k.mem_map.nframes + 256
    sim.mmap_anon(hog, BASE, hog_pages)
    steps0 = k.vmstat.try_to_unmap_steps
    for i in range(hog_pages):
        sim.access(hog, BASE + i * 4096, True, value_for(hog.pid, i, 2))
    sim.check()
    # The shared pages were unmapped from every member of the chain (try_to_unmap walked the
    # anon_vma's 101 vmas) and written to swap once.
    assert k.vmstat.try_to_unmap_steps - steps0 >= 101 * shared // 2
    for t in [*chain[::10], chain[-1]]:
        for i in range(0, shared, 3):
            assert sim.access(t, BASE + i * 4096, False) == value_for(root.pid, i, 1)
    sim.check()
    assert k.vmstat.oom_kill == 0


WORKLOAD = st.lists(
    st.tuples(
        st.sampled_from(["write", "read", "fork", "exit"]),
        st.integers(0, 3),
        st.integers(0, 199),
    ),
    min_size=20,
    max_size=120,
)


@pytest.mark.parametrize("design", DESIGNS)
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(WORKLOAD)
def test_random_workload_under_memory_pressure(
    design: tuple[str, str, str], ops: list[tuple[str, int, int]]
) -> None:
    """Random writes, reads, forks and exits over 200-page address spaces on a 1 MiB machine
    (memory pressure from the start); every invariant after every event; each design."""
    from kernelmodel.kernel.exit import do_exit

    sim = Sim(mem_mb=1, swap_mb=4, check_every=1, design=design)
    npages = 200
    tasks: list[Task] = []
    expected: dict[tuple[int, int], int] = {}
    for n in range(2):
        t = sim.spawn(f"w{n}")
        sim.mmap_anon(t, BASE, npages)
        tasks.append(t)
        for vpn in range(0, npages, 2):  # 200 pages in all: more than the free memory
            v = value_for(t.pid, vpn, 0)
            sim.access(t, BASE + vpn * 4096, True, v)
            expected[(t.pid, vpn)] = v
    assert sim.k.vmstat.pswpout > 0
    for gen, (op, who, vpn) in enumerate(ops, start=1):
        live = [t for t in tasks if t.mm_id >= 0]
        if not live:
            break
        t = live[who % len(live)]
        addr = BASE + vpn * 4096
        if op == "write":
            v = value_for(t.pid, vpn, gen)
            sim.access(t, addr, True, v)
            expected[(t.pid, vpn)] = v
        elif op == "read":
            got = sim.access(t, addr, False)
            assert got == expected.get((t.pid, vpn), 0)
        elif op == "fork" and len(live) < 6:
            c = sim.fork(t, f"f{gen}")
            tasks.append(c)
            for (pid, p), v in list(expected.items()):
                if pid == t.pid:
                    expected[(c.pid, p)] = v
        elif op == "exit" and len(live) > 1:
            do_exit(sim.k, t, 0)
        sim.check()
    for _ in range(50):
        if not sim.k.bios:
            break
        sim.step()
    sim.check()


def test_oom_kills_the_biggest_task_when_swap_is_exhausted() -> None:
    """Memory and swap run out: after a second of failed reclaim out_of_memory kills the task
    with the largest rss (the hog), once; the other task and its data survive."""
    sim = Sim(mem_mb=1, swap_mb=1, check_every=16)
    k = sim.k
    keeper = sim.spawn("keeper")
    sim.mmap_anon(keeper, BASE, 16)
    for i in range(16):
        sim.access(keeper, BASE + i * 4096, True, value_for(keeper.pid, i, 3))
    hog = sim.spawn("hog")
    npages = 4 * k.mem_map.nframes
    sim.mmap_anon(hog, BASE, npages)
    died_at = -1
    for i in range(npages):
        if sim.access(hog, BASE + i * 4096, True, value_for(hog.pid, i, 4)) < 0:
            died_at = i
            break
    assert died_at > 0, "the hog was never killed"
    assert hog.state == TASK_ZOMBIE and hog.exit_code == 137 and hog.mm_id == -1
    assert k.vmstat.oom_kill == 1 and k.oom.victims == [hog.pid]
    assert [ev.pid for ev in k.trace.since(0) if ev.kind == TR_OOM] == [hog.pid]
    assert k.now() >= 1_000_000_000  # out_of_memory waits for a second of failures
    assert keeper.state != TASK_ZOMBIE
    st = save_oom_state(k.oom)
    assert save_oom_state(load_oom_state(st)) == st
    for i in range(16):
        assert sim.access(keeper, BASE + i * 4096, False) == value_for(keeper.pid, i, 3)
    assert k.swap.nr_swap_pages > 0  # the hog's slots came back
    sim.check()


def test_swap_storm_program_through_the_scheduler() -> None:
    """The same storm as a user program run by the scheduler on the CPU: mmap twice the RAM,
    write every page, store and load-compare a word per page, VL_VERIFY, exit."""
    from kernelmodel.include.syscall_abi import VL_VERIFY, SYS_exit, SYS_mmap2, vl_pack_mmap
    from machine.isa import OP_LOAD, OP_STORE, OP_SYSCALL, OP_TOUCH, TOUCH_WRITE, Insn

    k = make_kernel(mem_mb=2, swap_mb=8, vmscan="2.6.6")  # 2.6.7 stalls 2 MiB (see Sim)
    n = 2 * k.mem_map.nframes
    flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
    prog = [
        Insn(OP_SYSCALL, SYS_mmap2, BASE, n * 4096, vl_pack_mmap(PROT_READ | PROT_WRITE, flags, 0)),
        Insn(OP_TOUCH, BASE, n * 4096, 4096, TOUCH_WRITE),
    ]
    prog += [Insn(OP_STORE, BASE + i * 4096 + 8, value_for(7, i, 5)) for i in range(n)]
    prog += [Insn(OP_LOAD, BASE + i * 4096 + 8, value_for(7, i, 5), 1) for i in range(n)]
    prog += [Insn(OP_SYSCALL, VL_VERIFY), Insn(OP_SYSCALL, SYS_exit, 0)]
    t = k.new_task("storm", k.add_program("storm", prog), 0)
    assert vl_exec_mm(k, t)
    events = 0
    while t.state != TASK_ZOMBIE:
        assert k.machine.step()
        events += 1
        assert events < 2_000_000
        if events % 500 == 0:
            assert check_swap(k) + check_mm(k) + vl_verify_memory(k) == []
    assert t.exit_code == 0 and t.ctx is not None
    assert t.ctx.loads_checked == n and t.ctx.load_mismatches == 0
    assert k.verify_failures == 0
    assert k.vmstat.pswpout > n // 4 and k.vmstat.pswpin > n // 4
    kinds = {ev.kind for ev in k.trace.since(0)}
    assert {TR_SWAP_OUT, TR_SWAP_IN, "reclaim_scan"} <= kinds
    assert check_swap(k) + check_mm(k) == []
