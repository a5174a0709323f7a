"""i386 constants shared by the hardware and the kernel model (non-PAE, two-level paging).

Linear address (CR0.PG = 1, CR4.PAE = 0)::

    31            22 21            12 11                   0
    +---------------+---------------+----------------------+
    |  PDE index    |  PTE index    |   offset in page     |
    +---------------+---------------+----------------------+

PTE / PDE bits (Intel SDM vol. 3, "32-bit paging"; include/asm-i386/pgtable.h)::

    bit  0 P    present            bit  5 A    accessed (set by the walk)
    bit  1 RW   writable           bit  6 D    dirty (PTE; set on a write)
    bit  2 US   user               bit  7 PS   4 MiB page in a PDE (unused here);
    bit  3 PWT  write-through              _PAGE_PROTNONE in a not-present PTE
    bit  4 PCD  cache disable      bit  8 G    global (survives a CR3 load)

A not-present PTE with bit 6 set is a nonlinear file pte (_PAGE_FILE); otherwise a non-zero
not-present PTE is a swap entry: type in bits 1-5, offset in bits 8-31.
"""

from __future__ import annotations

from typing import Final

PAGE_SHIFT: Final = 12
PAGE_SIZE: Final = 4096
PAGE_MASK: Final = 0xFFFFF000
PGDIR_SHIFT: Final = 22
PTRS_PER_PGD: Final = 1024
PTRS_PER_PTE: Final = 1024
ADDR_MASK: Final = 0xFFFFFFFF

#: Start of the kernel's direct mapping; user space is below (USER_PTRS_PER_PGD = 768).
PAGE_OFFSET: Final = 0xC0000000
USER_PTRS_PER_PGD: Final = 768

PTE_P: Final = 0x001
PTE_RW: Final = 0x002
PTE_US: Final = 0x004
PTE_PWT: Final = 0x008
PTE_PCD: Final = 0x010
PTE_A: Final = 0x020
PTE_D: Final = 0x040
PTE_PS: Final = 0x080
PTE_PROTNONE: Final = 0x080
PTE_G: Final = 0x100
PTE_FILE: Final = 0x040
PTE_FRAME: Final = 0xFFFFF000

#: The PDE value Linux uses for a user page table (_PAGE_TABLE = P|RW|US|A|D).
PAGE_TABLE: Final = 0x067

#: Page-fault error code bits pushed by the CPU.
FEC_PROT: Final = 0x1  # 1: protection violation, 0: not present
FEC_WRITE: Final = 0x2  # 1: write access
FEC_USER: Final = 0x4  # 1: user mode

SECTOR_SIZE: Final = 512
SECTORS_PER_PAGE: Final = 8
SECTOR_SHIFT: Final = 9
