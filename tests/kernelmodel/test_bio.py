"""Tests for kernelmodel/fs/bio.py: submission, counters, trace, and completion in interrupt context
(reads fill frames, mark uptodate and unlock; writes end writeback)."""

from __future__ import annotations

from test_fs import boot_kernel, new_task

from kernelmodel.fs.bio import (
    END_IO_READ,
    END_IO_SWAP_READ,
    END_IO_SWAP_WRITE,
    END_IO_WRITE,
    READ,
    WRITE,
    Bio,
    submit_bio,
)
from kernelmodel.fs.fs import BLOCK_SECTORS, vl_create_file
from kernelmodel.fs.state_generated import load_bio, save_bio
from kernelmodel.include.page import Page, PageLocked, PageUptodate, PageWriteback, SetPageUptodate
from kernelmodel.include.vmstat import TR_IO_DONE, TR_IO_SUBMIT
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING
from kernelmodel.mm.alloc import vl_alloc_page
from kernelmodel.mm.filemap import add_to_page_cache_lru
from kernelmodel.mm.page_alloc import GFP_HIGHUSER
from kernelmodel.mm.page_writeback import set_page_writeback
from kernelmodel.mm.pagemap import unlock_page, vl_lock_page
from kernelmodel.oracle.oracle import oracle_file_expected

_SMALL = {"mem_mb": 4, "disk_mb": 16, "swap_mb": 4}


def _page(k: Kernel) -> Page:
    page = vl_alloc_page(k, GFP_HIGHUSER)
    assert page is not None
    return page


def _drain(k: Kernel) -> None:
    n = 0
    while k.machine.disk.queue_depth > 0:
        assert k.machine.step()
        n += 1
        assert n < 100_000


def test_read_bio_fills_frames_and_unlocks_at_completion() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 3 * 4096, "random", 5)
    pages = [_page(k) for _ in range(3)]
    for i, p in enumerate(pages):
        assert add_to_page_cache_lru(k, p, inode.i_mapping, i) == 0
    waiter = new_task(k, "w")
    waiter.state = TASK_RUNNING
    assert not vl_lock_page(k, waiter, pages[1])
    first = k.trace.next_seq
    bio_id = submit_bio(k, READ, inode.i_blocks[0] * BLOCK_SECTORS, pages, END_IO_READ)
    assert k.vmstat.pgpgin == 12 and k.vmstat.pgpgout == 0
    assert k.bios[bio_id].pfns == [p.pfn for p in pages]
    assert all(PageLocked(p) and not PageUptodate(p) for p in pages)
    _drain(k)
    assert bio_id not in k.bios
    for i, p in enumerate(pages):
        assert PageUptodate(p) and not PageLocked(p)
        assert k.machine.mem.frame_bytes(p.pfn) == oracle_file_expected(k, inode.i_ino, i)
    assert waiter.state == TASK_RUNNING and waiter.wait_key == ""
    kinds = [ev.kind for ev in k.trace.since(first)]
    assert TR_IO_SUBMIT in kinds and TR_IO_DONE in kinds
    assert k.machine.disk.requests == 1


def test_write_bio_reaches_disk_only_at_completion() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 2 * 4096, "zero", 0)
    pages = [_page(k) for _ in range(2)]
    for i, p in enumerate(pages):
        assert add_to_page_cache_lru(k, p, inode.i_mapping, i) == 0
        k.machine.mem.write(p.pfn * 4096, bytes([i + 1]) * 4096)
        SetPageUptodate(p)
        set_page_writeback(k, p)
        unlock_page(k, p)
    assert k.vmstat.nr_writeback == 2
    sector = inode.i_blocks[0] * BLOCK_SECTORS
    submit_bio(k, WRITE, sector, pages, END_IO_WRITE)
    assert k.vmstat.pgpgout == 8
    assert k.machine.disk.read_sectors(sector, 16) == bytes(8192)
    _drain(k)
    assert k.machine.disk.read_sectors(sector, 16) == b"\x01" * 4096 + b"\x02" * 4096
    assert not any(PageWriteback(p) for p in pages)
    assert k.vmstat.nr_writeback == 0


def test_swap_kinds_count_pswpin_and_pswpout() -> None:
    k = boot_kernel(**_SMALL)
    swap_sector = (16 << 20) // 512 - 64
    a = _page(k)
    a.flags |= 1  # PG_locked, as swap_readpage holds it
    submit_bio(k, READ, swap_sector, [a], END_IO_SWAP_READ)
    b = _page(k)
    set_page_writeback(k, b)
    submit_bio(k, WRITE, swap_sector + 8, [b], END_IO_SWAP_WRITE)
    assert k.vmstat.pswpin == 1 and k.vmstat.pswpout == 1
    _drain(k)
    assert PageUptodate(a) and not PageLocked(a) and not PageWriteback(b)


def test_bio_state_round_trip() -> None:
    bios = {
        7: Bio(7, WRITE, 64, [3, 4], END_IO_WRITE, 100),
        9: Bio(9, READ, 8, [5], END_IO_READ, 5),
    }
    state = [save_bio(bio) for bio in bios.values()]
    again = [load_bio(item) for item in state]
    assert [save_bio(bio) for bio in again] == state
    assert [bio.bio_id for bio in again] == [7, 9]
    assert "WRITE" in repr(again[0])
