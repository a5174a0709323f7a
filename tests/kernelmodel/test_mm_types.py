"""State round trips of the process-memory structures and kernel ops (to_state -> from_state ->
to_state gives the same data)."""

from __future__ import annotations

import pytest
from test_mm_support import access, make_kernel, mm_of, new_task

from kernelmodel.include.mm_types import AnonVma, MmStruct, VlMmRegistry, VmArea
from kernelmodel.include.state_generated import (
    load_anon_vma,
    load_mm_struct,
    load_vl_mm_registry,
    load_vm_area,
    save_anon_vma,
    save_mm_struct,
    save_vl_mm_registry,
    save_vm_area,
)
from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from kernelmodel.kernel.exit import ExitOp, WaitChildrenOp
from kernelmodel.kernel.fork import ForkOp, dup_mm
from kernelmodel.mm.memory import FaultOp
from kernelmodel.mm.mmap import MmSyscallOp, do_mmap_pgoff, do_munmap
from kernelmodel.mm.msync import MsyncOp
from kernelmodel.oracle.oracle_mm import vl_oracle_fork

BASE = 0x40000000


def _workload_registry() -> VlMmRegistry:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    flags = MAP_PRIVATE | MAP_FIXED
    rw = PROT_READ | PROT_WRITE
    assert do_mmap_pgoff(k, mm, -1, 0, BASE, 32 << 12, rw, flags, 0) == BASE
    assert do_mmap_pgoff(k, mm, -1, 0, BASE + (64 << 12), 8 << 12, PROT_READ, flags, 0) > 0
    for i in range(0, 32, 3):
        assert access(k, t, BASE + (i << 12), True, i)
    assert do_munmap(k, mm, BASE + (8 << 12), 4 << 12) == 0
    child = dup_mm(k, mm)
    assert child is not None
    vl_oracle_fork(k, mm.mm_id, child.mm_id)
    return k.mm_registry


def test_vma_anon_vma_and_mm_round_trip() -> None:
    vma = VmArea(7, 3, BASE, BASE + 0x5000, 0x73, 0x25, BASE >> 12, 12)
    vma.anon_vma = 4
    s = save_vm_area(vma)
    assert save_vm_area(load_vm_area(s)) == s
    av = AnonVma(4)
    av.head = [7, 9]
    assert save_anon_vma(load_anon_vma(save_anon_vma(av))) == save_anon_vma(av)
    mm = MmStruct(3, 77)
    mm.mmap.append(vma)
    mm.mmap_cache = vma
    mm.map_count = 1
    mm.rss = 5
    s = save_mm_struct(mm)
    back = load_mm_struct(s, {7: vma})
    assert save_mm_struct(back) == s and back.mmap[0] is vma and back.mmap_cache is vma


def test_registry_round_trip_after_a_workload() -> None:
    reg = _workload_registry()
    s = save_vl_mm_registry(reg)
    back = load_vl_mm_registry(s)
    assert save_vl_mm_registry(back) == s
    for mm in back.mms.values():
        for vma in mm.mmap:
            assert back.vmas[vma.vma_id] is vma
    assert len(back.anon_vmas) == len(reg.anon_vmas) >= 1


def test_registry_from_state_rejects_unknown_vma() -> None:
    reg = _workload_registry()
    s = save_vl_mm_registry(reg)
    s["vmas"] = []
    with pytest.raises(ValueError, match="mmap names unknown id"):
        load_vl_mm_registry(s)


def test_kernel_op_round_trips() -> None:
    from kernelmodel.kernel.frame_state import vl_kstack_state
    from kernelmodel.state.restore import vl_kop_from_state

    k = make_kernel()
    ops = [
        FaultOp(BASE + 12, 1, 3),
        ForkOp(5),
        ExitOp(139),
        WaitChildrenOp(),
        MmSyscallOp("munmap", -22),
        MsyncOp([4, 9]),
    ]
    ops[0].phase = 0
    for op in ops:
        s = vl_kstack_state([op])[0]
        assert vl_kstack_state([vl_kop_from_state(k, s)])[0] == s


def test_anon_page_mappings_are_linked_again_on_restore() -> None:
    """A snapshot does not store an anonymous page's anon_vma: the restore finds it again
    from the page tables and the vmas (restore.vl_link_anon_pages)."""
    from kernelmodel.state.restore import vl_link_anon_pages

    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    assert do_mmap_pgoff(k, mm, -1, 0, BASE, 4 << 12, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_FIXED, 0) == BASE
    for i in range(4):
        assert access(k, t, BASE + (i << 12), True, i)
    mapped = {p.pfn: p.mapping for p in k.mem_map.pages if isinstance(p.mapping, AnonVma)}
    assert len(mapped) == 4
    for pfn in mapped:
        k.mem_map.pages[pfn].mapping = None
    vl_link_anon_pages(k)
    assert {p.pfn: p.mapping for p in k.mem_map.pages if isinstance(p.mapping, AnonVma)} == \
        mapped


def test_pfn_id_pairs_checks_shape_types_and_frames() -> None:
    import pytest

    from kernelmodel.include.mm_types import vl_pfn_id_pairs

    assert vl_pfn_id_pairs([3, 7, 0, 1], 8, "x") == [(3, 7), (0, 1)]
    assert vl_pfn_id_pairs([], 8, "x") == []
    for bad, why in (([1], "must be"), ({"a": 1}, "must be"), ([1, "2"], "ints"),
                     ([8, 1], "outside"), ([-1, 1], "outside")):
        with pytest.raises(ValueError, match=why):
            vl_pfn_id_pairs(bad, 8, "x")
