"""The filesystem's metadata against itself: the block bitmap against the inodes' extents,
the free count, the sizes, the names and the open files (model only; it checks the rules of
the ext2-like filesystem of fs.py, no kernel function of its own).

The model keeps its metadata in memory only and treats it as always durable (fs.py), so a
restored state is the only way it can come back wrong: a hand-edited snapshot with a
recomputed hash can mark a block in use that no inode holds, give one block to two files,
map a page to a free block or to the swap area, or lose count of the free blocks. The first
contradiction is named; a forged filesystem that contradicts nothing is accepted.

Checked (fs/ext2/balloc.c, fs/ext2/inode.c, fs/inode.c, 2.6.6; fs.py's invariants):
    * ``s_nblocks`` is what mkfs gives the disk next to its swap area, so no data block lies
      in the swap area; ``s_next_block`` (the allocation cursor) is a data block;
    * every block an inode maps is a data block (1 .. s_nblocks-1) held by that one inode at
      that one page index (no block in two extents), and is marked in the bitmap (no extent
      on a free block);
    * the bitmap marks block 0 and no other block that no inode holds (no allocated block
      owned by nobody), and ``s_free_blocks`` counts its free blocks;
    * an inode's blocks lie at page indices >= 0 (not below ``ceil(i_size / 4096)``: the
      write path allocates a block in one step and extends i_size in a later one, so a
      block past the size is a state a run reaches);
    * ``s_names`` names live inodes with ``i_nlink == 1``; an unlinked inode (``i_nlink ==
      0``) stays only while open or being freed; ``i_count`` covers the open files naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.fs.fs import FIRST_DATA_BLOCK, I_FREEING, vl_fs_nblocks

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel


def _check_layout(k: Kernel, out: list[str]) -> bool:
    sb = k.sb
    want = max(vl_fs_nblocks(k.machine.disk.nsectors * 512, k.cfg.swap_bytes), 2)
    if sb.s_nblocks != want:
        out.append(f"super_block: s_nblocks {sb.s_nblocks}, but the disk and swap size give "
                   f"{want}")
        return False
    if not FIRST_DATA_BLOCK <= sb.s_next_block < sb.s_nblocks:
        out.append(f"super_block: s_next_block {sb.s_next_block} is not a data block "
                   f"({FIRST_DATA_BLOCK}..{sb.s_nblocks - 1})")
        return False
    return True


def _check_extents(k: Kernel, out: list[str]) -> dict[int, tuple[int, int]] | None:
    """block -> (inode, page index) over every inode; None after the first contradiction."""
    sb = k.sb
    owner: dict[int, tuple[int, int]] = {}
    bitmap = sb.s_bitmap
    for ino, inode in sb.s_inodes.items():
        for index, block in inode.i_blocks.items():
            if block < FIRST_DATA_BLOCK or block >= sb.s_nblocks:
                out.append(f"inode {ino} page {index}: block {block} is outside the "
                           f"filesystem ({FIRST_DATA_BLOCK}..{sb.s_nblocks - 1})")
                return None
            if block in owner:
                other = owner[block]
                out.append(f"block {block}: in inode {ino} page {index} and inode {other[0]} "
                           f"page {other[1]}")
                return None
            if bitmap[block] != 1:
                out.append(f"block bitmap: block {block} held by inode {ino} page {index} but "
                           f"not marked in use")
                return None
            if index < 0:
                out.append(f"inode {ino}: block {block} at page index {index}")
                return None
            owner[block] = (ino, index)
    return owner


def _check_bitmap(k: Kernel, owner: dict[int, tuple[int, int]], out: list[str]) -> None:
    sb = k.sb
    bitmap = sb.s_bitmap
    if bitmap[0] != 1:
        out.append("block bitmap: block 0 (the superblock) is not marked in use")
        return
    used = len(bitmap) - bitmap.count(0)
    if used != len(owner) + 1:
        for block in range(FIRST_DATA_BLOCK, sb.s_nblocks):
            if bitmap[block] != 0 and block not in owner:
                out.append(f"block bitmap: block {block} marked in use but no inode holds it")
                return
        out.append("block bitmap: holds a byte other than 0 or 1")
        return
    if sb.s_free_blocks != sb.s_nblocks - used:
        out.append(f"super_block: s_free_blocks {sb.s_free_blocks}, but the bitmap has "
                   f"{sb.s_nblocks - used} free blocks")


def _check_names(k: Kernel, out: list[str]) -> None:
    sb = k.sb
    named: set[int] = set()
    for path, ino in sb.s_names.items():
        inode = sb.s_inodes.get(ino)
        if inode is None or inode.i_nlink != 1 or ino in named:
            out.append(f"s_names: {path!r} names inode {ino}, which is not a live linked inode "
                       f"named once")
            return
        named.add(ino)
    opened: dict[int, int] = {}
    for f in sb.s_files.values():
        opened[f.f_ino] = opened.get(f.f_ino, 0) + 1
    for ino, inode in sb.s_inodes.items():
        if inode.i_nlink not in (0, 1) or (inode.i_nlink == 1) != (ino in named):
            out.append(f"inode {ino}: i_nlink {inode.i_nlink} disagrees with s_names")
            return
        files = opened.get(ino, 0)
        if inode.i_count < files:
            out.append(f"inode {ino}: i_count {inode.i_count} below its {files} open files")
            return
        if inode.i_nlink == 0 and inode.i_count == 0 and not inode.i_state & I_FREEING:
            out.append(f"inode {ino}: unlinked, not open and not being freed")
            return


def check_fs(k: Kernel) -> list[str]:
    """The first contradiction of the module docstring's rules, as a one-item list ([]: none)."""
    out: list[str] = []
    if not _check_layout(k, out):
        return out
    owner = _check_extents(k, out)
    if owner is None:
        return out
    _check_bitmap(k, owner, out)
    if not out:
        _check_names(k, out)
    return out
