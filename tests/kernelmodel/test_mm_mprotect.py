"""Tests for mprotect (kernelmodel/mm/mprotect.py): vma splits and merges, pte rewrites with the
TLB flush, protection faults as SIGSEGV, COW after a protection round trip, error returns,
the syscall through the CPU, and a random workload against a per-page reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_mm_support import access, load, make_kernel, mm_of, new_task, problems

from kernelmodel.include.mm_types import VM_EXEC, VM_READ, VM_SHARED, VM_WRITE, MmStruct, VmArea
from kernelmodel.include.state_generated import load_vm_area, save_vm_area
from kernelmodel.include.syscall_abi import (
    EACCES,
    EINVAL,
    ENOMEM,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    O_RDWR,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    VL_VERIFY,
    SYS_exit,
    SYS_mmap2,
    SYS_mprotect,
    vl_pack_mmap,
)
from kernelmodel.include.vmstat import TR_MAP, TR_SEGV
from kernelmodel.kernel.fork import dup_mm
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING, Task
from kernelmodel.mm.mmap import do_mmap_pgoff, do_munmap
from kernelmodel.mm.mprotect import do_mprotect, vl_prot_name
from kernelmodel.mm.pgtable import (
    PAGE_COPY,
    PAGE_NONE,
    PAGE_READONLY,
    PAGE_SHARED,
    pte_offset_map,
    set_pte,
    vl_switch_mm,
)
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.oracle.oracle_mm import vl_oracle_fork
from machine.i386 import PTE_A, PTE_D, PTE_P, PTE_PROTNONE, PTE_RW
from machine.isa import OP_COMPUTE, OP_LOAD, OP_STORE, OP_SYSCALL, Insn

BASE = 0x40000000
PG = 0x1000
RW = PROT_READ | PROT_WRITE
FIXED = MAP_PRIVATE | MAP_FIXED
_PROT_MASK = 0xFFF & ~(PTE_A | PTE_D)
#: A program that computes for ever: the scheduler may run the task without it exiting.
LONG = [Insn(OP_COMPUTE, 10**15)]


def _anon(k: Kernel, mm: MmStruct, addr: int = BASE, pages: int = 8, prot: int = RW) -> None:
    assert do_mmap_pgoff(k, mm, -1, 0, addr, pages * PG, prot, FIXED, 0) == addr


def _layout(mm: MmStruct) -> list[tuple[int, int, int]]:
    """(first page, end page, rwx flags) of each vma, in pages from BASE."""
    rwx = VM_READ | VM_WRITE | VM_EXEC
    return [
        ((v.vm_start - BASE) // PG, (v.vm_end - BASE) // PG, v.vm_flags & rwx) for v in mm.mmap
    ]


def _pte(k: Kernel, mm: MmStruct, addr: int) -> int:
    ptep = pte_offset_map(k.machine.mem, mm.pgd, addr)
    return k.machine.mem.read_u32(ptep) if ptep >= 0 else 0


def _pte_prot_problems(k: Kernel) -> list[str]:
    """Every present pte's protection bits agree with its vma's vm_page_prot (plus RW where
    the vma is writable and COW already happened); a PROT_NONE vma has no pte the MMU sees."""
    out: list[str] = []
    for mm in k.mm_registry.mms.values():
        for vma in mm.mmap:
            for addr in range(vma.vm_start, vma.vm_end, PG):
                pte = _pte(k, mm, addr)
                if (pte & (PTE_P | PTE_PROTNONE)) == 0:
                    continue
                prot = pte & _PROT_MASK
                ok = {vma.vm_page_prot & _PROT_MASK}
                if vma.vm_flags & VM_WRITE:
                    ok.add((vma.vm_page_prot | PTE_RW) & _PROT_MASK)
                if prot not in ok:
                    out.append(f"mm {mm.mm_id} {addr:#x}: pte {pte:#x}, vma prot "
                               f"{vma.vm_page_prot:#x} flags {vma.vm_flags:#x}")
    return out


def _all_ok(k: Kernel) -> None:
    assert problems(k) == []
    assert _pte_prot_problems(k) == []


def _settled_access(k: Kernel, t: Task, vaddr: int, write: bool, value: int = 0) -> bool:
    """``access`` that lets a fault which slept (a file read) finish, then retries."""
    for _ in range(16):
        if access(k, t, vaddr, write, value):
            return True
        if t.mm_id < 0:
            return False
        n = 0
        while t.state != TASK_RUNNING or t.kstack:
            assert k.machine.step(), "the task sleeps with no event pending"
            n += 1
            assert n < 20_000
    raise AssertionError("access never completed")


def _write_pages(k: Kernel, t: Task, first: int, n: int, tag: int) -> None:
    for p in range(first, first + n):
        assert access(k, t, BASE + p * PG, True, tag + p)


# ---- vma splits and merges ----------------------------------------------------------------------


def test_mprotect_middle_splits_into_three_sharing_the_anon_vma() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm)
    _write_pages(k, t, 0, 8, 100)
    before = [_pte(k, mm, BASE + p * PG) for p in range(8)]
    assert do_mprotect(k, mm, BASE + 2 * PG, 3 * PG, PROT_READ) == 0
    assert _layout(mm) == [(0, 2, VM_READ | VM_WRITE), (2, 5, VM_READ), (5, 8, VM_READ | VM_WRITE)]
    assert mm.map_count == 3 and mm.total_vm == 8
    assert len({v.anon_vma for v in mm.mmap}) == 1 and mm.mmap[0].anon_vma >= 0
    assert [v.vm_pgoff for v in mm.mmap] == [(BASE >> 12) + p for p in (0, 2, 5)]
    for p in range(8):
        pte = _pte(k, mm, BASE + p * PG)
        if 2 <= p < 5:  # frame, A and D kept; RW gone (PAGE_READONLY)
            assert pte == (before[p] & 0xFFFFF000) | PTE_D | PAGE_READONLY
        else:
            assert pte == before[p]
    assert mm.mmap[1].vm_page_prot == PAGE_READONLY
    for v in mm.mmap:  # the changed vmas are plain data
        assert save_vm_area(load_vm_area(save_vm_area(v))) == save_vm_area(v)
    _all_ok(k)
    for p in range(8):
        assert load(k, t, BASE + p * PG) == 100 + p
    _all_ok(k)


def test_mprotect_back_merges_with_both_neighbours() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm)
    _write_pages(k, t, 0, 8, 0)
    av = mm.mmap[0].anon_vma
    assert do_mprotect(k, mm, BASE + 2 * PG, 3 * PG, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE + 2 * PG, 3 * PG, RW) == 0
    assert _layout(mm) == [(0, 8, VM_READ | VM_WRITE)]
    assert mm.map_count == 1 and mm.mmap[0].anon_vma == av
    assert k.mm_registry.anon_vmas[av].head == [mm.mmap[0].vma_id]
    assert len(k.mm_registry.vmas) == 1
    _all_ok(k)


def test_prev_absorbs_the_head_of_the_next_vma() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm)
    _write_pages(k, t, 0, 8, 0)
    assert do_mprotect(k, mm, BASE, 2 * PG, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE + 2 * PG, 2 * PG, PROT_READ) == 0  # mprotect_attempt_merge
    assert _layout(mm) == [(0, 4, VM_READ), (4, 8, VM_READ | VM_WRITE)]
    assert mm.mmap[1].vm_pgoff == (BASE >> 12) + 4
    _all_ok(k)
    # ending where the next vma (already rw) starts: the final merge joins them
    assert do_mprotect(k, mm, BASE, 4 * PG, RW) == 0
    assert _layout(mm) == [(0, 8, VM_READ | VM_WRITE)]
    _all_ok(k)


def test_vmas_already_matching_are_not_merged_as_in_2_6_6() -> None:
    """2.6.6 merges only with the vma before the changed part and the one after the range:
    a vma that already had the new flags is skipped, so the pieces stay apart (2.6.7's
    vma_merge, rmap 36, would join them)."""
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm)
    assert do_mprotect(k, mm, BASE, 4 * PG, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE, 8 * PG, RW) == 0
    assert _layout(mm) == [(0, 4, VM_READ | VM_WRITE), (4, 8, VM_READ | VM_WRITE)]
    _all_ok(k)


def test_absorbing_vma_imports_the_anon_vma() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=2, prot=PROT_READ)
    _anon(k, mm, addr=BASE + 2 * PG, pages=2)  # rw: a second vma
    assert len(mm.mmap) == 2
    _write_pages(k, t, 2, 2, 50)  # only the second vma has an anon_vma
    assert mm.mmap[0].anon_vma < 0 and mm.mmap[1].anon_vma >= 0
    assert do_mprotect(k, mm, BASE + 2 * PG, PG, PROT_READ) == 0
    assert _layout(mm) == [(0, 3, VM_READ), (3, 4, VM_READ | VM_WRITE)]
    assert mm.mmap[0].anon_vma == mm.mmap[1].anon_vma
    _all_ok(k)
    assert load(k, t, BASE + 2 * PG) == 52 and load(k, t, BASE + 3 * PG) == 53


def test_different_anon_vmas_never_merge() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=2)
    _write_pages(k, t, 0, 1, 0)
    assert do_munmap(k, mm, BASE + PG, PG) == 0
    _anon(k, mm, addr=BASE + 4 * PG, pages=2)
    _write_pages(k, t, 4, 1, 0)
    _anon(k, mm, addr=BASE + PG, pages=3)  # fills the hole, merges with the first only
    assert mm.mmap[0].anon_vma != mm.mmap[-1].anon_vma
    n = len(mm.mmap)
    assert do_mprotect(k, mm, BASE, 6 * PG, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE, 6 * PG, RW) == 0
    assert len(mm.mmap) == n  # the vma boundary between the two anon_vmas stays
    _all_ok(k)


def test_same_flags_is_a_no_op_and_range_inside_one_vma_keeps_its_tail() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm)
    ids = [v.vma_id for v in mm.mmap]
    assert do_mprotect(k, mm, BASE + PG, PG, RW) == 0
    assert [v.vma_id for v in mm.mmap] == ids
    assert do_mprotect(k, mm, BASE, PG, PROT_READ | PROT_EXEC) == 0
    assert _layout(mm) == [(0, 1, VM_READ | VM_EXEC), (1, 8, VM_READ | VM_WRITE)]
    _all_ok(k)


# ---- ptes and the TLB ---------------------------------------------------------------------------


def test_the_tlb_is_not_coherent_with_pte_writes() -> None:
    """Why the flush matters: a pte made read-only without a flush still lets writes in."""
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=1)
    assert access(k, t, BASE, True, 1)
    ptep = pte_offset_map(k.machine.mem, mm.pgd, BASE)
    set_pte(k.machine.mem, ptep, k.machine.mem.read_u32(ptep) & ~PTE_RW)
    mmu = k.machine.mmu
    assert mmu.probe(BASE, True, True) >= 0  # the stale writable entry allows the write
    mmu.invlpg(BASE)
    assert mmu.probe(BASE, True, True) == -1


def test_stale_tlb_entry_cannot_write_after_mprotect_read() -> None:
    k = make_kernel()
    t = new_task(k)
    other = new_task(k, "other")
    mm = mm_of(k, t)
    _anon(k, mm, pages=4)
    _write_pages(k, t, 0, 4, 10)
    mmu = k.machine.mmu
    entry = mmu.tlb_entry(BASE + PG)
    assert entry is not None and entry[1] & PTE_RW and entry[1] & PTE_D  # cached writable
    flushes = mmu.tlb_flushes
    vl_switch_mm(k, t)
    assert do_mprotect(k, mm, BASE, 4 * PG, PROT_READ) == 0
    assert mmu.tlb_flushes == flushes + 1  # flush_tlb_range on UP i386: one CR3 reload
    assert mmu.tlb_entry(BASE + PG) is None
    assert _pte(k, mm, BASE + PG) & PTE_RW == 0
    assert load(k, t, BASE + PG) == 11  # reads still work
    assert not access(k, t, BASE + PG, True, 99)  # the write is a segfault
    assert t.exit_code == 139 and t.mm_id == -1
    segv = [e for e in k.trace.since(0) if e.kind == TR_SEGV]
    assert len(segv) == 1 and "write to a read-only vma" in segv[0].s
    assert segv[0].pid == t.pid and segv[0].a == BASE + PG
    assert other.mm_id >= 0 and k.vmstat.segfaults == 1
    _all_ok(k)


def test_inactive_mm_needs_no_flush() -> None:
    k = make_kernel()
    a = new_task(k, "a")
    b = new_task(k, "b")
    _anon(k, mm_of(k, a), pages=1)
    assert access(k, a, BASE, True, 5)
    vl_switch_mm(k, b)  # CR3 now holds b: a's entries went with the reload
    flushes = k.machine.mmu.tlb_flushes
    assert do_mprotect(k, mm_of(k, a), BASE, PG, PROT_READ) == 0
    assert k.machine.mmu.tlb_flushes == flushes
    assert not access(k, a, BASE, True, 6)
    assert a.exit_code == 139
    _all_ok(k)


def test_prot_none_keeps_the_page_and_faults_every_access() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=2)
    _write_pages(k, t, 0, 2, 40)
    pfn = _pte(k, mm, BASE) >> 12
    page = k.mem_map.pages[pfn]
    assert do_mprotect(k, mm, BASE, 2 * PG, PROT_NONE) == 0
    pte = _pte(k, mm, BASE)
    assert pte & PTE_P == 0 and pte & PTE_PROTNONE and pte >> 12 == pfn
    assert pte & 0xFFF == PAGE_NONE | PTE_D
    assert page._mapcount == 1 and mm.rss == 2
    _all_ok(k)
    assert do_mprotect(k, mm, BASE, 2 * PG, PROT_READ) == 0
    assert _pte(k, mm, BASE) >> 12 == pfn and load(k, t, BASE) == 40
    assert do_mprotect(k, mm, BASE, 2 * PG, PROT_NONE) == 0
    assert not access(k, t, BASE + PG, False)
    assert t.exit_code == 139
    segv = [e for e in k.trace.since(0) if e.kind == TR_SEGV]
    assert "PROT_NONE" in segv[-1].s
    _all_ok(k)


def test_write_to_prot_none_is_a_segfault() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=1)
    assert do_mprotect(k, mm, BASE, PG, PROT_NONE) == 0
    assert not access(k, t, BASE, True, 1)
    assert t.exit_code == 139 and k.vmstat.segfaults == 1
    _all_ok(k)


# ---- copy-on-write after a protection round trip ------------------------------------------------


def test_back_to_rw_reuses_a_page_mapped_once() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=1)
    assert access(k, t, BASE, True, 1)
    pfn = _pte(k, mm, BASE) >> 12
    assert do_mprotect(k, mm, BASE, PG, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE, PG, RW) == 0
    lru_add_drain(k)  # else the pagevec's reference makes do_wp_page copy
    pte = _pte(k, mm, BASE)
    assert pte & PTE_RW == 0 and pte & 0xFFF == PAGE_COPY | PTE_D  # read-only until a fault
    cow = k.vmstat.cow_faults
    faults = k.vmstat.pgfault
    assert access(k, t, BASE + 4, True, 2)
    assert k.vmstat.pgfault == faults + 1 and k.vmstat.cow_faults == cow  # reuse
    assert _pte(k, mm, BASE) >> 12 == pfn and _pte(k, mm, BASE) & PTE_RW
    assert load(k, t, BASE) == 1 and load(k, t, BASE + 4) == 2
    _all_ok(k)


def test_back_to_rw_after_fork_copies_on_write() -> None:
    k = make_kernel()
    parent = new_task(k, "parent")
    pmm = mm_of(k, parent)
    _anon(k, pmm, pages=4)
    _write_pages(k, parent, 0, 4, 70)
    k.current = parent.pid
    cmm = dup_mm(k, pmm)
    k.current = -1
    assert cmm is not None
    child = k.new_task("child", k.add_program("child", []), parent.pid)
    child.mm_id = cmm.mm_id
    vl_oracle_fork(k, pmm.mm_id, cmm.mm_id)
    _all_ok(k)
    vl_switch_mm(k, child)
    assert do_mprotect(k, cmm, BASE + PG, 2 * PG, PROT_READ) == 0
    assert do_mprotect(k, cmm, BASE + PG, 2 * PG, RW) == 0
    assert _layout(cmm) == [(0, 4, VM_READ | VM_WRITE)]
    _all_ok(k)
    cow = k.vmstat.cow_faults
    old = _pte(k, cmm, BASE + PG) >> 12
    assert access(k, child, BASE + PG, True, 999)
    assert k.vmstat.cow_faults == cow + 1 and _pte(k, cmm, BASE + PG) >> 12 != old
    assert load(k, parent, BASE + PG) == 71 and load(k, child, BASE + PG) == 999
    assert load(k, child, BASE + 2 * PG) == 72
    _all_ok(k)


# ---- errors and file mappings -------------------------------------------------------------------


def test_bad_requests() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=2)
    _anon(k, mm, addr=BASE + 3 * PG, pages=2, prot=PROT_READ)
    assert do_mprotect(k, mm, BASE + 1, PG, PROT_READ) == -EINVAL
    assert do_mprotect(k, mm, BASE, PG, 0x100) == -EINVAL
    assert do_mprotect(k, mm, BASE, 0, PROT_READ) == 0
    assert do_mprotect(k, mm, BASE - PG, 2 * PG, PROT_READ) == -ENOMEM  # unmapped start
    assert do_mprotect(k, mm, 0xFFFFF000, 2 * PG, PROT_READ) == -ENOMEM  # wraps
    assert do_mprotect(k, mm, BASE, -PG, PROT_READ) == -ENOMEM  # a huge unsigned length
    assert _layout(mm) == [(0, 2, VM_READ | VM_WRITE), (3, 5, VM_READ)]
    # a hole: the vmas before it are changed, then -ENOMEM (as in the kernel)
    assert do_mprotect(k, mm, BASE, 5 * PG, PROT_NONE) == -ENOMEM
    assert _layout(mm) == [(0, 2, 0), (3, 5, VM_READ)]
    _all_ok(k)


def test_shared_file_mapping_opened_read_only_cannot_become_writable() -> None:
    k = make_kernel()
    k.create_file("f", 4 * PG, "zero", 0)
    ino = k.sb.s_names["f"]
    t = new_task(k, "t", LONG)
    mm = mm_of(k, t)
    shared = MAP_SHARED | MAP_FIXED
    assert do_mmap_pgoff(k, mm, ino, O_RDONLY, BASE, 4 * PG, PROT_READ, shared, 0) == BASE
    assert do_mprotect(k, mm, BASE, 4 * PG, RW) == -EACCES
    assert do_mprotect(k, mm, BASE, PG, PROT_READ | PROT_EXEC) == 0
    addr2 = BASE + 0x10000
    assert do_mmap_pgoff(k, mm, ino, O_RDWR, addr2, 4 * PG, PROT_READ, shared, 0) == addr2
    assert _settled_access(k, t, addr2, False)
    assert _pte(k, mm, addr2) & PTE_RW == 0
    assert do_mprotect(k, mm, addr2, 4 * PG, RW) == 0
    assert _pte(k, mm, addr2) & 0xFFF & ~PTE_D == PAGE_SHARED  # shared: writable at once
    assert _settled_access(k, t, addr2 + 8, True, 0x55)
    _all_ok(k)


def test_private_file_mapping_splits_and_stays_split() -> None:
    k = make_kernel()
    k.create_file("g", 8 * PG, "zero", 0)
    ino = k.sb.s_names["g"]
    t = new_task(k, "t", LONG)
    mm = mm_of(k, t)
    assert do_mmap_pgoff(k, mm, ino, O_RDWR, BASE, 8 * PG, RW, FIXED, 2) == BASE
    assert _settled_access(k, t, BASE + 3 * PG, True, 9)  # an early COW: an anon page in a file vma
    assert do_mprotect(k, mm, BASE + 2 * PG, 2 * PG, PROT_READ) == 0
    assert [v.vm_pgoff for v in mm.mmap] == [2, 4, 6]
    mapping = k.sb.s_inodes[ino].i_mapping
    assert sorted(mapping.i_mmap) == sorted(v.vma_id for v in mm.mmap)
    _all_ok(k)
    assert do_mprotect(k, mm, BASE + 2 * PG, 2 * PG, RW) == 0
    assert len(mm.mmap) == 3  # 2.6.6 merges anonymous vmas only
    assert all(v.vm_flags & VM_SHARED == 0 for v in mm.mmap)
    assert load(k, t, BASE + 3 * PG) == 9
    _all_ok(k)


# ---- through the CPU and the syscall table ------------------------------------------------------


def test_mprotect_syscall_through_the_cpu() -> None:
    k = make_kernel()
    anon = vl_pack_mmap(RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, 0)
    good = k.spawn("good", k.add_program("good", [
        Insn(OP_SYSCALL, SYS_mmap2, BASE, 4 * PG, anon),
        Insn(OP_STORE, BASE, 0x1234),
        Insn(OP_SYSCALL, SYS_mprotect, BASE, 4 * PG, PROT_READ),
        Insn(OP_LOAD, BASE, 0x1234, 1),
        Insn(OP_SYSCALL, SYS_mprotect, BASE, 4 * PG, RW),
        Insn(OP_STORE, BASE, 0x5678),
        Insn(OP_LOAD, BASE, 0x5678, 1),
        Insn(OP_SYSCALL, VL_VERIFY),
        Insn(OP_SYSCALL, SYS_exit, 0),
    ]))
    bad = k.spawn("bad", k.add_program("bad", [
        Insn(OP_SYSCALL, SYS_mmap2, BASE, 4 * PG, anon),
        Insn(OP_STORE, BASE, 1),
        Insn(OP_SYSCALL, SYS_mprotect, BASE, 4 * PG, PROT_READ),
        Insn(OP_STORE, BASE, 2),
        Insn(OP_SYSCALL, SYS_exit, 0),
    ]))
    n = 0
    while not k.all_user_tasks_exited():
        assert k.machine.step()
        n += 1
        assert n < 100_000
        _all_ok(k)
    assert k.tasks[good].exit_code == 0 and k.tasks[bad].exit_code == 139
    g = k.tasks[good].ctx
    assert g is not None and g.load_mismatches == 0 and k.verify_failures == 0
    maps = [e for e in k.trace.since(0) if e.kind == TR_MAP and "mprotect" in e.s]
    assert len(maps) == 3 and all(e.s.endswith("-> 0") for e in maps)
    assert "r--" in maps[0].s
    assert [e.pid for e in k.trace.since(0) if e.kind == TR_SEGV] == [bad]


def test_prot_names() -> None:
    assert vl_prot_name(PROT_NONE) == "---"
    assert vl_prot_name(RW | PROT_EXEC) == "rwx"


# ---- random workload against a per-page reference ----------------------------------------------

_PROTS = [PROT_NONE, PROT_READ, RW, PROT_READ | PROT_EXEC, RW | PROT_EXEC]
_SPAN = 24

_op = st.one_of(
    st.tuples(st.just("prot"), st.integers(0, _SPAN - 1), st.integers(1, 12),
              st.sampled_from(_PROTS)),
    st.tuples(st.just("touch"), st.integers(0, _SPAN - 1), st.integers(1, 8), st.booleans()),
    st.tuples(st.just("unmap"), st.integers(0, _SPAN - 1), st.integers(1, 6), st.just(0)),
    st.tuples(st.just("map"), st.integers(0, _SPAN - 1), st.integers(1, 6), st.just(0)),
)


def _vma_at(mm: MmStruct, addr: int) -> VmArea | None:
    return next((v for v in mm.mmap if v.vm_start <= addr < v.vm_end), None)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(_op, max_size=25))
def test_random_mprotect_against_a_page_reference(ops: list[tuple[str, int, int, object]]) -> None:
    k = make_kernel(mem=2 << 20)
    t = new_task(k)
    mm = mm_of(k, t)
    _anon(k, mm, pages=_SPAN)
    ref: list[int | None] = [RW] * _SPAN  # per page: PROT_* or None (unmapped)
    stamp = 1
    for kind, first, n, arg in ops:
        n = min(n, _SPAN - first)
        addr = BASE + first * PG
        if kind == "prot":
            assert isinstance(arg, int)
            r = do_mprotect(k, mm, addr, n * PG, arg)
            pages = range(first, first + n)
            hole = next((p for p in pages if ref[p] is None), None)
            if hole is None:
                assert r == 0
                for p in pages:
                    ref[p] = arg
            else:
                assert r == -ENOMEM
                for p in range(first, hole):  # the vmas before the hole were changed
                    ref[p] = arg
        elif kind == "touch":
            for p in range(first, first + n):
                prot = ref[p]
                write = bool(arg)
                if prot is None or not prot & (PROT_WRITE if write else PROT_READ | PROT_EXEC):
                    continue
                stamp += 1
                assert access(k, t, BASE + p * PG + 4 * (p % 8), write, stamp)
        elif kind == "unmap":
            assert do_munmap(k, mm, addr, n * PG) == 0
            for p in range(first, first + n):
                ref[p] = None
        else:
            assert do_mmap_pgoff(k, mm, -1, 0, addr, n * PG, RW, FIXED, 0) == addr
            for p in range(first, first + n):
                ref[p] = RW
        for p in range(_SPAN):
            v = _vma_at(mm, BASE + p * PG)
            assert (v.vm_flags & 7 if v is not None else None) == ref[p], f"page {p}"
        _all_ok(k)
    # every page whose reference forbids writing segfaults a writer
    ro = next((p for p, prot in enumerate(ref) if prot is not None and not prot & PROT_WRITE),
              None)
    if ro is not None:
        assert not access(k, t, BASE + ro * PG, True, 1)
        assert t.exit_code == 139
        _all_ok(k)
