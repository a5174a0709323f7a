"""Memory mappings: mmap, munmap and the vma list (mm/mmap.c, 2.6.7; msync is msync.py).

A vma is created by ``do_mmap_pgoff``, linked into its mm's address-ordered list and, for a
file, onto the file mapping's ``i_mmap`` (private) or ``i_mmap_shared`` list (``vma_link``).
Private anonymous vmas get ``vm_pgoff = addr >> PAGE_SHIFT`` ("Set pgoff according to addr for
anon_vma", 2.6.7), so anonymous pages have linear indices. Adjacent compatible vmas merge
(``vma_merge``), except two with different anon_vmas (the restriction anon_vma brought in
rmap 39). ``do_munmap`` splits the vmas at the ends of the range (``split_vma``: the new
piece shares the anon_vma and joins its list), zaps the ptes, frees page tables nobody uses
(``free_pgtables``) and removes the vmas (``remove_vm_struct`` -> anon_vma_unlink).

The object-based rmap these lists feed is the 2.6.6-cycle design that shipped in 2.6.7.

Model simplifications:
    * no MAP_GROWSDOWN stacks, mlock, mremap, mprotect or brk; shared anonymous memory
      (shmem) is not modelled (mmap returns -EINVAL);
    * ``vm_file`` is the inode number and the vma holds an inode reference (the kernel holds
      a struct file reference, which holds the inode);
    * i_mmap lists are plain lists of vma ids (2.6.6's list_heads; 2.6.7 made i_mmap a prio
      tree, whose query the walks reproduce by filtering on the file range).

Invariants: see mm_types.py (sorted, non-overlapping vmas; anon_vma lists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import (
    TASK_SIZE,
    TASK_UNMAPPED_BASE,
    VM_EXEC,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    MmStruct,
    VmArea,
)
from kernelmodel.include.syscall_abi import (
    EBADF,
    EINVAL,
    ENOMEM,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDWR,
    O_WRONLY,
    vl_unpack_mmap,
)
from kernelmodel.kernel.task import KOP_CONTINUE, KOP_DONE, Frame, KOp, Task, vl_push
from kernelmodel.mm.memory import find_vma, unmap_vmas
from kernelmodel.mm.pgtable import flush_tlb_mm, free_pgtables, vm_get_page_prot
from kernelmodel.mm.rmap import (
    anon_vma_link,
    anon_vma_unlink,
    vl_rmap_vma_alloc,
    vl_rmap_vma_free,
)
from machine.i386 import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from kernelmodel.fs.fs import File
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap import AddressSpace
    from machine.isa import Insn

EACCES: Final = 13

#: sysctl_max_map_count (DEFAULT_MAX_MAP_COUNT).
sysctl_max_map_count: Final = 65536
_PAGE_MASK: Final = 0xFFFFF000
_MAP_TYPE: Final = 0x0F
_O_ACCMODE: Final = 3
PGDIR_SIZE: Final = 1 << 22
_PGDIR_MASK: Final = 0xFFC00000


def PAGE_ALIGN(addr: int) -> int:
    return (addr + PAGE_SIZE - 1) & _PAGE_MASK


# ---- lookups ------------------------------------------------------------------------------------


def vl_vma_index(mm: MmStruct, vma: VmArea) -> int:
    """Position of ``vma`` in ``mm.mmap`` (the kernel follows vm_next pointers)."""
    vmas = mm.mmap
    lo = 0
    hi = len(vmas)
    while lo < hi:
        mid = (lo + hi) >> 1
        if vmas[mid].vm_start < vma.vm_start:
            lo = mid + 1
        else:
            hi = mid
    bug_on(lo >= len(vmas) or vmas[lo] is not vma, "vl_vma_index: vma not in its mm")
    return lo


def vl_next_vma(mm: MmStruct, vma: VmArea) -> VmArea | None:
    """vma->vm_next."""
    i = vl_vma_index(mm, vma) + 1
    return mm.mmap[i] if i < len(mm.mmap) else None


def vl_prev_vma(mm: MmStruct, vma: VmArea) -> VmArea | None:
    """The vma before ``vma`` (what find_vma_prev reports)."""
    i = vl_vma_index(mm, vma)
    return mm.mmap[i - 1] if i > 0 else None


def find_vma_prev(mm: MmStruct, addr: int) -> tuple[VmArea | None, VmArea | None]:
    """find_vma_prev(): (the first vma with addr < vm_end, the vma before it)."""
    vma = find_vma(mm, addr)
    if vma is None:
        prev = mm.mmap[-1] if mm.mmap else None
        return (None, prev)
    return (vma, vl_prev_vma(mm, vma))


def get_unmapped_area(mm: MmStruct, addr: int, length: int, flags: int) -> int:
    """get_unmapped_area() / arch_get_unmapped_area(): where a new mapping may go.

    MAP_FIXED takes ``addr`` as it is; otherwise a free hint is honoured, then the first hole
    from ``free_area_cache`` (wrapping once to TASK_UNMAPPED_BASE).

    Returns:
        The address, or -ENOMEM / -EINVAL.
    """
    if length > TASK_SIZE:
        return -ENOMEM
    if flags & MAP_FIXED:
        if addr > TASK_SIZE - length:
            return -ENOMEM
        if addr & ~_PAGE_MASK:
            return -EINVAL
        return addr
    if addr:
        addr = PAGE_ALIGN(addr)
        vma = find_vma(mm, addr)
        if TASK_SIZE - length >= addr and (vma is None or addr + length <= vma.vm_start):
            return addr
    start = mm.free_area_cache
    found = _search_hole(mm, start, length)
    if found < 0 and start != TASK_UNMAPPED_BASE:
        found = _search_hole(mm, TASK_UNMAPPED_BASE, length)
    if found < 0:
        return -ENOMEM
    mm.free_area_cache = found + length
    return found


def _search_hole(mm: MmStruct, addr: int, length: int) -> int:
    """arch_get_unmapped_area's full_search loop from ``addr``; -1 if nothing fits."""
    vma = find_vma(mm, addr)
    while True:
        if TASK_SIZE - length < addr:
            return -1
        if vma is None or addr + length <= vma.vm_start:
            return addr
        addr = vma.vm_end
        vma = vl_next_vma(mm, vma)


# ---- vma allocation and linking -----------------------------------------------------------------


def vl_vma_alloc(
    k: Kernel, mm: MmStruct, start: int, end: int, vm_flags: int, pgoff: int, file_ino: int
) -> VmArea:
    """kmem_cache_alloc(vm_area_cachep) + the fields do_mmap_pgoff fills in."""
    reg = k.mm_registry
    vma = VmArea(
        reg.next_vma_id, mm.mm_id, start, end, vm_flags, vm_get_page_prot(vm_flags), pgoff,
        file_ino,
    )
    reg.next_vma_id += 1
    reg.vmas[vma.vma_id] = vma
    vl_rmap_vma_alloc(k)
    if file_ino >= 0:
        _file_get(k, file_ino)
    return vma


def vl_vma_copy(k: Kernel, src: VmArea, mm_id: int) -> VmArea:
    """``*new = *vma`` with a fresh id (split_vma, dup_mmap); the file reference is taken."""
    reg = k.mm_registry
    vma = VmArea(
        reg.next_vma_id, mm_id, src.vm_start, src.vm_end, src.vm_flags, src.vm_page_prot,
        src.vm_pgoff, src.vm_file,
    )
    vma.anon_vma = src.anon_vma
    reg.next_vma_id += 1
    reg.vmas[vma.vma_id] = vma
    vl_rmap_vma_alloc(k)
    if vma.vm_file >= 0:
        _file_get(k, vma.vm_file)
    return vma


def _file_get(k: Kernel, ino: int) -> None:
    """get_file(): the vma's reference on the mapped file (an inode reference here)."""
    from kernelmodel.fs.fs import iget, vl_inode

    inode = vl_inode(k, ino)
    bug_on(inode is None, "vma: maps a dead inode")
    assert inode is not None
    iget(inode)


def _file_put(k: Kernel, ino: int) -> None:
    """fput() of the vma's file reference (an iput here).

    The last reference to an unlinked inode deletes it, which may sleep: the inode goes on
    the registry's ``deferred_iput`` list for the current syscall or exit op to delete
    (``vl_drain_deferred_iput``).
    """
    from kernelmodel.fs.fs import vl_inode, vl_iput_needs_delete

    inode = vl_inode(k, ino)
    bug_on(inode is None, "vma: maps a dead inode")
    assert inode is not None
    if vl_iput_needs_delete(inode):
        k.mm_registry.deferred_iput.append(ino)


def vl_drain_deferred_iput(k: Kernel, task: Task) -> KOp | None:
    """Push a DeleteInodeOp on ``task`` for one deferred inode (it runs at the caller's next
    step); returns it, or None when none is left."""
    reg = k.mm_registry
    if not reg.deferred_iput:
        return None
    from kernelmodel.fs.open import DeleteInodeOp

    op = DeleteInodeOp(reg.deferred_iput.pop(0))
    vl_push(task, op)
    return op


def vl_file_mapping(k: Kernel, ino: int) -> AddressSpace:
    """The page cache (f_mapping) of the mapped inode ``ino``."""
    from kernelmodel.fs.fs import vl_inode

    inode = vl_inode(k, ino)
    bug_on(inode is None, "vl_file_mapping: dead inode")
    assert inode is not None
    return inode.i_mapping


def _vma_link_file(k: Kernel, vma: VmArea, after: int) -> None:
    """__vma_link_file(): put a file vma on i_mmap_shared (VM_SHARED) or i_mmap.

    ``after`` >= 0 inserts just after that vma id (dup_mmap); otherwise at the tail.
    """
    if vma.vm_file < 0:
        return
    mapping = vl_file_mapping(k, vma.vm_file)
    lst = mapping.i_mmap_shared if vma.vm_flags & VM_SHARED else mapping.i_mmap
    if after >= 0 and after in lst:
        lst.insert(lst.index(after) + 1, vma.vma_id)
    else:
        lst.append(vma.vma_id)


def _vma_unlink_file(k: Kernel, vma: VmArea) -> None:
    """__remove_shared_vm_struct(): take a file vma off its i_mmap list."""
    if vma.vm_file < 0:
        return
    mapping = vl_file_mapping(k, vma.vm_file)
    lst = mapping.i_mmap_shared if vma.vm_flags & VM_SHARED else mapping.i_mmap
    bug_on(vma.vma_id not in lst, "__remove_shared_vm_struct: vma not on i_mmap")
    lst.remove(vma.vma_id)


def _vma_link_list(mm: MmStruct, vma: VmArea) -> None:
    """__vma_link_list + __vma_link_rb: insert into the address-ordered list."""
    vmas = mm.mmap
    lo = 0
    hi = len(vmas)
    while lo < hi:
        mid = (lo + hi) >> 1
        if vmas[mid].vm_start < vma.vm_start:
            lo = mid + 1
        else:
            hi = mid
    bug_on(lo > 0 and vmas[lo - 1].vm_end > vma.vm_start, "vma_link: overlaps the previous vma")
    bug_on(lo < len(vmas) and vmas[lo].vm_start < vma.vm_end, "vma_link: overlaps the next vma")
    vmas.insert(lo, vma)


def vma_link(k: Kernel, mm: MmStruct, vma: VmArea, file_after: int = -1) -> None:
    """vma_link(): list, i_mmap and anon_vma linking; map_count++.

    Caller: holds mmap_sem for writing.
    """
    _vma_link_list(mm, vma)
    _vma_link_file(k, vma, file_after)
    anon_vma_link(k, vma)
    mm.map_count += 1


def remove_vm_struct(k: Kernel, vma: VmArea) -> None:
    """remove_vm_struct(): off i_mmap, off the anon_vma (freeing it if empty), file put,
    vma freed.

    Caller: the vma is already off its mm's list and its ptes are zapped.
    """
    _vma_unlink_file(k, vma)
    anon_vma_unlink(k, vma)
    del k.mm_registry.vmas[vma.vma_id]
    vl_rmap_vma_free(k)
    if vma.vm_file >= 0:
        _file_put(k, vma.vm_file)


# ---- merging ------------------------------------------------------------------------------------


def is_mergeable_vma(vma: VmArea, file_ino: int, vm_flags: int) -> bool:
    """is_mergeable_vma(): same flags and same file (no ->close in the model)."""
    return vma.vm_flags == vm_flags and vma.vm_file == file_ino


def is_mergeable_anon_vma(av1: int, av2: int) -> bool:
    """is_mergeable_anon_vma(): either has none, or both the same (rmap 39)."""
    return av1 < 0 or av2 < 0 or av1 == av2


def can_vma_merge_before(
    vma: VmArea, vm_flags: int, anon_vma: int, file_ino: int, vm_pgoff: int
) -> bool:
    """can_vma_merge_before(): a new range ending at vma->vm_start may join ``vma``."""
    return (
        is_mergeable_vma(vma, file_ino, vm_flags)
        and is_mergeable_anon_vma(anon_vma, vma.anon_vma)
        and vma.vm_pgoff == vm_pgoff
    )


def can_vma_merge_after(
    vma: VmArea, vm_flags: int, anon_vma: int, file_ino: int, vm_pgoff: int
) -> bool:
    """can_vma_merge_after(): a new range starting at vma->vm_end may join ``vma``."""
    return (
        is_mergeable_vma(vma, file_ino, vm_flags)
        and is_mergeable_anon_vma(anon_vma, vma.anon_vma)
        and vma.vm_pgoff + vma.vl_pages() == vm_pgoff
    )


def vma_merge(
    k: Kernel, mm: MmStruct, prev: VmArea | None, addr: int, end: int, vm_flags: int,
    file_ino: int, pgoff: int,
) -> VmArea | None:
    """vma_merge(): extend ``prev`` and/or the next vma over [addr, end) instead of adding one.

    Returns:
        The vma that now covers the range, or None (the caller links a new vma).

    Caller: [addr, end) is unmapped; ``prev`` is the vma before it (or None).
    """
    nxt = vl_next_vma(mm, prev) if prev is not None else (mm.mmap[0] if mm.mmap else None)
    if nxt is not None and nxt.vm_start < end:
        nxt = None
    npages = (end - addr) >> PAGE_SHIFT
    if (
        prev is not None
        and prev.vm_end == addr
        and can_vma_merge_after(prev, vm_flags, -1, file_ino, pgoff)
    ):
        if (
            nxt is not None
            and nxt.vm_start == end
            and can_vma_merge_before(nxt, vm_flags, -1, file_ino, pgoff + npages)
            and is_mergeable_anon_vma(prev.anon_vma, nxt.anon_vma)
        ):
            _merge_next_into_prev(k, mm, prev, nxt)
        else:
            prev.vm_end = end
        return prev
    if (
        nxt is not None
        and nxt.vm_start == end
        and can_vma_merge_before(nxt, vm_flags, -1, file_ino, pgoff + npages)
    ):
        nxt.vm_start = addr
        nxt.vm_pgoff = pgoff
        return nxt
    return None


def _merge_next_into_prev(k: Kernel, mm: MmStruct, prev: VmArea, nxt: VmArea) -> None:
    """vma_adjust() removing ``nxt``: prev grows over it; an anon_vma moves to prev if prev
    had none (the "importer" case), and nxt leaves its lists."""
    if prev.anon_vma < 0 and nxt.anon_vma >= 0:
        prev.anon_vma = nxt.anon_vma
        anon_vma_link(k, prev)
    prev.vm_end = nxt.vm_end
    mm.mmap.remove(nxt)
    if mm.mmap_cache is nxt:
        mm.mmap_cache = None
    mm.map_count -= 1
    remove_vm_struct(k, nxt)


def find_mergeable_anon_vma(k: Kernel, vma: VmArea) -> int:
    """find_mergeable_anon_vma() (rmap 40): the anon_vma of a neighbour ``vma`` could be
    mprotect-merged with (same flags but for read/write/exec, adjacent, same file and
    consecutive pgoff), or -1."""
    mm = k.mm_registry.mms[vma.vm_mm]
    rwx = VM_READ | VM_WRITE | VM_EXEC
    near = vl_next_vma(mm, vma)
    if near is not None:
        flags = (vma.vm_flags & ~rwx) | (near.vm_flags & rwx)
        if (
            near.anon_vma >= 0
            and vma.vm_end == near.vm_start
            and can_vma_merge_before(near, flags, -1, vma.vm_file, vma.vm_pgoff + vma.vl_pages())
        ):
            return near.anon_vma
    near = vl_prev_vma(mm, vma)
    if near is not None:
        flags = (vma.vm_flags & ~rwx) | (near.vm_flags & rwx)
        if (
            near.anon_vma >= 0
            and near.vm_end == vma.vm_start
            and can_vma_merge_after(near, flags, -1, vma.vm_file, vma.vm_pgoff)
        ):
            return near.anon_vma
    return -1


# ---- mmap ---------------------------------------------------------------------------------------


def calc_vm_flags(prot: int, flags: int) -> int:
    """calc_vm_prot_bits | calc_vm_flag_bits: PROT_READ/WRITE/EXEC are VM_READ/WRITE/EXEC."""
    return prot & (VM_READ | VM_WRITE | VM_EXEC)


def do_mmap_pgoff(
    k: Kernel, mm: MmStruct, file_ino: int, f_flags: int, addr: int, length: int, prot: int,
    flags: int, pgoff: int,
) -> int:
    """do_mmap_pgoff(): create a mapping.

    Args:
        file_ino: the inode mapped, or -1 for anonymous memory.
        f_flags: the open file's O_* flags (its access mode decides what may be mapped).

    Returns:
        The start address, or a negative errno.

    Caller: holds mmap_sem for writing.
    """
    if length == 0:
        return addr
    length = PAGE_ALIGN(length)
    if length == 0 or length > TASK_SIZE:
        return -EINVAL
    if mm.map_count > sysctl_max_map_count:
        return -ENOMEM
    addr = get_unmapped_area(mm, addr, length, flags)
    if addr < 0:
        return addr
    vm_flags = calc_vm_flags(prot, flags) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    mtype = flags & _MAP_TYPE
    if file_ino >= 0:
        vm_flags = _file_vm_flags(vm_flags, mtype, prot, f_flags)
    elif mtype == MAP_PRIVATE:
        pgoff = addr >> PAGE_SHIFT
    else:
        vm_flags = -EINVAL  # MAP_SHARED anonymous memory is shmem: not modelled
    if vm_flags < 0:
        return vm_flags
    if find_vma(mm, addr) is not None and _overlaps(mm, addr, addr + length):
        err = do_munmap(k, mm, addr, length)
        if err:
            return -ENOMEM
    _mmap_region(k, mm, addr, length, vm_flags, pgoff, file_ino)
    return addr


def _file_vm_flags(vm_flags: int, mtype: int, prot: int, f_flags: int) -> int:
    """The MAP_SHARED / MAP_PRIVATE checks of do_mmap_pgoff for a file; -errno if refused."""
    acc = f_flags & _O_ACCMODE
    can_read = acc != O_WRONLY
    can_write = acc in (O_WRONLY, O_RDWR)
    if mtype == MAP_SHARED:
        if (prot & VM_WRITE) and not can_write:
            return -EACCES
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if not can_write:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    elif mtype != MAP_PRIVATE:
        return -EINVAL
    if not can_read:
        return -EACCES
    return vm_flags


def _overlaps(mm: MmStruct, start: int, end: int) -> bool:
    vma = find_vma(mm, start)
    return vma is not None and vma.vm_start < end


def _mmap_region(
    k: Kernel, mm: MmStruct, addr: int, length: int, vm_flags: int, pgoff: int, file_ino: int
) -> None:
    """do_mmap_pgoff after the checks: merge with a neighbour or link a new vma."""
    end = addr + length
    _vma, prev = find_vma_prev(mm, addr)
    merged = vma_merge(k, mm, prev, addr, end, vm_flags, file_ino, pgoff)
    if merged is None:
        vma = vl_vma_alloc(k, mm, addr, end, vm_flags, pgoff, file_ino)
        vma_link(k, mm, vma)
    mm.total_vm += length >> PAGE_SHIFT


# ---- munmap -------------------------------------------------------------------------------------


def split_vma(k: Kernel, mm: MmStruct, vma: VmArea, addr: int, new_below: int) -> int:
    """split_vma(): cut ``vma`` at ``addr``; the new piece is below (new_below) or above.

    The new vma copies the old (same anon_vma, joining its list; same file, on its i_mmap
    list); the upper piece's vm_pgoff advances by the pages cut off.

    Returns:
        0, or -ENOMEM past sysctl_max_map_count.
    """
    if mm.map_count >= sysctl_max_map_count:
        return -ENOMEM
    new = vl_vma_copy(k, vma, mm.mm_id)
    if new_below:
        new.vm_end = addr
        vma.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
        vma.vm_start = addr
    else:
        new.vm_start = addr
        new.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
        vma.vm_end = addr
    vma_link(k, mm, new, vma.vma_id)
    return 0


def do_munmap(k: Kernel, mm: MmStruct, start: int, length: int) -> int:
    """do_munmap(): remove [start, start + length) from the address space.

    Returns:
        0, -EINVAL for a bad range, or -ENOMEM when a split is refused.
    """
    if (start & ~_PAGE_MASK) or start > TASK_SIZE or length > TASK_SIZE - start:
        return -EINVAL
    length = PAGE_ALIGN(length)
    if length == 0:
        return -EINVAL
    end = start + length
    mpnt = find_vma(mm, start)
    if mpnt is None or mpnt.vm_start >= end:
        return 0
    if start > mpnt.vm_start and split_vma(k, mm, mpnt, start, 0):
        return -ENOMEM
    last = find_vma(mm, end)
    if last is not None and end > last.vm_start and split_vma(k, mm, last, end, 1):
        return -ENOMEM
    doomed = detach_vmas_to_be_unmapped(mm, start, end)
    unmap_region(k, mm, doomed, start, end)
    unmap_vma_list(k, mm, doomed)
    k.mm_oracle.mm_unmap(k, mm.mm_id, start, end)
    return 0


def detach_vmas_to_be_unmapped(mm: MmStruct, start: int, end: int) -> list[VmArea]:
    """detach_vmas_to_be_unmapped(): take the vmas inside [start, end) off the mm's list."""
    keep: list[VmArea] = []
    doomed: list[VmArea] = []
    for vma in mm.mmap:
        if vma.vm_start >= start and vma.vm_end <= end:
            doomed.append(vma)
        else:
            keep.append(vma)
    mm.mmap = keep
    mm.mmap_cache = None
    return doomed


def unmap_region(k: Kernel, mm: MmStruct, vmas: list[VmArea], start: int, end: int) -> None:
    """unmap_region(): zap the ptes, free unused page tables, flush the TLB."""
    from kernelmodel.mm.swap import lru_add_drain

    lru_add_drain(k)
    freed = unmap_vmas(k, mm, vmas, start, end)
    mm.rss -= freed
    vl_free_pgtables_hole(k, mm, start, end)
    flush_tlb_mm(k, mm.mm_id)


def vl_free_pgtables_hole(k: Kernel, mm: MmStruct, start: int, end: int) -> None:
    """free_pgtables(): free the page tables of the 4 MiB slots the hole [start, end) leaves
    unused, bounded by the vmas before and after it (the vma list is already updated)."""
    first = start & _PGDIR_MASK
    last = end + PGDIR_SIZE - 1
    prev, nxt = _hole_neighbours(mm, start, end)
    if nxt is not None and last > nxt.vm_start:
        last = nxt.vm_start
    if prev is not None and prev.vm_end > first:
        first = prev.vm_end + PGDIR_SIZE - 1
    first &= _PGDIR_MASK
    last &= _PGDIR_MASK
    if last > first:
        free_pgtables(k, mm, first, last)


def _hole_neighbours(mm: MmStruct, start: int, end: int) -> tuple[VmArea | None, VmArea | None]:
    """The last vma ending at or before ``start`` and the first starting at or after ``end``."""
    prev: VmArea | None = None
    nxt: VmArea | None = None
    for vma in mm.mmap:
        if vma.vm_end <= start:
            prev = vma
        elif vma.vm_start >= end:
            nxt = vma
            break
    return (prev, nxt)


def unmap_vma_list(k: Kernel, mm: MmStruct, vmas: list[VmArea]) -> None:
    """unmap_vma_list() / unmap_vma(): account and free each removed vma."""
    for vma in vmas:
        mm.map_count -= 1
        mm.total_vm -= vma.vl_pages()
        if TASK_UNMAPPED_BASE <= vma.vm_start < mm.free_area_cache:
            mm.free_area_cache = vma.vm_start
        remove_vm_struct(k, vma)


def exit_mmap(k: Kernel, mm: MmStruct) -> None:
    """exit_mmap(): unmap every vma, free every page table, free the vmas.

    Caller: mmput when the last user is gone (exit).
    """
    from kernelmodel.mm.swap import lru_add_drain

    lru_add_drain(k)
    vmas = mm.mmap
    freed = unmap_vmas(k, mm, vmas, 0, TASK_SIZE)
    mm.rss -= freed
    free_pgtables(k, mm, 0, TASK_SIZE)
    flush_tlb_mm(k, mm.mm_id)
    bug_on(mm.rss != 0, "exit_mmap: rss not zero after unmapping everything")
    mm.mmap = []
    mm.mmap_cache = None
    mm.total_vm = 0
    mm.map_count = 0
    for vma in vmas:
        remove_vm_struct(k, vma)


# ---- system calls -------------------------------------------------------------------------------


@final
class MmSyscallOp(Frame):
    """The frame of a memory syscall that completed at once (mmap2, munmap, msync without
    MS_SYNC, mprotect, fadvise64): before returning it deletes each inode whose last
    mapping went (the deferred iput: ``iput`` is the DeleteInodeOp it called)."""

    KIND = "mm_syscall"
    FIELDS = (("iput", "callee"),)

    def __init__(self, name: str = "mmap2", result: int = 0) -> None:
        super().__init__(name)
        self.result = result
        self.iput: KOp | None = None

    def step(self, k: Kernel, task: Task) -> int:
        if self.iput is not None:
            # the iput returned: the op resumed a step later before it was a frame, and
            # keeps that step (and its KOP_STEP_NS) so that timing is unchanged
            self.iput = None
            return KOP_CONTINUE
        self.iput = vl_drain_deferred_iput(k, task)
        return KOP_DONE if self.iput is None else KOP_CONTINUE


def _task_mm(k: Kernel, task: Task) -> MmStruct:
    mm = k.mm_registry.mms.get(task.mm_id)
    bug_on(mm is None, "mmap: task has no mm")
    assert mm is not None
    return mm


def _task_file(k: Kernel, task: Task, path: str) -> File | None:
    """The task's open file named ``path`` (programs name files by path; see syscall_abi)."""
    sb = k.sb
    for fid in task.files.values():
        f = sb.s_files.get(fid)
        if f is not None and f.f_path == path:
            return f
    return None


def sys_mmap2(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """sys_mmap2(addr, len, prot, flags, fd, pgoff): b = addr, c = length,
    d = prot | flags << 8 | pgoff << 32, s = path ("" for anonymous memory)."""
    prot, flags, pgoff = vl_unpack_mmap(insn.d)
    mm = _task_mm(k, task)
    ino = -1
    f_flags = 0
    if insn.s:
        f = _task_file(k, task, insn.s)
        if f is None:
            return MmSyscallOp("mmap2", -EBADF)
        ino = f.f_ino
        f_flags = f.f_flags
    r = do_mmap_pgoff(k, mm, ino, f_flags, insn.b, insn.c, prot, flags, pgoff)
    return MmSyscallOp("mmap2", r)


def sys_munmap(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """sys_munmap(addr, len): b = addr, c = length."""
    return MmSyscallOp("munmap", do_munmap(k, _task_mm(k, task), insn.b, insn.c))
