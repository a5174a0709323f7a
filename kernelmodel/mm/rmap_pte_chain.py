"""Per-page pte chains: the reverse mapping of 2.6.5 and mainline 2.6.6 (mm/rmap.c).

A page mapped by one pte records that pte's physical address in ``page.pte_direct`` with
PG_direct set (no allocation). A second mapping converts it to a chain of ``PteChain``
blocks, each one L1 cache line: ``NRPTE = (L1_CACHE_BYTES - sizeof(long)) / 4`` pte
addresses plus the link to the next block. ``page.pte_chain`` is the head block.

Policy (as the kernel keeps it):
    * only the head block has free slots; they are its low slots ``[0, idx)``; every later
      block is full (``idx == 0``);
    * a free slot holds 0 (no page table lives in frame 0);
    * the head block is freed when it empties; a chain is collapsed back to direct only by
      page_referenced, when it holds a single pte.

The mm and address of a pte are found from its page-table frame (``ptep_to_mm`` and
``ptep_to_address``): the kernel kept them in the page-table page's ``struct page``; the
model takes the owner from ``mm_registry.pt_owner`` and the address from the owner's page
directory slot that points at the frame.

This module keeps only the chains; rmap.py still maintains ``_mapcount``, nr_mapped and the
anonymous page's ``mapping`` and ``index`` so the rest of the model is unchanged. Each block
costs ``l1_cache_bytes`` of rmap_bytes.

Locking (page_map_lock, the per-CPU pte_chain cache, page_table_lock trylock) is not
modelled: one CPU, so try_to_unmap_one never returns SWAP_AGAIN here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import VM_LOCKED
from kernelmodel.include.page import ClearPageDirect, PageDirect, SetPageDirect
from kernelmodel.mm.pgtable import pte_pfn, pte_present, ptep_test_and_clear_young

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

SWAP_SUCCESS: Final = 0
SWAP_AGAIN: Final = 1
SWAP_FAIL: Final = 2

_PTRS_PER_PGD: Final = 1024
_PGDIR_SHIFT: Final = 22
_PAGE_SHIFT: Final = 12
_PDE_PRESENT: Final = 1
_PGD_WORDS: Final = struct.Struct("<1024I")


@final
class PteChain:
    """struct pte_chain: one cache line of pte addresses and the next block.

    Attributes:
        ptes: the NRPTE slots (physical pte addresses; 0 = free).
        idx: the first used slot (the kernel packs it into ``next_and_idx``); NRPTE = empty.
        next: the next (full) block, or None.
    """

    def __init__(self, nrpte: int) -> None:
        self.ptes: list[int] = [0] * nrpte
        self.idx: int = nrpte
        self.next: PteChain | None = None


def nrpte(k: Kernel) -> int:
    """NRPTE for the configured L1 line: (L1_CACHE_BYTES - sizeof(long)) / sizeof(pte_addr_t)."""
    return (k.cfg.l1_cache_bytes - 4) // 4


def pte_chain_alloc(k: Kernel) -> PteChain:
    """pte_chain_alloc(): a zeroed block from the pte_chain slab (one L1 line of lowmem)."""
    k.vmstat.add_rmap_bytes(k.cfg.l1_cache_bytes)
    return PteChain(nrpte(k))


def pte_chain_free(k: Kernel, pc: PteChain) -> None:
    """__pte_chain_free(): return a block to the slab."""
    k.vmstat.add_rmap_bytes(-k.cfg.l1_cache_bytes)


def _head(page: Page) -> PteChain:
    pc = page.pte_chain
    assert isinstance(pc, PteChain)
    return pc


def pc_add_rmap(k: Kernel, page: Page, ptep: int) -> None:
    """page_add_rmap()'s chain work: record ``ptep`` as one more pte mapping ``page``.

    First mapping: direct. Second: convert to a chain (old pte in slot NRPTE-1, new in
    NRPTE-2). Later: fill the head downward, pushing a new head block when it is full.

    Caller: rmap.py's page_add_*_rmap / page_dup_rmap, for a non-reserved page.
    """
    bug_on(ptep <= 0, "page_add_rmap: bad pte address")
    n = nrpte(k)
    if page.pte_chain is None and not PageDirect(page):
        page.pte_direct = ptep
        SetPageDirect(page)
        return
    if PageDirect(page):
        pc = pte_chain_alloc(k)
        pc.ptes[n - 1] = page.pte_direct
        pc.ptes[n - 2] = ptep
        pc.idx = n - 2
        page.pte_direct = 0
        ClearPageDirect(page)
        page.pte_chain = pc
        return
    head = _head(page)
    if head.idx == 0:
        new = pte_chain_alloc(k)
        new.next = head
        page.pte_chain = new
        head = new
    head.idx -= 1
    head.ptes[head.idx] = ptep


def _take_victim(k: Kernel, page: Page, head: PteChain) -> int:
    """Remove and return the head's lowest used entry; free the head if it empties."""
    v = head.ptes[head.idx]
    head.ptes[head.idx] = 0
    head.idx += 1
    if head.idx == len(head.ptes):
        page.pte_chain = head.next
        pte_chain_free(k, head)
    return v


def pc_remove_rmap(k: Kernel, page: Page, ptep: int) -> None:
    """page_remove_rmap()'s chain work: a linear search for ``ptep``; the hole is filled with
    the head's lowest used entry. Every slot looked at is an rmap_walk_step.

    Caller: rmap.py's page_remove_rmap; ``ptep`` maps ``page``.
    """
    vs = k.vmstat
    if PageDirect(page):
        vs.rmap_walk_steps += 1
        bug_on(page.pte_direct != ptep, "page_remove_rmap: direct pte differs")
        page.pte_direct = 0
        ClearPageDirect(page)
        return
    head = _head(page)
    pc: PteChain | None = head
    while pc is not None:
        i = pc.idx
        n = len(pc.ptes)
        while i < n:
            vs.rmap_walk_steps += 1
            if pc.ptes[i] == ptep:
                pc.ptes[i] = 0
                v = _take_victim(k, page, head)
                if v != 0:
                    pc.ptes[i] = v
                return
            i += 1
        pc = pc.next
    bug_on(True, "page_remove_rmap: pte not on the chain")


def pc_page_referenced(k: Kernel, page: Page) -> int:
    """page_referenced()'s chain work: test and clear young on every pte of the page, and
    collapse a one-entry chain back to direct."""
    mem = k.machine.mem
    vs = k.vmstat
    referenced = 0
    if PageDirect(page):
        vs.page_referenced_steps += 1
        vs.rmap_walk_steps += 1
        return 1 if ptep_test_and_clear_young(mem, page.pte_direct) else 0
    if page.pte_chain is None:
        return 0
    head = _head(page)
    nr = 0
    pc: PteChain | None = head
    while pc is not None:
        i = pc.idx
        n = len(pc.ptes)
        while i < n:
            vs.page_referenced_steps += 1
            vs.rmap_walk_steps += 1
            if ptep_test_and_clear_young(mem, pc.ptes[i]):
                referenced += 1
            nr += 1
            i += 1
        pc = pc.next
    if nr == 1:
        n = len(head.ptes)
        page.pte_direct = head.ptes[n - 1]
        SetPageDirect(page)
        page.pte_chain = None
        pte_chain_free(k, head)
    return referenced


# ---- ptep -> (mm, address) ----------------------------------------------------------------------


def ptep_to_mm_address(k: Kernel, ptep: int) -> tuple[int, int]:
    """ptep_to_mm() and ptep_to_address(): the mm id and user address a pte maps, or (-1, -1)
    when its frame is no live page table (a broken chain)."""
    pt_pfn = ptep >> _PAGE_SHIFT
    reg = k.mm_registry
    mm_id = reg.pt_owner.get(pt_pfn, -1)
    if mm_id < 0 or mm_id not in reg.mms:
        return (-1, -1)
    words = _PGD_WORDS.unpack(k.machine.mem.frame_bytes(reg.mms[mm_id].pgd))
    i = 0
    while i < _PTRS_PER_PGD:
        w = words[i]
        if (w & _PDE_PRESENT) != 0 and (w >> _PAGE_SHIFT) == pt_pfn:
            slot = (ptep & 0xFFF) >> 2
            return (mm_id, (i << _PGDIR_SHIFT) | (slot << _PAGE_SHIFT))
        i += 1
    return (-1, -1)


# ---- try_to_unmap -------------------------------------------------------------------------------


def pc_try_to_unmap_one(k: Kernel, page: Page, ptep: int) -> int:
    """try_to_unmap_one() of 2.6.6: unmap the pte at ``ptep``.

    SWAP_FAIL when no vma covers the address (find_vma returns none) or it is VM_LOCKED;
    otherwise the pte is cleared with a flush, an anonymous page's pte replaced by its swap
    entry, the dirty bit moved to the page, and rss, mapcount and the page reference dropped.
    (2.6.6 has neither 2.6.7's young-pte test nor its swap-cache reference test here.)
    """
    from kernelmodel.mm.memory import find_vma
    from kernelmodel.mm.rmap import vl_unmap_one

    vs = k.vmstat
    vs.try_to_unmap_steps += 1
    vs.rmap_walk_steps += 1
    mm_id, address = ptep_to_mm_address(k, ptep)
    bug_on(mm_id < 0, "try_to_unmap_one: pte in no page table")
    mm = k.mm_registry.mms[mm_id]
    pte = k.machine.mem.read_u32(ptep)
    bug_on(not pte_present(pte) or pte_pfn(pte) != page.pfn, "try_to_unmap_one: stale pte")
    vma = find_vma(mm, address)
    if vma is None or (vma.vm_flags & VM_LOCKED) != 0:
        return SWAP_FAIL
    vl_unmap_one(k, page, mm, address, ptep)
    return SWAP_SUCCESS


def pc_try_to_unmap(k: Kernel, page: Page) -> int:
    """try_to_unmap()'s chain work (2.6.6): try every pte; each unmapped slot is refilled from
    the head's lowest entry (the head freed when it empties); stop at SWAP_FAIL.

    Returns:
        SWAP_SUCCESS, SWAP_AGAIN or SWAP_FAIL as the kernel's loop leaves ``ret`` (the caller
        turns it into SWAP_SUCCESS when no pte is left).
    """
    if PageDirect(page):
        ret = pc_try_to_unmap_one(k, page, page.pte_direct)
        if ret == SWAP_SUCCESS:
            page.pte_direct = 0
            ClearPageDirect(page)
        return ret
    ret = SWAP_SUCCESS
    start = _head(page)
    pc: PteChain | None = start
    while pc is not None:
        i = pc.idx
        n = len(pc.ptes)
        while i < n:
            r = pc_try_to_unmap_one(k, page, pc.ptes[i])
            if r == SWAP_FAIL:
                return SWAP_FAIL
            if r == SWAP_AGAIN:
                ret = SWAP_AGAIN
            else:
                # The kernel's victim move; page.pte_chain tracks the (possibly new) head.
                pc.ptes[i] = 0
                cur = page.pte_chain
                if isinstance(cur, PteChain):
                    v = _take_victim(k, page, cur)
                    if v != 0:
                        pc.ptes[i] = v
            i += 1
        pc = pc.next
    return ret


# ---- walks, checks and snapshots ----------------------------------------------------------------


def pc_page_ptes(page: Page) -> list[int]:
    """The pte addresses recorded for ``page``, head block first, low slot first."""
    if PageDirect(page):
        return [page.pte_direct]
    out: list[int] = []
    pc = page.pte_chain
    while isinstance(pc, PteChain):
        i = pc.idx
        while i < len(pc.ptes):
            out.append(pc.ptes[i])
            i += 1
        pc = pc.next
    return out


def pc_find_ptes(k: Kernel, page: Page) -> list[tuple[int, int]]:
    """vl_rmap_find_ptes in this mode: (mm id, address) of every recorded pte that maps the
    page; an entry that does not is reported as (-1, ptep) so the checker sees it."""
    mem = k.machine.mem
    out: list[tuple[int, int]] = []
    for ptep in pc_page_ptes(page):
        mm_id, address = ptep_to_mm_address(k, ptep)
        pte = mem.read_u32(ptep) if ptep > 0 else 0
        if mm_id < 0 or not pte_present(pte) or pte_pfn(pte) != page.pfn:
            out.append((-1, ptep))
        else:
            out.append((mm_id, address))
    return out


def pc_chain_bytes(k: Kernel) -> int:
    """What the live pte_chain blocks cost (one L1 line each)."""
    total = 0
    for page in k.mem_map.pages:
        pc = page.pte_chain
        while isinstance(pc, PteChain):
            total += k.cfg.l1_cache_bytes
            pc = pc.next
    return total


def pc_check_page(k: Kernel, page: Page) -> list[str]:
    """The chain policy for one page: direct xor chain, packed blocks, count = mapcount."""
    out: list[str] = []
    n = nrpte(k)
    pfn = page.pfn
    if PageDirect(page):
        if page.pte_chain is not None or page.pte_direct <= 0:
            out.append(f"page {pfn}: PG_direct with a chain or no pte")
    elif page.pte_direct != 0:
        out.append(f"page {pfn}: pte_direct set without PG_direct")
    pc = page.pte_chain
    first = True
    while isinstance(pc, PteChain):
        if len(pc.ptes) != n or pc.idx >= n or (not first and pc.idx != 0):
            out.append(f"page {pfn}: pte_chain block not packed (idx {pc.idx})")
        elif pc.ptes[: pc.idx] != [0] * pc.idx:
            out.append(f"page {pfn}: pte_chain free slot not zero")
        first = False
        pc = pc.next
    unmapped = page.pte_chain is None and not PageDirect(page)
    nptes = 0 if unmapped else len(pc_page_ptes(page))
    if nptes != page._mapcount:
        out.append(f"page {pfn}: {nptes} chained ptes, mapcount {page._mapcount}")
    return out


def pc_to_state(k: Kernel) -> list[list[int]]:
    """Each chained page as ``[pfn, head idx, slots of every block head first...]``."""
    out: list[list[int]] = []
    for page in k.mem_map.pages:
        pc = page.pte_chain
        if not isinstance(pc, PteChain):
            continue
        row = [page.pfn, pc.idx]
        while isinstance(pc, PteChain):
            row.extend(pc.ptes)
            pc = pc.next
        out.append(row)
    return out


def pc_load_state(k: Kernel, rows: Sequence[object]) -> None:
    """Rebuild the chains from ``pc_to_state`` output (bytes are already in vmstat's state).

    Raises:
        ValueError: the rows are malformed.
    """
    n = nrpte(k)
    pages = k.mem_map.pages
    for row in rows:
        vals = [x for x in row if type(x) is int] if isinstance(row, list) else []
        if not isinstance(row, list) or len(vals) != len(row) or len(vals) < 2 + n or \
                (len(vals) - 2) % n:
            raise ValueError("rmap state: a pte_chains row is [pfn, idx, slots...] of ints")
        pfn = vals[0]
        if pfn < 0 or pfn >= len(pages) or not 0 <= vals[1] < n:
            raise ValueError(f"rmap state: bad pte_chains row for frame {pfn}")
        head: PteChain | None = None
        for j in range(len(vals) - n, 1, -n):  # the blocks from the last: each links the next
            pc = PteChain(n)
            pc.ptes = vals[j : j + n]
            pc.idx = 0
            pc.next = head
            head = pc
        if head is not None:
            head.idx = vals[1]
        pages[pfn].pte_chain = head
