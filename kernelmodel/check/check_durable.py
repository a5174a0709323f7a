"""The disk against the data oracle where the oracle names a place: bytes an integrity sync
acknowledged must be in the file's disk block (model only; no kernel counterpart: it checks
the promise of 2.6.6's fsync, fdatasync, sync and msync(MS_SYNC)).

``oracle.vl_verify_durable`` asks this after a power cut, to count what was lost. Between
two events of a run the answer is already known: on the tag-based writeback (2.6.6, 2.6.7)
a sync returns only once its pages are on the medium, so every acknowledged page that did
not change since is there, at the block its inode maps (zeros for a hole). 2.6.5's list
writeback has two windows where a sync returns early (races A and B of fsync-race-a/-b):
the page is then still in the page cache, locked or under writeback, on its way to the
disk. A restored state whose disk disagrees anywhere else was damaged or forged: the disk
lost bytes the oracle says were made durable. Used by ``restore.vl_restore_problems`` only
(it reads a block per acknowledged page, too slow for the after-every-event checker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.include.page import M_locked, M_writeback
from kernelmodel.oracle.oracle import PAGE_SIZE, vl_acked_on_disk, vl_compare

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

def _on_its_way(k: Kernel, ino: int, index: int) -> bool:
    """2.6.5's early-return windows: the page is cached and locked or under writeback."""
    from kernelmodel.mm.filemap import vl_find_page_nolock

    if k.cfg.writeback != "lists":
        return False
    inode = k.sb.s_inodes[ino]
    page = vl_find_page_nolock(inode.i_mapping, index)
    return page is not None and (page.flags & (M_locked | M_writeback)) != 0


def check_durable(k: Kernel) -> list[str]:
    """The first acknowledged, unchanged page the disk does not hold (as a one-item list)."""
    for p in vl_acked_on_disk(k, skip_freeing=True):
        if p.limit == PAGE_SIZE and p.want == p.got:
            continue  # the usual answer, without vl_compare's copies
        bad = vl_compare(p.want, p.got, p.limit)
        if bad >= 0 and not _on_its_way(k, p.ino, p.index):
            where = f"disk block {p.block}" if p.block >= 0 else "a hole"
            return [f"inode {p.ino} ({p.path}) page {p.index}: acknowledged by a sync, "
                    f"but byte {bad} differs in {where}"]
    return []
