"""Address spaces: struct mm_struct, struct vm_area_struct and struct anon_vma (2.6.7).

Sources: include/linux/sched.h (mm_struct), include/linux/mm.h (vm_area_struct, VM_* flags)
and include/linux/rmap.h (anon_vma) as of 2.6.7. The object-based reverse mapping (anon_vma
for anonymous pages, i_mmap for file pages) is the design the 2.6.6 development cycle
produced (Hugh Dickins' rmap series and Andrea Arcangeli's anon_vma, rmap 39/40); it shipped
in mainline 2.6.7, not 2.6.6, which still ran per-page pte chains.

The kernel links these structures with pointers; the model links them with stable ids so that
every one of them is plain data:

* ``MmStruct.mmap`` is the address-ordered list of the mm's ``VmArea`` objects (the kernel's
  ``mmap`` list plus ``mm_rb`` tree; ``find_vma`` bisects the list);
* ``VmArea.vm_mm`` is the owning mm's id; ``VmArea.anon_vma`` an anon_vma id or -1;
  ``VmArea.vm_file`` the mapped inode number or -1;
* ``AnonVma.head`` is the list of vma ids linked through ``anon_vma_node``;
* ``VlMmRegistry`` stands for the slab caches (mm_cachep, vm_area_cachep, anon_vma_cachep):
  every live mm, vma and anon_vma by id, plus the mm loaded in CR3 and the page-table
  frames' owners.

Invariants:
    * ``mm.mmap`` is sorted by ``vm_start``; its vmas do not overlap; ``map_count == len(mmap)``;
    * every vma has ``vm_start < vm_end``, both page aligned, below TASK_SIZE;
    * a vma with ``anon_vma >= 0`` appears exactly once in that anon_vma's ``head``; an anon_vma
      with an empty ``head`` does not exist (anon_vma_unlink frees it);
    * ``mmap_cache`` is None or one of ``mmap``'s vmas.
"""

from __future__ import annotations

from typing import Final, final

from kernelmodel.include.bug import KernelBug
from machine.i386 import PAGE_OFFSET, PAGE_SHIFT

# ---- vm_flags (2.6.6/2.6.7 include/linux/mm.h) -------------------------------------------------

VM_READ: Final = 0x00000001
VM_WRITE: Final = 0x00000002
VM_EXEC: Final = 0x00000004
VM_SHARED: Final = 0x00000008
VM_MAYREAD: Final = 0x00000010
VM_MAYWRITE: Final = 0x00000020
VM_MAYEXEC: Final = 0x00000040
VM_MAYSHARE: Final = 0x00000080
VM_GROWSDOWN: Final = 0x00000100
VM_GROWSUP: Final = 0x00000200
VM_SHM: Final = 0x00000400
VM_DENYWRITE: Final = 0x00000800
VM_EXECUTABLE: Final = 0x00001000
VM_LOCKED: Final = 0x00002000
VM_IO: Final = 0x00004000
VM_SEQ_READ: Final = 0x00008000
VM_RAND_READ: Final = 0x00010000
VM_DONTCOPY: Final = 0x00020000
VM_DONTEXPAND: Final = 0x00040000
VM_RESERVED: Final = 0x00080000
VM_ACCOUNT: Final = 0x00100000
VM_HUGETLB: Final = 0x00400000
VM_NONLINEAR: Final = 0x00800000

#: End of user space (include/asm-i386/processor.h: TASK_SIZE = PAGE_OFFSET).
TASK_SIZE: Final = PAGE_OFFSET
#: Where get_unmapped_area starts its search (PAGE_ALIGN(TASK_SIZE / 3)).
TASK_UNMAPPED_BASE: Final = 0x40000000

#: sizeof(struct vm_area_struct) on i386: 64 bytes in 2.6.6, 84 in 2.6.7 (anon_vma_node,
#: anon_vma and the prio-tree union); the difference is what object rmap costs per vma.
SIZEOF_VMA_266: Final = 64
SIZEOF_VMA_267: Final = 84
VMA_RMAP_BYTES: Final = SIZEOF_VMA_267 - SIZEOF_VMA_266
#: sizeof(struct anon_vma) on a uniprocessor i386 (an empty spinlock and a list_head).
SIZEOF_ANON_VMA: Final = 8
#: sizeof(struct anonmm) on a uniprocessor i386 (rmap 10): count, an empty spinlock, mm, head
#: and a list_head.
SIZEOF_ANONMM: Final = 20

_NO_ID: Final = -1


def vl_pfn_id_pairs(value: object, nframes: int, what: str) -> list[tuple[int, int]]:
    """A snapshot's flat ``[pfn, id, pfn, id, ...]`` list (the object each anonymous page's
    ``mapping`` names) as checked pairs.

    Raises:
        ValueError: not such a list of ints, or a pfn outside mem_map (``what`` names it).
    """
    if not isinstance(value, list) or len(value) % 2:
        raise ValueError(f"{what} must be [pfn, id, ...]")
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(value):
        pfn = value[i]
        obj_id = value[i + 1]
        if not isinstance(pfn, int) or not isinstance(obj_id, int):
            raise ValueError(f"{what}: entries must be ints")
        if pfn < 0 or pfn >= nframes:
            raise ValueError(f"{what}: frame {pfn} outside memory")
        out.append((pfn, obj_id))
        i += 2
    return out


@final
class VmArea:
    """struct vm_area_struct (include/linux/mm.h, 2.6.7 fields the model uses).

    Attributes:
        vma_id: stable id (the model's name for the vma's address).
        vm_mm: id of the owning mm_struct.
        vm_start, vm_end: the page-aligned range [vm_start, vm_end).
        vm_flags: VM_* bits.
        vm_page_prot: the pte protection bits of protection_map[vm_flags & 0xf].
        vm_pgoff: offset of vm_start in PAGE_SIZE units: in the file for a file mapping, and
            ``vm_start >> PAGE_SHIFT`` for private anonymous memory (2.6.7 sets it so that an
            anonymous page's index is linear, see vma_address).
        vm_file: inode number of the mapped file, or -1 for anonymous memory.
        anon_vma: id of the anon_vma the vma is linked on, or -1 (none yet).
    """

    def __init__(
        self,
        vma_id: int,
        vm_mm: int,
        vm_start: int,
        vm_end: int,
        vm_flags: int,
        vm_page_prot: int,
        vm_pgoff: int,
        vm_file: int = _NO_ID,
    ) -> None:
        self.vma_id: int = vma_id  # state
        self.vm_mm: int = vm_mm  # state
        self.vm_start: int = vm_start  # state
        self.vm_end: int = vm_end  # state
        self.vm_flags: int = vm_flags  # state
        self.vm_page_prot: int = vm_page_prot  # state
        self.vm_pgoff: int = vm_pgoff  # state
        self.vm_file: int = vm_file  # state
        self.anon_vma: int = _NO_ID  # state

    def vl_pages(self) -> int:
        """Length of the vma in pages."""
        return (self.vm_end - self.vm_start) >> PAGE_SHIFT

    def __repr__(self) -> str:
        return (
            f"<vma #{self.vma_id} mm={self.vm_mm} {self.vm_start:#010x}-{self.vm_end:#010x} "
            f"flags={self.vm_flags:#x} pgoff={self.vm_pgoff} file={self.vm_file} "
            f"anon_vma={self.anon_vma}>"
        )


@final
class AnonVma:
    """struct anon_vma (include/linux/rmap.h, 2.6.7; Andrea Arcangeli's design).

    ``head`` lists the ids of the vmas that may map pages whose ``mapping`` is this anon_vma:
    the vma that first faulted, its fork copies, and their split pieces. New vmas are added at
    the front (``list_add``), so walks visit the newest first. There is no reference count: the
    anon_vma is freed when ``head`` becomes empty.
    """

    def __init__(self, anon_vma_id: int) -> None:
        self.anon_vma_id: int = anon_vma_id  # state
        self.head: list[int] = []  # state

    def vl_describe(self) -> str:
        """Short text for page reprs."""
        return f"anon_vma#{self.anon_vma_id}"

    def __repr__(self) -> str:
        return f"<anon_vma #{self.anon_vma_id} vmas={self.head}>"


@final
class AnonMm:
    """struct anonmm (mm/rmap.c at "rmap 10 add anonmm rmap", 2.6.7-rc1; Hugh Dickins' design,
    replaced by anon_vma within the same merge).

    One per mm. ``exec`` starts a bundle whose head is the new mm's anonmm; ``fork`` adds the
    child's anonmm to the parent's bundle. An anonymous page points at the anonmm of the mm
    it was first mapped in, with ``page.index`` its (page-aligned) virtual address, and holds
    a reference on it.

    Attributes:
        anonmm_id: stable id.
        count: references: 1 for the mm while it lives, 1 per page whose ``mapping`` this is,
            and on a bundle head 1 of its own plus 1 per other member.
        mm: id of the mm, or -1 once it exited ("NULL when gone").
        head: id of the bundle's head anonmm (itself for a head).
        members: on a head only, the other anonmms of the bundle in list order (the kernel's
            circular ``list`` threaded through every member, starting after the head).
    """

    def __init__(self, anonmm_id: int, mm: int, head: int) -> None:
        self.anonmm_id: int = anonmm_id  # state
        self.count: int = 0  # state
        self.mm: int = mm  # state
        self.head: int = head  # state
        self.members: list[int] = []  # state

    def vl_describe(self) -> str:
        """Short text for page reprs."""
        return f"anonmm#{self.anonmm_id}"

    def __repr__(self) -> str:
        return f"<anonmm #{self.anonmm_id} mm={self.mm} head={self.head} count={self.count}>"


@final
class MmStruct:
    """struct mm_struct (include/linux/sched.h): one address space.

    Attributes:
        mm_id: stable id (tasks refer to it through ``Task.mm_id``).
        pgd: pfn of the page-directory frame (the kernel keeps its virtual address).
        mmap: the vmas in address order.
        mmap_cache: the last vma find_vma returned, or None.
        rss: resident pages mapped by present ptes (anonymous and file; not ZERO_PAGE).
        map_count: number of vmas.
        mm_users: tasks using the mm (always 1 here: no CLONE_VM threads are modelled).
        total_vm: pages covered by vmas.
        nr_ptes: page-table frames allocated (model bookkeeping; 2.6.6 counts them only
            globally in nr_page_table_pages).
        free_area_cache: where get_unmapped_area resumes its search.
        anonmm: id of Hugh Dickins' struct anonmm in the anonmm rmap profile; -1 otherwise.
    """

    def __init__(self, mm_id: int, pgd: int) -> None:
        self.mm_id: int = mm_id  # state
        self.pgd: int = pgd  # state
        self.mmap: list[VmArea] = []  # state: ref=vma_id
        self.mmap_cache: VmArea | None = None  # state: ref=vma_id
        self.rss: int = 0  # state
        self.map_count: int = 0  # state
        self.mm_users: int = 1  # state
        self.total_vm: int = 0  # state
        self.nr_ptes: int = 0  # state
        self.free_area_cache: int = TASK_UNMAPPED_BASE  # state
        self.anonmm: int = _NO_ID  # state

    def __repr__(self) -> str:
        return (
            f"<mm #{self.mm_id} pgd={self.pgd:#x} vmas={self.map_count} rss={self.rss} "
            f"ptes={self.nr_ptes}>"
        )


@final
class VlMmRegistry:
    """Every live mm, vma and anon_vma by id, and the memory code's globals (model only).

    The kernel allocates these structures from slab caches and reaches them by pointer; the
    model keeps them here so that ids resolve and a snapshot can store them.

    Attributes:
        mms, vmas, anon_vmas: live objects by id (insertion order is creation order).
        next_mm_id, next_vma_id, next_anon_vma_id: id counters (ids are never reused).
        active_mm: id of the mm whose page directory is in CR3, or -1 (no user mm: CR3 holds
            the all-zero ZERO_PAGE frame, which as a page directory maps nothing and stands
            for swapper_pg_dir).
        pt_owner: page-table frame -> id of the mm it belongs to.
        deferred_iput: inodes whose last reference a removed vma dropped while unlinked: the
            current task's syscall or exit op deletes them (generic_delete_inode may sleep).
    """

    def __init__(self) -> None:
        self.mms: dict[int, MmStruct] = {}  # state: keyed=mm_id
        self.vmas: dict[int, VmArea] = {}  # state: keyed=vma_id
        self.anon_vmas: dict[int, AnonVma] = {}  # state: keyed=anon_vma_id
        # the anonmms are saved with the pages that point at them (rmap_anonmm.am_to_state)
        self.anonmms: dict[int, AnonMm] = {}
        self.next_anonmm_id: int = 1
        self.next_mm_id: int = 1  # state
        self.next_vma_id: int = 1  # state
        self.next_anon_vma_id: int = 1  # state
        self.active_mm: int = _NO_ID  # state
        self.pt_owner: dict[int, int] = {}  # state
        self.deferred_iput: list[int] = []  # state

    def mm(self, mm_id: int) -> MmStruct:
        """The live mm ``mm_id`` (a BUG if there is none)."""
        mm = self.mms.get(mm_id)
        if mm is None:  # the message is formatted only then: this lookup is hot
            raise KernelBug(f"VlMmRegistry.mm: no mm {mm_id}")
        return mm

    def vma(self, vma_id: int) -> VmArea:
        """The live vma ``vma_id`` (a BUG if there is none)."""
        vma = self.vmas.get(vma_id)
        if vma is None:
            raise KernelBug(f"VlMmRegistry.vma: no vma {vma_id}")
        return vma

    def anon_vma(self, anon_vma_id: int) -> AnonVma:
        """The live anon_vma ``anon_vma_id`` (a BUG if there is none)."""
        av = self.anon_vmas.get(anon_vma_id)
        if av is None:
            raise KernelBug(f"VlMmRegistry.anon_vma: no anon_vma {anon_vma_id}")
        return av

    def __repr__(self) -> str:
        return (
            f"<mm registry mms={len(self.mms)} vmas={len(self.vmas)} "
            f"anon_vmas={len(self.anon_vmas)} active_mm={self.active_mm}>"
        )
