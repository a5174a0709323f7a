"""Protection changes: sys_mprotect, mprotect_fixup and change_protection (mm/mprotect.c, 2.6.6).

``do_mprotect`` walks the vmas of [start, end): each piece gets the new VM_READ / VM_WRITE /
VM_EXEC bits (the other flags stay), provided the vma's VM_MAY* bits allow them (else
-EACCES: a shared file mapping of a file opened read-only has no VM_MAYWRITE). A hole in the
range is -ENOMEM, after the vmas before it were already changed, as in the kernel.

``mprotect_fixup`` changes one vma's part of the range. As in 2.6.6 it first tries to let the
previous vma absorb the part (``mprotect_attempt_merge``: only when the part starts the vma,
``prev`` ends where it starts and already has the new flags, and neither maps a file);
otherwise it splits the vma at the start and at the end of the range (``split_vma``) and sets
the middle piece's flags and ``vm_page_prot`` (``protection_map``). ``do_mprotect`` ends by
merging the last vma it changed with the vma after it when their flags now agree (2.6.6 does
this inline at the end of sys_mprotect). 2.6.7 (rmap 36) replaced both merges with
``vma_merge``, which also merges file vmas; the model keeps 2.6.6's anonymous-only merging.

Because the vmas carry 2.6.7's anon_vma (the object rmap the model runs), a merge must also
keep anonymous pages findable: the two vmas' anon_vmas must be compatible (one of them has
none, or both have the same: rmap 39's ``is_mergeable_anon_vma``) and their ``vm_pgoff`` must
be contiguous (so ``vma_address`` still turns each page's index into its address); a vma that
absorbs pages and had no anon_vma takes the other's (the "importer" rule of vma_adjust).
2.6.6 with pte chains needed neither condition.

``change_protection`` rewrites every present pte of the range (PROT_NONE ptes included:
pte_present is P or PROTNONE) with ``pte_modify``: the frame, A and D stay, the protection
bits come from the vma's new ``vm_page_prot``. A private writable vma's ``vm_page_prot`` is
PAGE_COPY, so its ptes stay read-only and the next write goes through do_wp_page (reuse when
the page is mapped once, else a COW copy). Then ``flush_tlb_range``: on uniprocessor i386
2.6.6 (include/asm-i386/tlbflush.h) that is a full ``__flush_tlb()``, a CR3 reload, when the
mm is the active one; the model does the same (not an invlpg per page). Without it a TLB
entry cached writable would let a write through after mprotect(PROT_READ).

A later access the new protection forbids is a SIGSEGV from do_page_fault (memory.py): a
write needs VM_WRITE, a read of a not-present pte needs VM_READ or VM_EXEC.

Model simplifications:
    * no commit accounting (VM_ACCOUNT is not set when a private mapping becomes writable,
      since the model's mmap does not set it either), no hugetlb, no security hooks,
      no PROT_GROWSDOWN / PROT_GROWSUP (added after 2.6.6);
    * sys_brk is not modelled (the mm has no heap fields).

Invariants (after do_mprotect, whatever it returns):
    * every present pte of a changed range equals ``pte_modify(old, vma.vm_page_prot)`` of
      the vma that now covers it, and the mm's TLB holds no translation older than that;
    * the vma list stays sorted and disjoint, and the anon_vma / i_mmap lists stay exact
      (check_mm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import (
    VM_EXEC,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    MmStruct,
    VmArea,
)
from kernelmodel.include.syscall_abi import (
    EACCES,
    EINVAL,
    ENOMEM,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
)
from kernelmodel.include.vmstat import TR_MAP
from kernelmodel.mm.mmap import (
    MmSyscallOp,
    calc_vm_flags,
    can_vma_merge_after,
    find_vma_prev,
    remove_vm_struct,
    split_vma,
    vl_next_vma,
    vl_vma_index,
)
from kernelmodel.mm.pgtable import (
    flush_tlb_range,
    pte_modify,
    pte_offset_map,
    pte_present,
    ptep_get_and_clear,
    set_pte,
    vm_get_page_prot,
)
from kernelmodel.mm.rmap import anon_vma_link
from machine.i386 import PAGE_SHIFT, PAGE_SIZE, PGDIR_SHIFT

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.isa import Insn

#: PROT_SEM (include/asm-i386/mman.h): accepted and ignored.
PROT_SEM: Final = 0x8

_PAGE_MASK: Final = 0xFFFFF000
_ADDR_LIMIT: Final = 1 << 32
_RWX: Final = VM_READ | VM_WRITE | VM_EXEC
#: The VM_MAY* bits sit four bits above the bits they allow (VM_MAYREAD = VM_READ << 4 ...).
_MAY_SHIFT: Final = 4
_PROT_BITS: Final = 0xF


# ---- the pte walk -------------------------------------------------------------------------------


def change_protection(
    k: Kernel, mm: MmStruct, vma: VmArea, start: int, end: int, newprot: int
) -> int:
    """change_protection() / change_pmd_range() / change_pte_range(): rewrite the ptes.

    Each present pte (PROT_NONE ones too) is read and cleared, then set again as
    ``pte_modify(entry, newprot)``, keeping its frame, accessed and dirty bits. Swap, file
    and empty ptes are left alone. Ends with flush_tlb_range (UP i386: a CR3 reload if ``mm``
    is loaded).

    Returns:
        The number of ptes rewritten.

    Caller: ``vma`` covers [start, end) and already has its new ``vm_page_prot``.
    """
    mem = k.machine.mem
    n = 0
    addr = start
    while addr < end:
        ptep = pte_offset_map(mem, mm.pgd, addr)
        if ptep < 0:
            addr = ((addr >> PGDIR_SHIFT) + 1) << PGDIR_SHIFT
            continue
        entry = mem.read_u32(ptep)
        if pte_present(entry):
            entry = ptep_get_and_clear(mem, ptep)
            set_pte(mem, ptep, pte_modify(entry, newprot))
            n += 1
        addr += PAGE_SIZE
    flush_tlb_range(k, vma.vm_mm, start, end)
    return n


# ---- merging (2.6.6, with anon_vma's conditions) -----------------------------------------------


def _vl_can_absorb(prev: VmArea, vma: VmArea, newflags: int) -> bool:
    """Whether ``prev`` (just below ``vma``) may take over pages of ``vma`` with ``newflags``.

    2.6.6's can_vma_merge(prev, newflags) (``prev`` maps no file and has exactly those
    flags) and its "no file, not shared" test on ``vma``, plus the anon_vma conditions:
    compatible anon_vmas and contiguous vm_pgoff (can_vma_merge_after).
    """
    if prev.vm_end != vma.vm_start:
        return False
    if prev.vm_file >= 0 or vma.vm_file >= 0 or (vma.vm_flags & VM_SHARED):
        return False
    return can_vma_merge_after(prev, newflags, vma.anon_vma, -1, vma.vm_pgoff)


def _vl_import_anon_vma(k: Kernel, importer: VmArea, donor: VmArea) -> None:
    """vma_adjust's importer rule: a vma taking over anonymous pages of ``donor`` joins
    ``donor``'s anon_vma if it had none (anon_vma_merge)."""
    if importer.anon_vma < 0 and donor.anon_vma >= 0:
        importer.anon_vma = donor.anon_vma
        anon_vma_link(k, importer)


def _vl_remove_merged(k: Kernel, mm: MmStruct, prev: VmArea, vma: VmArea) -> None:
    """__vma_unlink(mm, vma, prev) + freeing ``vma`` after ``prev`` grew over all of it."""
    del mm.mmap[vl_vma_index(mm, vma)]
    if mm.mmap_cache is vma:
        mm.mmap_cache = prev
    mm.map_count -= 1
    remove_vm_struct(k, vma)


def mprotect_attempt_merge(
    k: Kernel, mm: MmStruct, vma: VmArea, prev: VmArea | None, end: int, newflags: int
) -> bool:
    """mprotect_attempt_merge(): let ``prev`` grow over [vma.vm_start, end).

    When ``end`` is the vma's end the vma disappears into ``prev``; otherwise ``prev`` grows
    to ``end`` and the vma starts there (its vm_pgoff advancing by the pages it lost).

    Returns:
        True when merged (``prev`` now covers the range with ``newflags``).

    Caller: vma.vm_start <= end <= vma.vm_end and [vma.vm_start, end) is the part to change.
    """
    if prev is None or not _vl_can_absorb(prev, vma, newflags):
        return False
    _vl_import_anon_vma(k, prev, vma)
    if end == vma.vm_end:
        prev.vm_end = end
        _vl_remove_merged(k, mm, prev, vma)
        return True
    vma.vm_pgoff += (end - vma.vm_start) >> PAGE_SHIFT
    vma.vm_start = end
    prev.vm_end = end
    return True


def vl_mprotect_merge_next(k: Kernel, mm: MmStruct, prev: VmArea, nxt: VmArea | None) -> bool:
    """The end of 2.6.6's sys_mprotect: merge ``nxt`` into ``prev`` when their flags now agree
    (both anonymous and private; with anon_vma, compatible anon_vmas and contiguous pgoff).

    Returns:
        True when ``nxt`` was merged into ``prev`` and freed.
    """
    if nxt is None or nxt.vm_flags != prev.vm_flags or vl_next_vma(mm, prev) is not nxt:
        return False
    if not _vl_can_absorb(prev, nxt, prev.vm_flags):
        return False
    _vl_import_anon_vma(k, prev, nxt)
    prev.vm_end = nxt.vm_end
    _vl_remove_merged(k, mm, prev, nxt)
    return True


# ---- mprotect_fixup and sys_mprotect ------------------------------------------------------------


def mprotect_fixup(
    k: Kernel, mm: MmStruct, vma: VmArea, prev: VmArea | None, start: int, end: int,
    newflags: int,
) -> tuple[int, VmArea | None]:
    """mprotect_fixup(): give [start, end) of ``vma`` the flags ``newflags``.

    Returns:
        (0 or -ENOMEM from split_vma, the new ``*pprev``: the vma now covering the range,
        or the one it was merged into).

    Caller: vma.vm_start <= start < end <= vma.vm_end; ``prev`` is the vma before ``vma``
    (or the vma the previous step left as ``*pprev``).
    """
    if newflags == vma.vm_flags:
        return (0, vma)
    newprot = vm_get_page_prot(newflags)
    if start == vma.vm_start:
        if prev is not None and mprotect_attempt_merge(k, mm, vma, prev, end, newflags):
            change_protection(k, mm, prev, start, end, newprot)
            return (0, prev)
    elif split_vma(k, mm, vma, start, 1):
        return (-ENOMEM, prev)
    if end != vma.vm_end and split_vma(k, mm, vma, end, 0):
        return (-ENOMEM, vma)
    vma.vm_flags = newflags
    vma.vm_page_prot = newprot
    change_protection(k, mm, vma, start, end, newprot)
    return (0, vma)


def vl_mprotect_newflags(vma: VmArea, vm_flags: int) -> int:
    """sys_mprotect's ``newflags``: the new rwx bits over the vma's other flags, or -EACCES
    when a bit lacks its VM_MAY* permission (``(newflags & ~(newflags >> 4)) & 0xf``)."""
    newflags = vm_flags | (vma.vm_flags & ~_RWX)
    if (newflags & ~(newflags >> _MAY_SHIFT)) & _PROT_BITS:
        return -EACCES
    return newflags


def do_mprotect(k: Kernel, mm: MmStruct, start: int, length: int, prot: int) -> int:
    """sys_mprotect(start, len, prot) on ``mm`` (mm/mprotect.c, 2.6.6).

    Returns:
        0; -EINVAL (start not page aligned, unknown prot bits); -ENOMEM (the range wraps,
        or has a hole or unmapped start; also a refused split); -EACCES (a protection the
        mapping may not have).

    Caller: holds mmap_sem for writing (not modelled); ``mm`` is the current task's.
    """
    if start & ~_PAGE_MASK:
        return -EINVAL
    length = (length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    end = start + length
    if end < start or end >= _ADDR_LIMIT:  # the kernel's unsigned end wrapped
        return -ENOMEM
    if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM):
        return -EINVAL
    if end == start:
        return 0
    vm_flags = calc_vm_flags(prot, 0)
    vma, prev = find_vma_prev(mm, start)
    if vma is None or vma.vm_start > start:
        return -ENOMEM
    return _vl_mprotect_walk(k, mm, vma, prev, start, end, vm_flags)


def _vl_mprotect_walk(
    k: Kernel, mm: MmStruct, vma: VmArea, prev: VmArea | None, start: int, end: int,
    vm_flags: int,
) -> int:
    """sys_mprotect's loop over the vmas of [start, end), then the final merge."""
    nstart = start
    nxt: VmArea | None = None
    while True:
        newflags = vl_mprotect_newflags(vma, vm_flags)
        if newflags < 0:
            return newflags
        if vma.vm_end > end:
            err, prev = mprotect_fixup(k, mm, vma, prev, nstart, end, newflags)
            return err
        last = vma.vm_end == end
        tmp = vma.vm_end
        nxt = vl_next_vma(mm, vma)
        err, prev = mprotect_fixup(k, mm, vma, prev, nstart, tmp, newflags)
        if err:
            return err
        if last:
            break
        nstart = tmp
        if nxt is None or nxt.vm_start != nstart:
            return -ENOMEM
        vma = nxt
    if prev is not None:
        vl_mprotect_merge_next(k, mm, prev, nxt)
    return 0


def vl_prot_name(prot: int) -> str:
    """``r-x``-style text for PROT_* bits (trace events)."""
    r = "r" if prot & PROT_READ else "-"
    w = "w" if prot & PROT_WRITE else "-"
    x = "x" if prot & PROT_EXEC else "-"
    return r + w + x


def sys_mprotect(k: Kernel, task: Task, insn: Insn) -> MmSyscallOp:
    """sys_mprotect(start, len, prot): b = start, c = length, d = PROT_* bits.

    Emits a TR_MAP trace event naming the range, the new protection and the result.
    """
    mm = k.mm_registry.mms.get(task.mm_id)
    bug_on(mm is None, "sys_mprotect: task has no mm")
    assert mm is not None
    r = do_mprotect(k, mm, insn.b, insn.c, insn.d)
    text = f"mprotect {insn.b:#010x}+{insn.c:#x} {vl_prot_name(insn.d)} -> {r}"
    k.trace.emit(k.now(), TR_MAP, task.pid, insn.b, insn.c, text)
    return MmSyscallOp("mprotect", r)

