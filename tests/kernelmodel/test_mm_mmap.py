"""Tests for mmap / munmap and the vma list (kernelmodel/mm/mmap.py)."""

from __future__ import annotations

from test_mm_support import access, load, make_kernel, mm_of, new_task, problems

from kernelmodel.include.mm_types import TASK_UNMAPPED_BASE, VM_READ, VM_SHARED, VM_WRITE, MmStruct
from kernelmodel.include.syscall_abi import (
    EINVAL,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PROT_READ,
    PROT_WRITE,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.mm.mmap import do_mmap_pgoff, do_munmap, get_unmapped_area
from kernelmodel.mm.pgtable import pte_offset_map

BASE = 0x40000000
RW = PROT_READ | PROT_WRITE
FIXED = MAP_PRIVATE | MAP_FIXED


def _mmap(
    k: Kernel, mm: MmStruct, addr: int, length: int, prot: int = RW, flags: int = FIXED
) -> int:
    return do_mmap_pgoff(k, mm, -1, 0, addr, length, prot, flags, 0)


def _ranges(mm: MmStruct) -> list[tuple[int, int]]:
    return [(v.vm_start, v.vm_end) for v in mm.mmap]


def test_adjacent_anonymous_mappings_merge() -> None:
    k = make_kernel()
    mm = mm_of(k, new_task(k))
    assert _mmap(k, mm, BASE, 0x2000) == BASE
    assert _mmap(k, mm, BASE + 0x4000, 0x2000) == BASE + 0x4000
    assert _mmap(k, mm, BASE + 0x2000, 0x2000) == BASE + 0x2000  # fills the hole
    assert _ranges(mm) == [(BASE, BASE + 0x6000)] and mm.map_count == 1
    assert _mmap(k, mm, BASE + 0x6000, 0x1000, PROT_READ) > 0  # other protection: no merge
    assert len(mm.mmap) == 2 and mm.total_vm == 7
    assert problems(k) == []


def test_anon_vmas_do_not_merge_when_different() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    assert _mmap(k, mm, BASE, 0x2000) == BASE
    assert access(k, t, BASE, True, 1)
    assert do_munmap(k, mm, BASE + 0x1000, 0x1000) == 0
    assert _mmap(k, mm, BASE + 0x3000, 0x1000) == BASE + 0x3000
    assert access(k, t, BASE + 0x3000, True, 2)  # reuses nothing: not adjacent
    assert mm.mmap[0].anon_vma != mm.mmap[1].anon_vma
    assert _mmap(k, mm, BASE + 0x1000, 0x2000) == BASE + 0x1000
    # the new range merges with the previous vma only: the next has another anon_vma
    assert len(mm.mmap) == 2
    assert problems(k) == []


def test_munmap_splits_and_the_pieces_share_the_anon_vma() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    assert _mmap(k, mm, BASE, 0x8000) == BASE
    for i in range(8):
        assert access(k, t, BASE + (i << 12), True, i + 1)
    assert do_munmap(k, mm, BASE + 0x3000, 0x2000) == 0
    assert _ranges(mm) == [(BASE, BASE + 0x3000), (BASE + 0x5000, BASE + 0x8000)]
    low, high = mm.mmap
    assert low.anon_vma == high.anon_vma >= 0
    assert high.vm_pgoff == (BASE + 0x5000) >> 12
    assert sorted(k.mm_registry.anon_vma(low.anon_vma).head) == sorted([low.vma_id, high.vma_id])
    assert mm.rss == 6 and load(k, t, BASE + 0x5000) == 6
    assert not access(k, t, BASE + 0x3000, False)  # the hole is gone: SIGSEGV
    assert problems(k) == []


def test_munmap_frees_page_tables_of_the_hole_only() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    four_mib = 1 << 22
    assert _mmap(k, mm, BASE, 3 * four_mib) == BASE
    for i in range(3):
        assert access(k, t, BASE + i * four_mib + 0x1000, True, i)
    assert mm.nr_ptes == 3
    assert do_munmap(k, mm, BASE + four_mib, four_mib) == 0
    assert mm.nr_ptes == 2
    assert pte_offset_map(k.machine.mem, mm.pgd, BASE + four_mib) < 0
    assert do_munmap(k, mm, BASE + 0x2000, 0x1000) == 0  # the table is still used around it
    assert mm.nr_ptes == 2
    assert problems(k) == []


def test_mmap_fixed_over_a_mapping_replaces_it() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    assert _mmap(k, mm, BASE, 0x4000) == BASE
    assert access(k, t, BASE + 0x1000, True, 42)
    assert _mmap(k, mm, BASE + 0x1000, 0x1000, PROT_READ) == BASE + 0x1000
    assert load(k, t, BASE + 0x1000) == 0
    assert len(mm.mmap) == 3 and mm.rss == 0
    assert problems(k) == []


def test_get_unmapped_area_hint_search_and_cache() -> None:
    k = make_kernel()
    mm = mm_of(k, new_task(k))
    assert get_unmapped_area(mm, BASE - 0x1000, 0x2000, MAP_FIXED) == BASE - 0x1000
    assert _mmap(k, mm, 0, 0x2000, RW, MAP_PRIVATE) == TASK_UNMAPPED_BASE
    assert _mmap(k, mm, 0, 0x1000, RW, MAP_PRIVATE) == TASK_UNMAPPED_BASE + 0x2000
    assert _mmap(k, mm, 0x10000000, 0x1000, RW, MAP_PRIVATE) == 0x10000000  # a free hint
    assert _mmap(k, mm, TASK_UNMAPPED_BASE, 0x1000, RW, MAP_PRIVATE) == TASK_UNMAPPED_BASE + 0x3000
    assert do_munmap(k, mm, TASK_UNMAPPED_BASE, 0x1000) == 0
    assert mm.free_area_cache == TASK_UNMAPPED_BASE  # a new hole below the cache
    assert _mmap(k, mm, 0, 0x1000, RW, MAP_PRIVATE) == TASK_UNMAPPED_BASE
    assert problems(k) == []


def test_bad_requests() -> None:
    k = make_kernel()
    mm = mm_of(k, new_task(k))
    assert do_munmap(k, mm, BASE + 1, 0x1000) == -EINVAL
    assert do_munmap(k, mm, BASE, 0) == -EINVAL
    assert _mmap(k, mm, BASE + 1, 0x1000) == -EINVAL
    assert _mmap(k, mm, BASE, 0x1000, RW, MAP_SHARED | MAP_FIXED) == -EINVAL  # shmem
    assert _mmap(k, mm, BASE, 0) == BASE and mm.mmap == []


def test_file_mapping_access_modes() -> None:
    k = make_kernel()
    k.create_file("f", 8192, "zero", 0)
    ino = k.sb.s_names["f"]
    mm = mm_of(k, new_task(k))
    shared = MAP_SHARED | MAP_FIXED
    assert do_mmap_pgoff(k, mm, ino, O_RDONLY, BASE, 8192, RW, shared, 0) == -13
    assert do_mmap_pgoff(k, mm, ino, O_WRONLY, BASE, 8192, PROT_READ, FIXED, 0) == -13
    assert do_mmap_pgoff(k, mm, ino, O_RDONLY, BASE, 8192, PROT_READ, shared, 0) == BASE
    vma = mm.mmap[0]
    assert vma.vm_flags & VM_SHARED == 0  # a read-only shared mapping is not VM_SHARED
    assert vma.vma_id in k.sb.s_inodes[ino].i_mapping.i_mmap
    assert do_mmap_pgoff(k, mm, ino, O_RDWR, BASE + 0x10000, 8192, RW, shared, 1) > 0
    vma2 = mm.mmap[1]
    assert vma2.vm_flags & (VM_SHARED | VM_READ | VM_WRITE) == VM_SHARED | VM_READ | VM_WRITE
    assert vma2.vm_pgoff == 1 and vma2.vma_id in k.sb.s_inodes[ino].i_mapping.i_mmap_shared
    assert k.sb.s_inodes[ino].i_count == 2
    assert do_munmap(k, mm, BASE, 0x20000) == 0
    assert k.sb.s_inodes[ino].i_count == 0
    assert problems(k) == []
