"""Block I/O: bios, their submission and their completion (fs/bio.c, drivers/block/ll_rw_blk.c).

A ``Bio`` is one request for physically contiguous sectors covering one or more whole pages.
``submit_bio`` hands it to the disk (``generic_make_request`` -> ``__make_request``), whose
elevator either queues it as a new request or merges it into a queued one that it directly
follows or precedes (machine/disk.py), and ``bio_endio_request`` runs when the disk interrupt
reports a request complete: it ends every bio the request carries, in sector order.

The bio table ``k.bios`` maps the bio's id to the bio. The id is the tag the disk gave the
submission (``DiskRequest.tags``), so the ids are stable across a snapshot: they come from the
disk's own counter.

Completion runs in "interrupt context": it never sleeps; it wakes waiters through
``unlock_page`` (reads) and ``end_page_writeback`` (writes), as the kernel's bi_end_io
handlers do.

Counters (submit_bio, as 2.6.6): ``pgpgin`` / ``pgpgout`` in KiB (the kernel counts sectors
and /proc/vmstat halves them), and for swap I/O ``pswpin`` / ``pswpout`` per page at
submission (swap_readpage / swap_writepage).

Model simplifications: the disk never fails, so BIO_UPTODATE is always set and the error
paths (ClearPageUptodate, SetPageError) are never taken; a write's data is taken from the
frames at submission (the disk copies the payload then), not at service time.

Invariants:
    * every bio in ``k.bios`` is a tag of a request the disk holds (queued or in service);
    * the pages of a read bio are locked; the pages of a write bio are under writeback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.page import Page, SetPageUptodate
from kernelmodel.include.vmstat import TR_IO_DONE, TR_IO_SUBMIT
from kernelmodel.mm.pagemap import unlock_page

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.disk import DiskRequest

READ: Final = 0
WRITE: Final = 1

#: bi_end_io kinds.
END_IO_READ: Final = 0
END_IO_WRITE: Final = 1
END_IO_SWAP_READ: Final = 2
END_IO_SWAP_WRITE: Final = 3
END_IO_NAMES: Final = ("mpage_end_io_read", "mpage_end_io_write", "end_swap_bio_read",
                       "end_swap_bio_write")

SECTORS_PER_PAGE: Final = 8
PAGE_SIZE: Final = 4096


@final
class Bio:
    """struct bio (include/linux/bio.h), reduced to what the model uses.

    Attributes:
        bio_id: the disk request id.
        rw: READ or WRITE.
        sector: bi_sector, the first sector.
        pfns: the pages of the bio_vec, in order (one whole page each).
        end_io: the bi_end_io kind (END_IO_*).
        submit_ns: simulated time of submission.
    """

    def __init__(self, bio_id: int, rw: int, sector: int, pfns: list[int], end_io: int,
                 submit_ns: int) -> None:
        self.bio_id: int = bio_id  # state
        self.rw: int = rw  # state
        self.sector: int = sector  # state
        self.pfns: list[int] = pfns  # state
        self.end_io: int = end_io  # state
        self.submit_ns: int = submit_ns  # state

    def __repr__(self) -> str:
        rw = "WRITE" if self.rw == WRITE else "READ"
        return (f"<bio {self.bio_id} {rw} sector={self.sector} pages={len(self.pfns)} "
                f"end_io={END_IO_NAMES[self.end_io]}>")

    def vl_check_state(self) -> None:
        """The loader's check across fields: a known completion kind."""
        if self.end_io < 0 or self.end_io >= len(END_IO_NAMES):
            raise ValueError(f"bio state: unknown end_io {self.end_io}")


def submit_bio(k: Kernel, rw: int, sector: int, pages: list[Page], end_io: int) -> int:
    """submit_bio: send one request covering ``pages`` (whole pages) starting at ``sector``.

    Args:
        rw: READ or WRITE.
        sector: first sector; the pages cover ``8 * len(pages)`` contiguous sectors.
        pages: locked pages for a read; pages under writeback for a write.
        end_io: the completion handler kind (END_IO_*).

    Returns:
        The bio id (the disk request id).
    """
    bug_on(not pages, "submit_bio: empty bio")
    disk = k.machine.disk
    nsect = len(pages) * SECTORS_PER_PAGE
    write = rw == WRITE
    data = b""
    if write:
        mem = k.machine.mem
        data = b"".join([mem.frame_bytes(p.pfn) for p in pages])
    pfns = [p.pfn for p in pages]
    req_id = disk.submit(sector, nsect, write, data, pfns[0])
    k.bios[req_id] = Bio(req_id, rw, sector, pfns, end_io, k.now())
    kib = nsect >> 1
    if write:
        k.vmstat.pgpgout += kib
        if end_io == END_IO_SWAP_WRITE:
            k.vmstat.pswpout += len(pages)
    else:
        k.vmstat.pgpgin += kib
        if end_io == END_IO_SWAP_READ:
            k.vmstat.pswpin += len(pages)
    k.trace.emit(k.now(), TR_IO_SUBMIT, k.current, sector, nsect, "W" if write else "R")
    return req_id


def bio_endio_request(k: Kernel, req: DiskRequest) -> None:
    """The disk interrupt for a finished request: end_that_request_first on each of its bios.

    A merged request carries several bios (``req.tags``); each gets its bi_end_io in sector
    order. A read's bytes are copied into the frames, then each page is made uptodate and
    unlocked; a write's pages end writeback. Runs in interrupt context: never sleeps.
    """
    for tag in req.tags:
        bio = k.bios.pop(tag, None)
        if bio is None:  # the message is formatted only then (once per completed bio)
            raise KernelBug(f"bio_endio_request: no bio for disk request {req.req_id} tag {tag}")
        k.trace.emit(k.now(), TR_IO_DONE, k.current, bio.sector,
                     len(bio.pfns) * SECTORS_PER_PAGE, "W" if bio.rw == WRITE else "R")
        if bio.rw == READ:
            off = (bio.sector - req.sector) * 512
            _end_io_read(k, bio, req.data[off : off + len(bio.pfns) * PAGE_SIZE])
        else:
            _end_io_write(k, bio)


def _end_io_read(k: Kernel, bio: Bio, data: bytes) -> None:
    """mpage_end_io_read / end_swap_bio_read: fill the frames, SetPageUptodate, unlock_page."""
    mem = k.machine.mem
    pages = k.mem_map.pages
    off = 0
    for pfn in bio.pfns:
        mem.write(pfn * PAGE_SIZE, data[off : off + PAGE_SIZE])
        off += PAGE_SIZE
        page = pages[pfn]
        SetPageUptodate(page)
        unlock_page(k, page)


def _end_io_write(k: Kernel, bio: Bio) -> None:
    """mpage_end_io_write / end_swap_bio_write: end_page_writeback on every page."""
    from kernelmodel.mm.filemap_wb import end_page_writeback

    pages = k.mem_map.pages
    for pfn in bio.pfns:
        end_page_writeback(k, pages[pfn])
