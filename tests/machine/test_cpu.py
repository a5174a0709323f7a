"""Tests for machine/cpu.py: instruction semantics, traps, budgets and the oracle stamps.

The trap handler is ``machine.testing_support.VlFakeTrap``: interpreted classes cannot
implement the compiled ``TrapHandler`` trait, so the double is compiled with the machine.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.cpu import (
    ACCESS_NS,
    RUN_BUDGET,
    RUN_EXITED,
    RUN_STOPPED,
    TLB_MISS_NS,
    Cpu,
    CpuContext,
)
from machine.i386 import FEC_PROT, FEC_USER, FEC_WRITE, PTE_A, PTE_D, PTE_P, PTE_US
from machine.interfaces import TRAP_STOP
from machine.isa import (
    OP_COMPUTE,
    OP_ENDLOOP,
    OP_LOAD,
    OP_LOOP,
    OP_STORE,
    OP_SYSCALL,
    OP_TOUCH,
    TOUCH_WRITE,
    Insn,
)
from machine.mmu import MMU
from machine.physmem import PhysicalMemory
from machine.state_generated import (
    load_cpu,
    load_cpu_context,
    load_mmu,
    save_cpu,
    save_cpu_context,
    save_mmu,
)
from machine.testing_support import VL_FIX_RETRY, VL_FIX_STOP, VL_STOP, VlFakeTrap

BASE = 0x1000_0000
PAGE = 4096
BIG = 1 << 40
MASK = 0xFFFFFFFF
WU = FEC_WRITE | FEC_USER


def rig(nframes: int = 256, tlb: int = 64) -> tuple[PhysicalMemory, MMU, Cpu, VlFakeTrap]:
    mem = PhysicalMemory(nframes)
    mmu = MMU(mem, tlb)
    cpu = Cpu(mmu, mem)
    trap = VlFakeTrap(mem, mmu, cpu, 1, 2)
    return mem, mmu, cpu, trap


def stamp_of(pid: int, seq: int) -> int:
    return ((pid + 1) * 0x9E3779B1 + seq * 0x85EBCA77) & MASK


def user_u32(mem: PhysicalMemory, mmu: MMU, vaddr: int) -> int:
    """Read user memory through the page tables without touching A/D or the TLB."""
    _, pte = mmu.walk_noset(vaddr)
    assert pte & PTE_P
    return mem.read_u32((pte & 0xFFFFF000) | (vaddr & 0xFFF))


def touch(a: int, b: int, c: int, write: bool) -> Insn:
    return Insn(OP_TOUCH, a, b, c, TOUCH_WRITE if write else 0)


def test_write_touch_faults_once_per_page_and_stores_stamps() -> None:
    mem, mmu, cpu, trap = rig()
    ctx = CpuContext(7, [touch(BASE, 3 * PAGE, 4, True)], prog_id=3)
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.exits == [7]
    assert trap.faults == [(7, BASE + i * PAGE, WU) for i in range(3)]
    stamp = stamp_of(7, 0)
    assert (ctx.stamp, ctx.stamp_seq) == (stamp, 1)
    want = [(BASE + 4 * k, (stamp ^ (BASE + 4 * k)) & MASK) for k in range(3 * PAGE // 4)]
    assert trap.stores == want
    for vaddr, value in want[::97] + want[-1:]:
        assert user_u32(mem, mmu, vaddr) == value
    assert (ctx.pc, ctx.cursor, ctx.op_started) == (1, 0, False)
    assert cpu.accesses == 3 * PAGE // 4
    assert mmu.page_walks == 6  # each page: the faulting walk and the retry's walk
    # One probe per access plus the three that faulted: all hits but the six walks.
    assert (mmu.tlb_hits, mmu.tlb_misses) == (3 * PAGE // 4 - 3, 6)
    assert cpu.spent_ns == 3 * PAGE // 4 * ACCESS_NS + 6 * TLB_MISS_NS
    _, pte = mmu.walk_noset(BASE)
    assert pte & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_read_touch_faults_in_pages_without_storing() -> None:
    _, mmu, cpu, trap = rig()
    ctx = CpuContext(1, [touch(BASE, 2 * PAGE, 512, False)])
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.faults == [(1, BASE, FEC_USER), (1, BASE + PAGE, FEC_USER)]
    assert trap.stores == [] and trap.store_count == 0
    _, pte = mmu.walk_noset(BASE + PAGE)
    assert pte & (PTE_A | PTE_D) == PTE_A
    assert cpu.accesses == 16


def test_touch_offsets_are_k_times_stride_below_length() -> None:
    _, _, cpu, trap = rig()
    ctx = CpuContext(0, [touch(BASE, 9001, 3000, True)])
    cpu.run(ctx, BIG, trap)
    assert [v for v, _ in trap.stores] == [BASE, BASE + 3000, BASE + 6000, BASE + 9000]
    ctx = CpuContext(0, [touch(BASE, 0, 4, True)])
    cpu.run(ctx, BIG, trap)
    assert len(trap.stores) == 4  # an empty touch stores nothing
    assert ctx.stamp_seq == 1


def test_odd_stride_touch() -> None:
    mem, mmu, cpu, trap = rig()
    ctx = CpuContext(3, [touch(BASE + 2, 2 * PAGE, 6, True)])
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    stamp = stamp_of(3, 0)
    want = [(BASE + 2 + 6 * k, (stamp ^ (BASE + 2 + 6 * k)) & MASK) for k in range(1366)]
    assert trap.stores == want
    # The access at BASE + 4094 straddles into the second page, the last into the third.
    assert [f[1] for f in trap.faults] == [BASE + 2, BASE + PAGE, BASE + 2 * PAGE]
    for vaddr, value in want[-5:]:
        got = mem.read((mmu.walk_noset(vaddr)[1] & 0xFFFFF000) | (vaddr & 0xFFF), 2)
        assert got == (value & 0xFFFF).to_bytes(2, "little")


def test_touch_run_in_the_last_frame_of_ram() -> None:
    mem, mmu, cpu, trap = rig(nframes=16)
    trap.map_page(BASE, 7)  # data in frame 2, page table in frame 3
    trap.next_pfn = 15
    ctx = CpuContext(1, [touch(BASE + PAGE, PAGE, 4, True)])
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert mmu.walk_noset(BASE + PAGE)[1] >> 12 == 15
    stamp = stamp_of(1, 0)
    assert mem.read_u32(16 * PAGE - 4) == (stamp ^ (BASE + 2 * PAGE - 4)) & MASK
    assert mem.read_u32(15 * PAGE) == (stamp ^ (BASE + PAGE)) & MASK


def test_unaligned_access_across_a_page_boundary() -> None:
    mem, mmu, cpu, trap = rig()
    va = BASE + PAGE - 2
    ctx = CpuContext(2, [touch(va, 1, 4, True)])
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.faults == [(2, va, WU), (2, BASE + PAGE, WU)]
    value = (stamp_of(2, 0) ^ va) & MASK
    assert trap.stores == [(va, value)]
    lo = user_u32(mem, mmu, BASE + PAGE - 4) >> 16
    hi = user_u32(mem, mmu, BASE + PAGE) & 0xFFFF
    assert lo | (hi << 16) == value
    check = CpuContext(2, [Insn(OP_LOAD, va, value, 1), Insn(OP_LOAD, va + 1, 0, 1)])
    assert cpu.run(check, BIG, trap) == RUN_EXITED
    assert (check.loads_checked, check.load_mismatches) == (2, 1)
    assert trap.mismatches == [(va + 1, 0, value >> 8)]


def test_store_and_checked_loads() -> None:
    _, _, cpu, trap = rig()
    prog = [
        Insn(OP_STORE, BASE + 8, 0x1_DEAD_BEEF),
        Insn(OP_LOAD, BASE + 8, 0xDEAD_BEEF, 1),
        Insn(OP_LOAD, BASE + 8, 5, 1),
        Insn(OP_LOAD, BASE + 8, 5, 0),  # unchecked
        Insn(OP_LOAD, BASE + 0x2000, 0, 1),  # a fresh zero page
    ]
    ctx = CpuContext(3, prog)
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.stores == [(BASE + 8, 0xDEAD_BEEF)]
    assert (ctx.loads_checked, ctx.load_mismatches) == (3, 1)
    assert trap.mismatches == [(BASE + 8, 5, 0xDEAD_BEEF)]
    assert trap.faults == [(3, BASE + 8, WU), (3, BASE + 0x2000, FEC_USER)]


def test_nested_loops() -> None:
    _, _, cpu, trap = rig()
    prog = [
        Insn(OP_LOOP, 3, 4),
        Insn(OP_LOOP, 2, 3),
        Insn(OP_STORE, BASE, 1),
        Insn(OP_ENDLOOP, 1),
        Insn(OP_ENDLOOP, 0),
        Insn(OP_LOOP, 0, 7),  # count 0 skips the body
        Insn(OP_STORE, BASE + 4, 2),
        Insn(OP_ENDLOOP, 5),
        Insn(OP_STORE, BASE + 8, 3),
    ]
    ctx = CpuContext(0, prog)
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert [v for v, _ in trap.stores] == [BASE] * 6 + [BASE + 8]
    assert ctx.loop_counts == []


def test_loop_redraws_the_stamp_per_touch() -> None:
    mem, mmu, cpu, trap = rig()
    prog = [Insn(OP_LOOP, 3, 2), touch(BASE, 4, 4, True), Insn(OP_ENDLOOP, 0)]
    ctx = CpuContext(5, prog)
    cpu.run(ctx, BIG, trap)
    assert trap.stores == [(BASE, (stamp_of(5, s) ^ BASE) & MASK) for s in range(3)]
    assert user_u32(mem, mmu, BASE) == (stamp_of(5, 2) ^ BASE) & MASK
    assert ctx.stamp_seq == 3


def test_syscalls_continue_and_stop() -> None:
    _, _, cpu, trap = rig()
    prog = [Insn(OP_SYSCALL, 42, 1, 2, 3, "x"), Insn(OP_STORE, BASE, 9), Insn(OP_SYSCALL, 43)]
    ctx = CpuContext(4, prog)
    trap.syscall_actions = [TRAP_STOP]
    assert cpu.run(ctx, BIG, trap) == RUN_STOPPED
    assert ctx.pc == 0 and trap.syscalls == [(4, 0, 42)]
    ctx.pc = 1  # the kernel completes the call later and advances pc
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.syscalls == [(4, 0, 42), (4, 2, 43)]
    assert ctx.retval == 43
    assert trap.stores == [(BASE, 9)]


def test_budget_stops_between_accesses_and_resumes_exactly() -> None:
    _, _, cpu, trap = rig()
    warm = CpuContext(1, [touch(BASE, PAGE, PAGE, False)])
    cpu.run(warm, BIG, trap)  # maps the page; the TLB entry is clean
    ctx = CpuContext(1, [touch(BASE, PAGE, 4, True)])
    assert cpu.run(ctx, 100, trap) == RUN_BUDGET
    # First access: 1 ns + one D-setting walk; then 74 more accesses of 1 ns.
    assert cpu.spent_ns == 100
    assert ctx.cursor == 4 * 75 and ctx.op_started
    stamp = ctx.stamp
    assert cpu.run(ctx, 100, trap) == RUN_BUDGET
    assert ctx.cursor == 4 * 175 and ctx.stamp == stamp
    assert trap.store_count == 175
    while cpu.run(ctx, 100, trap) == RUN_BUDGET:
        pass
    assert trap.store_count == PAGE // 4
    assert [v for v, _ in trap.stores] == [BASE + 4 * k for k in range(PAGE // 4)]
    assert all(value == (stamp ^ v) & MASK for v, value in trap.stores)


def test_sliced_run_equals_unsliced_run() -> None:
    prog = [
        Insn(OP_LOOP, 2, 3),
        touch(BASE, 5 * PAGE, 12, True),
        Insn(OP_COMPUTE, 333),
        Insn(OP_ENDLOOP, 0),
        touch(BASE + 2, 3 * PAGE, 4094, False),
    ]
    results = []
    for budget in (BIG, 37, 1000):
        mem, _, cpu, trap = rig()
        ctx = CpuContext(9, prog)
        runs = 1
        while cpu.run(ctx, budget, trap) == RUN_BUDGET:
            runs += 1
        results.append((trap.stores, trap.faults, mem.to_state(), save_cpu_context(ctx)))
        assert runs > 1 or budget == BIG
    assert results[0] == results[1] == results[2]


def test_fault_stop_reexecutes_the_access() -> None:
    _, _, cpu, trap = rig()
    prog = [touch(BASE, 2 * PAGE, 1024, True)]
    _, _, ref_cpu, ref_trap = rig()
    ref_cpu.run(CpuContext(1, prog), BIG, ref_trap)

    ctx = CpuContext(1, prog)
    trap.fault_actions = [VL_STOP]
    assert cpu.run(ctx, BIG, trap) == RUN_STOPPED
    assert (ctx.cursor, ctx.op_started, ctx.pc) == (0, True, 0)
    assert trap.stores == []
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.faults == [(1, BASE, WU), (1, BASE, WU), (1, BASE + PAGE, WU)]
    assert trap.stores == ref_trap.stores
    assert ctx.stamp_seq == 1


def test_fault_stop_in_the_middle_of_a_touch() -> None:
    _, _, cpu, trap = rig()
    ctx = CpuContext(1, [touch(BASE, 2 * PAGE, 1024, True)])
    trap.fault_actions = [VL_FIX_RETRY, VL_FIX_STOP]
    assert cpu.run(ctx, BIG, trap) == RUN_STOPPED
    assert ctx.cursor == PAGE and len(trap.stores) == 4
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert len(trap.faults) == 2  # the second page was mapped before stopping
    assert [v for v, _ in trap.stores] == [BASE + 1024 * k for k in range(8)]


def test_write_to_read_only_page_takes_a_protection_fault() -> None:
    _, _, cpu, trap = rig()
    trap.map_flags = PTE_P | PTE_US
    ctx = CpuContext(6, [Insn(OP_LOAD, BASE, 0, 1), Insn(OP_STORE, BASE + 4, 1)])
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.faults == [(6, BASE, FEC_USER), (6, BASE + 4, FEC_PROT | WU)]
    assert trap.stores == [(BASE + 4, 1)]


def test_kernel_charges_count_in_the_slice() -> None:
    _, _, cpu, trap = rig()
    trap.fault_charge_ns = 1000
    ctx = CpuContext(1, [Insn(OP_STORE, BASE, 1)])
    cpu.run(ctx, BIG, trap)
    assert cpu.spent_ns == 1000 + ACCESS_NS + 2 * TLB_MISS_NS
    cpu.charge(5)
    assert cpu.spent_ns == 1056


def test_compute_spans_slices() -> None:
    _, _, cpu, trap = rig()
    ctx = CpuContext(1, [Insn(OP_COMPUTE, 1000)])
    for k in (1, 2, 3):
        assert cpu.run(ctx, 300, trap) == RUN_BUDGET
        assert cpu.spent_ns == 300 and ctx.cursor == 300 * k
    assert cpu.run(ctx, 300, trap) == RUN_EXITED
    assert cpu.spent_ns == 100 and ctx.cursor == 0


def test_exit_and_zero_budget() -> None:
    _, _, cpu, trap = rig()
    ctx = CpuContext(8, [Insn(OP_STORE, BASE, 1)])
    assert cpu.run(ctx, 0, trap) == RUN_BUDGET
    assert trap.store_count == 0
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert trap.exits == [8, 8]
    empty = CpuContext(9, [])
    assert cpu.run(empty, 0, trap) == RUN_EXITED


@pytest.mark.parametrize(
    "prog",
    [
        [touch(BASE, 8, 0, True)],
        [Insn(OP_ENDLOOP, 0)],
        [Insn(99)],
    ],
)
def test_malformed_programs_raise(prog: list[Insn]) -> None:
    _, _, cpu, trap = rig()
    with pytest.raises(ValueError, match="cpu: "):
        cpu.run(CpuContext(1, prog), BIG, trap)


def test_pc_outside_the_program_raises() -> None:
    _, _, cpu, trap = rig()
    ctx = CpuContext(1, [Insn(OP_COMPUTE, 1)])
    ctx.pc = 5
    with pytest.raises(ValueError, match="outside its program"):
        cpu.run(ctx, BIG, trap)


def test_context_state_round_trip_resumes_identically() -> None:
    prog = [Insn(OP_LOOP, 2, 2), touch(BASE, 3 * PAGE, 8, True), Insn(OP_ENDLOOP, 0)]
    mem, mmu, cpu, trap = rig()
    ctx = CpuContext(4, prog, prog_id=11)
    assert cpu.run(ctx, 1000, trap) == RUN_BUDGET
    assert ctx.op_started and ctx.cursor > 0 and ctx.loop_counts == [2]

    state = save_cpu_context(ctx)
    assert state["prog_id"] == 11
    ctx2 = load_cpu_context(state, prog)
    assert save_cpu_context(ctx2) == state
    mem2 = PhysicalMemory.from_state(mem.to_state())
    mmu2 = load_mmu(save_mmu(mmu), mem2)
    cpu2 = load_cpu(save_cpu(cpu), mmu2, mem2)
    assert save_cpu(cpu2) == save_cpu(cpu)
    trap2 = VlFakeTrap(mem2, mmu2, cpu2, 1, trap.next_pfn, fresh=False)

    assert cpu.run(ctx, BIG, trap) == RUN_EXITED
    assert cpu2.run(ctx2, BIG, trap2) == RUN_EXITED
    assert save_cpu_context(ctx) == save_cpu_context(ctx2)
    assert mem.to_state() == mem2.to_state()
    assert save_mmu(mmu) == save_mmu(mmu2)
    assert trap.stores[-len(trap2.stores) :] == trap2.stores


def test_context_from_state_rejects_bad_types() -> None:
    state = save_cpu_context(CpuContext(1, []))
    with pytest.raises(ValueError):
        load_cpu_context(dict(state, pc="0"), [])
    with pytest.raises(ValueError):
        load_cpu_context(dict(state, loop_counts=[1, "x"]), [])
    with pytest.raises(ValueError):
        load_cpu_context(dict(state, op_started=1), [])


def test_clone_copies_the_loop_stack() -> None:
    ctx = CpuContext(1, [Insn(OP_COMPUTE, 1)], prog_id=2)
    ctx.loop_counts = [3, 4]
    ctx.pc = 1
    child = ctx.clone(2)
    assert child.pid == 2 and child.pc == 1 and child.prog_id == 2
    child.loop_counts.append(5)
    assert ctx.loop_counts == [3, 4]
    assert child.prog is ctx.prog


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2 * PAGE),
    st.integers(0, 3 * PAGE),
    st.integers(1, 5000),
    st.booleans(),
    st.integers(1, 400),
)
def test_touch_matches_reference_in_any_slicing(
    start: int, length: int, stride: int, write: bool, budget: int
) -> None:
    a = BASE + start
    prog = [touch(a, length, stride, write)]
    stamp = stamp_of(2, 0)
    offsets = range(0, length, stride)
    outcomes = []
    for slice_ns in (BIG, budget):
        mem, mmu, cpu, trap = rig()
        ctx = CpuContext(2, prog)
        while cpu.run(ctx, slice_ns, trap) == RUN_BUDGET:
            pass
        assert cpu.accesses == len(offsets)
        if write:
            assert trap.stores == [(a + k, (stamp ^ (a + k)) & MASK) for k in offsets]
        else:
            assert trap.stores == []
        pages = sorted({(a + k + j) >> 12 for k in offsets for j in range(4)})
        assert sorted(f[1] >> 12 for f in trap.faults) == pages
        outcomes.append((mem.to_state(), save_mmu(mmu), trap.faults, save_cpu_context(ctx)))
    assert outcomes[0] == outcomes[1]
