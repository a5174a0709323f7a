"""The i386 MMU: two-level non-PAE paging with a TLB that does not snoop page-table writes.

Modelled hardware: a 486-class CPU with CR0.PG = 1, CR0.WP = 1, CR4.PGE = 1, CR4.PSE = 0 and
CR4.PAE = 0, as Linux 2.6.6 runs it (include/asm-i386/pgtable-2level.h, tlbflush.h; Intel SDM
vol. 3, "32-bit paging"). The bit layout is the one drawn in ``machine/i386.py``::

    linear address                       CR3 -> page directory (1024 PDEs, one frame)
    31        22 21        12 11       0        PDE[dir] -> page table (1024 PTEs, one frame)
    +-----------+------------+----------+        PTE[table] -> frame; paddr = frame | offset
    | dir index | table index|  offset  |
    +-----------+------------+----------+

    PDE / PTE word
    31                      12 11  9  8   7   6   5   4    3    2    1   0
    +-------------------------+-----+---+---+---+---+----+----+----+----+---+
    | frame address (pfn<<12) | avl | G |PS | D | A |PCD |PWT | US | RW | P |
    +-------------------------+-----+---+---+---+---+----+----+----+----+---+

Walk rules (the architectural ones this model implements):
    * a PDE or PTE without P gives a not-present fault: error code = W | U, CR2 = vaddr;
    * effective RW and US are the AND of the PDE's and the PTE's bits;
    * a user access needs US; any write needs RW (CR0.WP = 1, so supervisor writes to a
      read-only page fault too); a violation is a protection fault: error = P | W | U;
    * a walk sets A in a present PDE as soon as it uses it, before it reads the PTE, so the
      PDE is marked accessed even when the PTE then faults (not present, or a protection
      fault); an allowed access also sets A in the PTE and, for a write, D (read-modify-writes
      of the words in physical memory); a fault sets nothing in the PTE, and a not-present
      PDE is left as it is;
    * PS is ignored (CR4.PSE = 0) and PWT/PCD have no effect.

TLB (the model's organisation): direct-mapped, ``tlb_entries`` entries (a power of two),
indexed by ``vpn & (tlb_entries - 1)``. Entry ``i`` is ``tlb[i]``, a ``TlbEntry`` with
``vpn`` (the virtual page number, -1 when invalid) and ``word``, the cached
translation as a PTE-shaped word: frame address | P | A | effective RW | effective US | D | G,
where D says whether the entry was loaded by (or has since done) a write. One word instead of
separate pfn and flags lists saves a list load on the hit path. Rules:
    * a PTE changed in memory is not seen until ``invlpg``, a flush or a CR3 load;
    * permissions are checked against the cached word on every hit;
    * a write through an entry cached without D walks again (re-reading PDE and PTE, which
      may now fault) to set D, as the SDM requires;
    * every page fault invalidates the entry for the faulting address (SDM 4.10.4.1), so the
      retried access walks the page tables the fault handler just fixed;
    * ``load_cr3``/``flush_tlb`` drop entries without G; ``flush_tlb_global`` and ``invlpg``
      drop G entries too.

Invariants:
    * a valid TLB entry's word has P and A set and a frame inside RAM;
    * ``tlb_hits + tlb_misses`` counts ``probe``/``translate`` calls; ``page_walks`` counts
      walks (misses and D-setting re-walks); ``walk_noset`` is inspection, not a walk.
"""

from __future__ import annotations

from typing import Final, final

from mypy_extensions import i64

from machine.i386 import (
    ADDR_MASK,
    FEC_PROT,
    FEC_USER,
    FEC_WRITE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PGDIR_SHIFT,
    PTE_A,
    PTE_D,
    PTE_FRAME,
    PTE_G,
    PTE_P,
    PTE_RW,
    PTE_US,
)
from machine.physmem import MachineCheck, PhysicalMemory

__all__ = [
    "FEC_PROT",
    "FEC_USER",
    "FEC_WRITE",
    "MMU",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PTE_A",
    "PTE_D",
    "PTE_FRAME",
    "PTE_G",
    "PTE_P",
    "PTE_RW",
    "PTE_US",
    "PageFault",
    "TlbEntry",
]

_OFFSET_MASK: Final = 0xFFF
_VPN_MASK: Final = 0xFFFFF
_TABLE_MASK: Final = 0x3FF


@final
class TlbEntry:
    """One TLB entry: ``vpn`` (-1 when invalid) and ``word``, the cached translation.

    Entries are allocated once with the MMU and updated in place, so a TLB fill or
    invalidation stores two machine words and allocates nothing.
    """

    def __init__(self) -> None:
        self.vpn: i64 = -1  # state: column, key=tlb_vpn
        self.word: i64 = 0  # state: column, key=tlb_word


class PageFault(Exception):
    """Page fault (vector 14) raised by ``MMU.translate``: ``vaddr`` (CR2) and the error code."""

    def __init__(self, vaddr: int, error_code: int) -> None:
        kind = "protection" if error_code & FEC_PROT else "not-present"
        rw = "write" if error_code & FEC_WRITE else "read"
        mode = "user" if error_code & FEC_USER else "supervisor"
        super().__init__(f"page fault at {vaddr:#010x}: {kind} {rw} in {mode} mode")
        self.vaddr = vaddr
        self.error_code = error_code


def _fault_code(write: bool, user: bool) -> i64:
    """The W and U bits of a page-fault error code for an access."""
    code: i64 = 0
    if write:
        code = FEC_WRITE
    if user:
        code |= FEC_USER
    return code


@final
class MMU:
    """CR3, the two-level page walk and a direct-mapped TLB."""

    # state context: mem: PhysicalMemory from machine.physmem
    def __init__(self, mem: PhysicalMemory, tlb_entries: int = 64) -> None:
        """Create an MMU over ``mem`` with an empty TLB of ``tlb_entries`` entries.

        Raises:
            ValueError: ``tlb_entries`` is not a power of two >= 1.
        """
        if tlb_entries < 1 or (tlb_entries & (tlb_entries - 1)) != 0:
            raise ValueError(f"mmu: tlb_entries must be a power of two >= 1, got {tlb_entries}")
        self.mem: PhysicalMemory = mem
        self.cr3: i64 = 0  # state
        self.tlb_entries: int = tlb_entries  # state
        self.tlb_mask: i64 = tlb_entries - 1
        # the whole TLB, stale entries too (they are state): one column per entry field
        self.tlb: list[TlbEntry] = [TlbEntry() for _ in range(tlb_entries)]  # state: columns
        #: CR2 and the error code of the last fault ``probe`` reported.
        self.fault_vaddr: i64 = 0  # state
        self.fault_error: i64 = 0  # state
        self.tlb_hits: i64 = 0  # state
        self.tlb_misses: i64 = 0  # state
        self.page_walks: i64 = 0  # state
        self.tlb_flushes: i64 = 0  # state
        self.invlpgs: i64 = 0  # state

    # ---- translation --------------------------------------------------------------------------

    def probe(self, vaddr: i64, write: bool, user: bool) -> i64:
        """Translate an access without raising: the CPU's fast path.

        Args:
            vaddr: linear address (taken modulo 2**32).
            write: the access is a write.
            user: the access is made in user mode (CPL 3).

        Returns:
            The physical address, or -1 after setting ``fault_vaddr`` and ``fault_error``.
        """
        vaddr &= ADDR_MASK
        vpn = vaddr >> PAGE_SHIFT
        slot = vpn & self.tlb_mask  # a local index: mypyc reads the list without a reference
        entry = self.tlb[slot]
        if entry.vpn == vpn:
            word = entry.word
            need: i64 = 0
            if write:
                need = PTE_RW | PTE_D
            if user:
                need |= PTE_US
            if (word & need) == need:
                self.tlb_hits += 1
                return (word & PTE_FRAME) | (vaddr & _OFFSET_MASK)
            return self._hit_slow(vaddr, word, write, user)
        self.tlb_misses += 1
        return self._walk(vaddr, write, user)

    def translate(self, vaddr: i64, write: bool, user: bool) -> i64:
        """Translate an access like ``probe`` but raise on a fault.

        Raises:
            PageFault: the access faults (``vaddr`` is CR2, ``error_code`` the pushed code).
        """
        paddr = self.probe(vaddr, write, user)
        if paddr < 0:
            raise PageFault(int(self.fault_vaddr), int(self.fault_error))
        return paddr

    def _hit_slow(self, vaddr: i64, word: i64, write: bool, user: bool) -> i64:
        """A TLB hit whose cached word does not allow the access outright."""
        self.tlb_hits += 1
        if (user and (word & PTE_US) == 0) or (write and (word & PTE_RW) == 0):
            return self._fault(vaddr, FEC_PROT | _fault_code(write, user))
        # A write through an entry cached clean: walk again to set D in the PTE.
        return self._walk(vaddr, write, user)

    def _fault(self, vaddr: i64, error_code: i64) -> i64:
        """Record a page fault (CR2, error code) and drop the TLB entry for ``vaddr``."""
        vpn = vaddr >> PAGE_SHIFT
        slot = vpn & self.tlb_mask
        entry = self.tlb[slot]
        if entry.vpn == vpn:
            entry.vpn = -1
        self.fault_vaddr = vaddr
        self.fault_error = error_code
        return -1

    def _walk(self, vaddr: i64, write: bool, user: bool) -> i64:
        """Walk the page tables for ``vaddr``, set A/D, fill the TLB; -1 on a fault."""
        self.page_walks += 1
        mem = self.mem
        pde_addr = self.cr3 + ((vaddr >> PGDIR_SHIFT) << 2)
        pde = i64(mem.read_u32(pde_addr))
        if (pde & PTE_P) == 0:
            return self._fault(vaddr, _fault_code(write, user))
        if (pde & PTE_A) == 0:
            # set as soon as the PDE is used, before the PTE is read: a fault at the PTE
            # leaves the PDE accessed (SDM vol. 3, "Accessed and Dirty Flags")
            mem.write_u32(pde_addr, pde | PTE_A)
        pte_addr = (pde & PTE_FRAME) + (((vaddr >> PAGE_SHIFT) & _TABLE_MASK) << 2)
        pte = i64(mem.read_u32(pte_addr))
        if (pte & PTE_P) == 0:
            return self._fault(vaddr, _fault_code(write, user))
        rw = pde & pte & PTE_RW
        us = pde & pte & PTE_US
        if (user and us == 0) or (write and rw == 0):
            return self._fault(vaddr, FEC_PROT | _fault_code(write, user))
        if (pte >> PAGE_SHIFT) >= mem.nframes:
            raise MachineCheck(
                f"machine check: PTE {pte:#010x} for {vaddr:#010x} maps a frame beyond RAM"
            )
        new = pte | PTE_A
        if write:
            new |= PTE_D
        if new != pte:
            mem.write_u32(pte_addr, new)
        frame = pte & PTE_FRAME
        vpn = vaddr >> PAGE_SHIFT
        slot = vpn & self.tlb_mask
        entry = self.tlb[slot]
        entry.vpn = vpn
        entry.word = frame | PTE_P | PTE_A | rw | us | (new & PTE_D) | (pte & PTE_G)
        return frame | (vaddr & _OFFSET_MASK)

    # ---- control ------------------------------------------------------------------------------

    def load_cr3(self, paddr: int) -> None:
        """mov %cr3: switch page directory and flush the non-global TLB entries.

        Caller: ``paddr`` is the page-aligned physical address of a page directory.

        Raises:
            ValueError: ``paddr`` is not page-aligned or outside 32 bits.
        """
        if paddr < 0 or paddr > ADDR_MASK or (paddr & _OFFSET_MASK) != 0:
            raise ValueError(f"mmu: load_cr3({paddr:#x}): not a page-aligned physical address")
        self.cr3 = paddr
        self.flush_tlb()

    def invlpg(self, vaddr: int) -> None:
        """__flush_tlb_one(): drop the TLB entry for ``vaddr``, global or not."""
        vpn = (i64(vaddr) & ADDR_MASK) >> PAGE_SHIFT
        slot = vpn & self.tlb_mask
        entry = self.tlb[slot]
        if entry.vpn == vpn:
            entry.vpn = -1
        self.invlpgs += 1

    def flush_tlb(self) -> None:
        """__flush_tlb(): drop every TLB entry without G (what a CR3 reload does)."""
        for entry in self.tlb:
            if (entry.word & PTE_G) == 0:
                entry.vpn = -1
        self.tlb_flushes += 1

    def flush_tlb_global(self) -> None:
        """__flush_tlb_global(): drop every TLB entry, global ones included."""
        for entry in self.tlb:
            entry.vpn = -1
        self.tlb_flushes += 1

    # ---- inspection ---------------------------------------------------------------------------

    def tlb_entry(self, vaddr: int) -> tuple[int, int] | None:
        """The cached ``(pfn, flags)`` for ``vaddr``'s page, or None if the TLB misses."""
        vpn = (i64(vaddr) & ADDR_MASK) >> PAGE_SHIFT
        slot = vpn & self.tlb_mask
        entry = self.tlb[slot]
        if entry.vpn != vpn:
            return None
        word = entry.word
        return (int(word >> PAGE_SHIFT), int(word & _OFFSET_MASK))

    def walk_noset(self, vaddr: int) -> tuple[int, int]:
        """Read ``(pde, pte)`` for ``vaddr`` from memory without setting A/D or using the TLB.

        Returns:
            The PDE word and the PTE word; the PTE is 0 when the PDE is not present.
        """
        va = i64(vaddr) & ADDR_MASK
        pde = self.mem.read_u32(self.cr3 + ((va >> PGDIR_SHIFT) << 2))
        if (pde & PTE_P) == 0:
            return (pde, 0)
        pte = self.mem.read_u32((pde & PTE_FRAME) + (((va >> PAGE_SHIFT) & _TABLE_MASK) << 2))
        return (pde, pte)

    @property
    def tlb_vpn(self) -> list[int]:
        """Each entry's virtual page number (-1 when invalid), as a new list."""
        return [int(e.vpn) for e in self.tlb]

    @property
    def tlb_word(self) -> list[int]:
        """Each entry's cached translation word, as a new list."""
        return [int(e.word) for e in self.tlb]

    def __repr__(self) -> str:
        valid = sum(1 for e in self.tlb if e.vpn >= 0)
        return f"<mmu cr3={self.cr3:#x} tlb={valid}/{self.tlb_entries}>"
