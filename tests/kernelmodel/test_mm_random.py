"""Random process-memory workloads (hypothesis): after every event check_mm finds nothing and
the memory oracle matches the machine.

Events: mmap (anonymous, private), stores and loads through the MMU, fork, exit, munmap and
mprotect of any sub-range, and, on the small machine, the memory pressure those cause (direct
reclaim unmapping shared pages through rmap, swap-out and swap-in), under each reverse-mapping
design (anon_vma; pte chains and anonmm under pressure).
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from test_mm_support import MiB, make_kernel, mm_of, problems, run_events

from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from kernelmodel.kernel.exit import do_exit
from kernelmodel.kernel.fork import dup_mm, vl_exec_mm
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING, Task
from kernelmodel.mm.memory import do_page_fault
from kernelmodel.mm.mmap import do_mmap_pgoff, do_munmap
from kernelmodel.mm.mprotect import do_mprotect
from kernelmodel.mm.pgtable import vl_switch_mm
from kernelmodel.oracle.oracle_mm import oracle_note_store, vl_oracle_fork
from machine.interfaces import TRAP_RETRY
from machine.isa import OP_COMPUTE, Insn

BASE = 0x40000000
SPAN_PAGES = 96
LONG = [Insn(OP_COMPUTE, 10**15)]


def _settle(k: Kernel, task: Task) -> None:
    """Let a task that slept in a fault finish it (disk reads, memory waits)."""
    n = 0
    while task.state != TASK_RUNNING or task.kstack:
        if task.mm_id < 0:
            return
        assert k.machine.step(), "the task sleeps with no event pending"
        n += 1
        assert n < 20_000


def _access(k: Kernel, task: Task, vaddr: int, write: bool, value: int) -> bool:
    """A user access that retries through sleeps, as the CPU would after being woken."""
    mmu = k.machine.mmu
    for _ in range(64):
        if task.mm_id < 0:
            return False
        k.current = task.pid
        vl_switch_mm(k, task)
        paddr = mmu.probe(vaddr, write, True)
        if paddr >= 0:
            if write:
                k.machine.mem.write_u32(paddr, value)
                oracle_note_store(k, task, vaddr, value)
            k.current = -1
            return True
        r = do_page_fault(k, task, int(mmu.fault_vaddr), int(mmu.fault_error))
        k.current = -1
        if r != TRAP_RETRY:
            _settle(k, task)
    raise AssertionError("access never completed")


class MmMachine(RuleBasedStateMachine):
    """Tasks with anonymous mappings in [BASE, BASE + SPAN_PAGES pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.k = make_kernel(mem=self.mem_bytes(), swap=8 * MiB, disk=32 * MiB,
                             rmap=self.rmap())
        self.tasks: list[Task] = []
        self.stamp = 1
        self._spawn()

    def mem_bytes(self) -> int:
        return 4 * MiB

    def rmap(self) -> str:
        return "anon_vma"

    def _spawn(self) -> Task:
        k = self.k
        t = k.new_task("t", k.add_program("t", LONG), 0)
        assert vl_exec_mm(k, t)
        self.tasks.append(t)
        return t

    def _pick(self, i: int) -> Task:
        """A live task (an OOM kill may have taken some)."""
        self.tasks = [t for t in self.tasks if t.mm_id >= 0]
        if not self.tasks:
            self._spawn()
        return self.tasks[i % len(self.tasks)]

    @rule(i=st.integers(0, 63), first=st.integers(0, SPAN_PAGES - 1), n=st.integers(1, 32))
    def mmap(self, i: int, first: int, n: int) -> None:
        t = self._pick(i)
        n = min(n, SPAN_PAGES - first)
        addr = BASE + (first << 12)
        prot = PROT_READ | PROT_WRITE
        r = do_mmap_pgoff(self.k, mm_of(self.k, t), -1, 0, addr, n << 12, prot,
                          MAP_PRIVATE | MAP_FIXED, 0)
        assert r == addr

    @rule(i=st.integers(0, 63), first=st.integers(0, SPAN_PAGES - 1), n=st.integers(1, 48),
          write=st.booleans())
    def touch(self, i: int, first: int, n: int, write: bool) -> None:
        t = self._pick(i)
        mm = mm_of(self.k, t)
        for page in range(first, min(first + n, SPAN_PAGES)):
            vaddr = BASE + (page << 12) + ((page * 52) & 0xFFC)
            vma = next((v for v in mm.mmap if v.vm_start <= vaddr < v.vm_end), None)
            # (PROT_READ / PROT_WRITE are VM_READ / VM_WRITE): only accesses the vma allows
            if vma is None or not vma.vm_flags & (PROT_WRITE if write else PROT_READ):
                continue
            self.stamp += 1
            assert _access(self.k, t, vaddr, write, self.stamp * 2654435761 & 0xFFFFFFFF)

    @precondition(lambda self: len(self.tasks) < 12)
    @rule(i=st.integers(0, 63))
    def fork(self, i: int) -> None:
        k = self.k
        parent = self._pick(i)
        k.current = parent.pid
        mm = None
        for _ in range(50):
            mm = dup_mm(k, mm_of(k, parent))
            if mm is not None:
                break
            run_events(k, 50)  # memory is short: let reclaim and I/O run, then retry
        k.current = -1
        assert mm is not None
        child = k.new_task("c", k.add_program("c", LONG), parent.pid)
        child.mm_id = mm.mm_id
        vl_oracle_fork(k, parent.mm_id, mm.mm_id)
        self.tasks.append(child)

    @precondition(lambda self: len(self.tasks) > 1)
    @rule(i=st.integers(0, 63))
    def exit(self, i: int) -> None:
        t = self._pick(i)
        do_exit(self.k, t, 0)
        self.tasks = [x for x in self.tasks if x is not t]

    @rule(i=st.integers(0, 63), first=st.integers(0, SPAN_PAGES - 1), n=st.integers(1, 40))
    def munmap(self, i: int, first: int, n: int) -> None:
        t = self._pick(i)
        assert do_munmap(self.k, mm_of(self.k, t), BASE + (first << 12), n << 12) == 0

    @rule(i=st.integers(0, 63), first=st.integers(0, SPAN_PAGES - 1), n=st.integers(1, 40),
          prot=st.sampled_from([0, PROT_READ, PROT_READ | PROT_WRITE]))
    def mprotect(self, i: int, first: int, n: int, prot: int) -> None:
        t = self._pick(i)
        r = do_mprotect(self.k, mm_of(self.k, t), BASE + (first << 12), n << 12, prot)
        assert r in (0, -12)  # -ENOMEM: the range has a hole

    @rule(n=st.integers(1, 30))
    def events(self, n: int) -> None:
        run_events(self.k, n)

    @invariant()
    def consistent(self) -> None:
        assert problems(self.k) == []


class MmPressureMachine(MmMachine):
    """The same on a machine too small for the workload: reclaim and swap do their work."""

    def __init__(self) -> None:
        super().__init__()
        self.mmap(0, 0, SPAN_PAGES)

    def mem_bytes(self) -> int:
        return 1 * MiB


class MmPressurePteChainMachine(MmPressureMachine):
    """Under pressure with 2.6.6's pte chains (anonymous pages have no mapping)."""

    def rmap(self) -> str:
        return "pte_chain"


class MmPressureAnonmmMachine(MmPressureMachine):
    """Under pressure with rmap 10's anonmm (fork bundles, exits, migration of pages)."""

    def rmap(self) -> str:
        return "anonmm"


TestMmRandom = MmMachine.TestCase
TestMmRandom.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestMmPressure = MmPressureMachine.TestCase
TestMmPressure.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
TestMmPressurePteChain = MmPressurePteChainMachine.TestCase
TestMmPressurePteChain.settings = settings(max_examples=20, stateful_step_count=40, deadline=None)
TestMmPressureAnonmm = MmPressureAnonmmMachine.TestCase
TestMmPressureAnonmm.settings = settings(max_examples=25, stateful_step_count=40, deadline=None)
