"""The 2.6.5/2.6.6 per-page pte chains (kernelmodel/mm/rmap_pte_chain.py) through rmap.py.

Unit tests drive page_add_*_rmap / page_remove_rmap / page_referenced on a real kernel with
real page tables; random mm workloads (the ones of test_mm_random) run with
``rmap="pte_chain"`` and check_mm after every event.
"""

from __future__ import annotations

import test_mm_random as base
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from test_mm_support import MiB, new_task, problems

from kernelmodel.boot import vl_start_kernel
from kernelmodel.include.mm_types import MmStruct
from kernelmodel.include.page import PageDirect, SetPageReferenced
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.mm.pgtable import mk_pte, pte_alloc_map, pte_mkyoung, pte_young, set_pte
from kernelmodel.mm.rmap import (
    page_add_file_rmap,
    page_referenced,
    page_remove_rmap,
    vl_rmap_expected_bytes,
    vl_rmap_find_ptes,
    vl_rmap_problems,
)
from kernelmodel.mm.rmap_pte_chain import PteChain, nrpte, pc_load_state, pc_page_ptes, pc_to_state
from machine.board import Machine, MachineConfig

BASE = 0x40000000


def _kernel(l1: int = 32, mem: int = 4 * MiB) -> Kernel:
    m = Machine(MachineConfig(mem_bytes=mem, disk_bytes=16 * MiB, tlb_entries=64))
    # 2.6.6's reclaim, the pte chains' own release (2.6.7's stalls machines this small)
    return vl_start_kernel(m, KernelConfig(swap_bytes=4 * MiB, rmap="pte_chain", l1_cache_bytes=l1,
                                       vmscan="2.6.6"))


class _Rig:
    """A page and n pte slots (in one task's page table) that may map it."""

    def __init__(self, l1: int = 32) -> None:
        self.k = _kernel(l1)
        task = new_task(self.k)
        self.mm: MmStruct = self.k.mm_registry.mms[task.mm_id]
        free = [p for p in self.k.mem_map.pages if p._count == 0 and p.pfn > 64]
        self.page = free[0]
        self.base_bytes = self.k.vmstat.rmap_bytes

    def ptep(self, i: int) -> int:
        p = pte_alloc_map(self.k, self.mm, BASE + (i << 12))
        assert p > 0
        return p

    def add(self, i: int) -> int:
        """Map the page at slot i (set the pte, then rmap it)."""
        p = self.ptep(i)
        set_pte(self.k.machine.mem, p, mk_pte(self.page.pfn, 0x05))
        page_add_file_rmap(self.k, self.page, p)
        return p

    def remove(self, p: int) -> None:
        set_pte(self.k.machine.mem, p, 0)
        page_remove_rmap(self.k, self.page, p)

    def head(self) -> PteChain:
        pc = self.page.pte_chain
        assert isinstance(pc, PteChain)
        return pc

    def nblocks(self) -> int:
        n = 0
        pc = self.page.pte_chain
        while isinstance(pc, PteChain):
            n += 1
            pc = pc.next
        return n

    def ok(self) -> None:
        assert vl_rmap_problems(self.k) == []
        assert self.k.vmstat.rmap_bytes - self.base_bytes == vl_rmap_expected_bytes(self.k)


def test_nrpte_follows_the_l1_line() -> None:
    assert [nrpte(_kernel(l1)) for l1 in (16, 32, 64, 128)] == [3, 7, 15, 31]


def test_first_mapping_is_direct_and_costs_nothing() -> None:
    r = _Rig()
    p = r.add(0)
    assert PageDirect(r.page) and r.page.pte_direct == p and r.page.pte_chain is None
    assert vl_rmap_find_ptes(r.k, r.page) == [(r.mm.mm_id, BASE)]
    assert vl_rmap_expected_bytes(r.k) == 0
    r.ok()


def test_second_mapping_converts_to_a_chain() -> None:
    r = _Rig()
    p0 = r.add(0)
    p1 = r.add(1)
    n = nrpte(r.k)
    assert not PageDirect(r.page) and r.page.pte_direct == 0
    head = r.head()
    assert head.ptes[n - 1] == p0 and head.ptes[n - 2] == p1 and head.idx == n - 2
    assert head.ptes[: n - 2] == [0] * (n - 2)
    assert vl_rmap_expected_bytes(r.k) == 32
    assert sorted(vl_rmap_find_ptes(r.k, r.page)) == [(r.mm.mm_id, BASE), (r.mm.mm_id, BASE + 4096)]
    r.ok()


def test_growth_past_nrpte_pushes_a_new_head() -> None:
    r = _Rig()
    n = nrpte(r.k)
    ps = [r.add(i) for i in range(n + 2)]
    assert r.nblocks() == 2
    assert r.head().idx == n - 2  # two entries in the new head
    second = r.head().next
    assert second is not None and second.idx == 0
    assert sorted(pc_page_ptes(r.page)) == sorted(ps)
    assert r.k.vmstat.rmap_bytes - r.base_bytes == 64
    r.ok()


def test_removal_refills_from_the_head_and_frees_it() -> None:
    r = _Rig()
    n = nrpte(r.k)
    ps = [r.add(i) for i in range(n + 1)]
    assert r.nblocks() == 2
    steps0 = r.k.vmstat.rmap_walk_steps
    r.remove(ps[0])  # deep in the full second block: the head's one entry fills the hole
    assert r.k.vmstat.rmap_walk_steps - steps0 == n + 1
    assert r.nblocks() == 1 and r.head().idx == 0
    assert sorted(pc_page_ptes(r.page)) == sorted(ps[1:])
    assert r.k.vmstat.rmap_bytes - r.base_bytes == 32
    r.ok()
    for p in ps[1:-1]:
        r.remove(p)
        r.ok()
    # one entry left: still a chain (page_remove_rmap does not collapse)
    assert not PageDirect(r.page) and pc_page_ptes(r.page) == [ps[-1]]
    r.remove(ps[-1])
    assert r.page.pte_chain is None and not PageDirect(r.page) and r.page._mapcount == 0
    assert r.k.vmstat.rmap_bytes == r.base_bytes
    r.ok()


def test_page_referenced_collapses_a_one_entry_chain() -> None:
    r = _Rig()
    p0 = r.add(0)
    p1 = r.add(1)
    r.remove(p0)
    assert r.page.pte_chain is not None
    mem = r.k.machine.mem
    set_pte(mem, p1, pte_mkyoung(mem.read_u32(p1)))
    SetPageReferenced(r.page)
    assert page_referenced(r.k, r.page) == 2
    assert not pte_young(mem.read_u32(p1))
    assert PageDirect(r.page) and r.page.pte_direct == p1 and r.page.pte_chain is None
    assert r.k.vmstat.rmap_bytes == r.base_bytes
    r.ok()


def test_page_referenced_counts_every_young_pte() -> None:
    r = _Rig()
    mem = r.k.machine.mem
    ps = [r.add(i) for i in range(10)]
    for p in ps[::3]:
        set_pte(mem, p, pte_mkyoung(mem.read_u32(p)))
    steps0 = r.k.vmstat.page_referenced_steps
    assert page_referenced(r.k, r.page) == 4
    assert r.k.vmstat.page_referenced_steps - steps0 == 10
    assert page_referenced(r.k, r.page) == 0
    r.ok()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=80))
def test_chain_matches_a_set_model(ops: list[tuple[bool, int]]) -> None:
    """Adds and removes against a set of slots; the chain stays packed and exact."""
    r = _Rig(l1=16)
    live: dict[int, int] = {}
    for add, i in ops:
        if add and i not in live:
            live[i] = r.add(i)
        elif not add and i in live:
            r.remove(live.pop(i))
        assert sorted(pc_page_ptes(r.page)) == sorted(live.values())
        assert r.page._mapcount == len(live)
    r.ok()


def test_state_round_trip_rebuilds_the_blocks() -> None:
    r = _Rig()
    ps = [r.add(i) for i in range(17)]
    r.remove(ps[3])
    state = pc_to_state(r.k)
    before = pc_page_ptes(r.page)
    idx = r.head().idx
    r.page.pte_chain = None
    pc_load_state(r.k, state)
    assert pc_page_ptes(r.page) == before and r.head().idx == idx
    assert pc_to_state(r.k) == state
    r.ok()


def test_random_workload_invariants_hold() -> None:
    """A short fixed workload through the random machine, checked at the end."""
    m = PteChainMmMachine()
    m.mmap(0, 0, 32)
    m.touch(0, 0, 32, True)
    m.fork(0)
    m.fork(1)
    m.touch(1, 0, 16, False)
    m.munmap(2, 4, 8)
    m.exit(0)
    assert problems(m.k) == []


def test_pressure_unmaps_through_the_chains() -> None:
    """Forked tasks sharing pages on a small machine: reclaim walks chains, all stays exact."""
    m = PteChainPressureMachine()
    for i in range(6):
        m.touch(i, 0, base.SPAN_PAGES, True)
        m.fork(i)
    m.touch(3, 0, base.SPAN_PAGES, False)
    m.events(30)
    vs = m.k.vmstat
    assert vs.try_to_unmap_calls > 0 and vs.try_to_unmap_steps > vs.try_to_unmap_calls
    assert vs.rmap_bytes_peak > 0
    assert problems(m.k) == []


def _init_pte_chain(m: base.MmMachine, mem: int) -> None:
    RuleBasedStateMachine.__init__(m)
    machine = Machine(MachineConfig(mem_bytes=mem, disk_bytes=32 * MiB, tlb_entries=64))
    m.k = vl_start_kernel(
        machine, KernelConfig(swap_bytes=8 * MiB, rmap="pte_chain", l1_cache_bytes=32,
                              vmscan="2.6.6")
    )
    m.tasks = []
    m.stamp = 1
    m._spawn()


class PteChainMmMachine(base.MmMachine):
    """test_mm_random's workload with pte chains (7 slots a block)."""

    def __init__(self) -> None:
        _init_pte_chain(self, 4 * MiB)


class PteChainPressureMachine(base.MmMachine):
    """The same on a 1 MiB machine: reclaim walks the chains."""

    def __init__(self) -> None:
        _init_pte_chain(self, 1 * MiB)
        self.mmap(0, 0, base.SPAN_PAGES)


TestPteChainRandom = PteChainMmMachine.TestCase
TestPteChainRandom.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestPteChainPressure = PteChainPressureMachine.TestCase
TestPteChainPressure.settings = settings(max_examples=25, stateful_step_count=40, deadline=None)
