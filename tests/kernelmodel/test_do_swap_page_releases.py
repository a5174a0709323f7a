"""do_swap_page per release (memory.py, ``cfg.swapin``).

A write fault on a swapped-out page that cannot be shared (another pte still references the
swap slot): 2.6.7 copies the page inside the swap-in fault (rmap 11); 2.6.5 and 2.6.6 map
the swap-cache page read-only, and the retried write takes a second fault into do_wp_page.
"""

from __future__ import annotations

import pytest
from test_swap_support import make_anon_task, make_kernel, page_at, touch

from kernelmodel.include.mm_types import MmStruct, VmArea
from kernelmodel.include.page import Page, PageSwapCache, TestSetPageLocked, get_page
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.memory import VM_FAULT_MINOR
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import pte_present, vl_read_pte
from kernelmodel.mm.rmap import SWAP_SUCCESS, page_referenced, try_to_unmap
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.mm.swap_state import add_to_swap
from kernelmodel.mm.swapfile import swap_duplicate
from machine.i386 import PTE_D, PTE_RW

BASE = 0x10000000
DESIGNS = {
    "2.6.5": ("2.6.5", "lists", "pte_chain"),
    "2.6.6": ("2.6.6", "tags", "pte_chain"),
    "2.6.7": ("2.6.7", "tags", "anon_vma"),
}


def swapped_shared_page(release: str) -> tuple[Kernel, Task, MmStruct, VmArea, Page, int]:
    """One written anonymous page, unmapped into the swap cache, its slot also referenced by
    a second (fork child's) swap pte. Returns (kernel, task, mm, vma, the page, its entry)."""
    k = make_kernel(design=DESIGNS[release])
    k.cfg.swapin = "2.6.7" if release == "2.6.7" else "2.6.6"
    t, mm, vma = make_anon_task(k, 1, BASE)
    assert touch(k, t, mm, vma, BASE) == VM_FAULT_MINOR
    page = page_at(k, mm, BASE)
    assert page is not None
    lru_add_drain(k)
    assert not TestSetPageLocked(page)
    assert add_to_swap(k, page) == 1
    page_referenced(k, page)  # clear the young bit, as shrink_list's check does
    get_page(page)  # shrink_list's isolation reference
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    unlock_page(k, page)
    page_cache_release(k, page)
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)
    assert pte != 0 and not pte_present(pte)
    entry = page.private if release != "2.6.5" else page.index
    assert swap_duplicate(k, entry) == 1  # the other pte's reference
    return k, t, mm, vma, page, entry


@pytest.mark.parametrize("release", ("2.6.5", "2.6.6"))
def test_write_swapin_of_a_shared_page_takes_a_second_fault(release: str) -> None:
    k, t, mm, vma, page, _entry = swapped_shared_page(release)
    cow0 = k.vmstat.cow_faults
    assert touch(k, t, mm, vma, BASE) == VM_FAULT_MINOR  # do_swap_page
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)
    assert pte_present(pte) and pte >> 12 == page.pfn  # the swap-cache page itself...
    assert pte & PTE_RW == 0 and pte & PTE_D == 0  # ...read-only: the write is not done
    assert k.vmstat.cow_faults == cow0 and PageSwapCache(page)
    assert touch(k, t, mm, vma, BASE) == VM_FAULT_MINOR  # the retried write: do_wp_page
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)
    assert pte >> 12 != page.pfn and pte & PTE_RW  # a private copy, writable
    assert k.vmstat.cow_faults == cow0 + 1


def test_write_swapin_of_a_shared_page_copies_at_once_on_2_6_7() -> None:
    k, t, mm, vma, page, _entry = swapped_shared_page("2.6.7")
    cow0 = k.vmstat.cow_faults
    assert touch(k, t, mm, vma, BASE) == VM_FAULT_MINOR  # do_swap_page, then do_wp_page
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)
    assert pte_present(pte) and pte >> 12 != page.pfn and pte & PTE_RW
    assert k.vmstat.cow_faults == cow0 + 1


@pytest.mark.parametrize("release", ("2.6.5", "2.6.6", "2.6.7"))
def test_write_swapin_of_an_exclusive_page_maps_it_writable_and_dirty(release: str) -> None:
    k, t, mm, vma, page, entry = swapped_shared_page(release)
    from kernelmodel.mm.swapfile import swap_free

    swap_free(k, entry)  # the other pte went away: the slot is ours alone
    cow0 = k.vmstat.cow_faults
    assert touch(k, t, mm, vma, BASE) == VM_FAULT_MINOR
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)
    assert pte >> 12 == page.pfn and pte & PTE_RW and pte & PTE_D
    assert k.vmstat.cow_faults == cow0
