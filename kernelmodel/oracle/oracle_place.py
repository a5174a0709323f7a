"""Where the machine holds a page the data oracle expects: the oracles' snapshot form (no
kernel counterpart or release).

The oracles (oracle.py for files, oracle_mm.py for process memory) keep every page written
since boot, whole. Almost always the machine holds the same bytes where the kernel's own
structures lead: a page-cache or user frame, a swap slot, a file's disk block. A snapshot
stores such a page as that place, (LOC_FRAME, pfn) or (LOC_DISK, first sector), instead of
its 4096 bytes; a page that differs (a model bug the oracle exists to catch, or data not yet
where it is going) keeps its bytes. Which form a page takes is a function of the state, so
state hashes stay deterministic, and restoring reads the place back from the restored RAM
and disk, so the oracle comes back with exactly the bytes it had.

In state: a flat list ``[key, place, key, place, ...]`` per kind (``in_frame``,
``on_disk``), the key being the page's id in its oracle (a page id, a file page index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from machine.i386 import PAGE_SHIFT, PAGE_SIZE, SECTOR_SIZE
from machine.state_read import read_int_list

if TYPE_CHECKING:
    from machine.disk import Disk
    from machine.physmem import PhysicalMemory

#: No place: the page is stored as bytes.
LOC_NONE: Final = 0
#: A RAM frame (pfn).
LOC_FRAME: Final = 1
#: Eight sectors on the disk (the first one).
LOC_DISK: Final = 2
#: Sectors of one page.
PAGE_SECTORS: Final = PAGE_SIZE // SECTOR_SIZE


def vl_place_pairs(state: dict[str, object], key: str, what: str) -> list[tuple[int, int]]:
    """The (key, place) pairs of ``state[key]``, a flat list of ints.

    Raises:
        ValueError: not a list of an even number of ints (``what`` names the state).
    """
    flat = read_int_list(state, key, what)
    if len(flat) % 2:
        raise ValueError(f"{what}: {key} must be a list [key, place, ...]")
    return list(zip(flat[0::2], flat[1::2], strict=True))


def vl_frame_place(mem: PhysicalMemory, pfn: int, what: str) -> int:
    """The byte offset in RAM of a stored frame place.

    Raises:
        ValueError: the frame is outside RAM.
    """
    if pfn < 0 or pfn >= mem.nframes:
        raise ValueError(f"{what}: frame {pfn} outside RAM")
    return pfn << PAGE_SHIFT


def vl_disk_place(disk: Disk, sector: int, what: str) -> bytes:
    """The page at a stored disk place.

    Raises:
        ValueError: the sectors are outside the disk.
    """
    if sector < 0 or sector + PAGE_SECTORS > disk.nsectors:
        raise ValueError(f"{what}: sector {sector} outside the disk")
    return disk.read_sectors(sector, PAGE_SECTORS)
