"""The little filesystem: superblock, inodes and their address_spaces, block allocation, names
and open files (2.6.6).

Models the parts of an ext2-like filesystem and of the VFS (fs/ext2/inode.c, fs/ext2/balloc.c,
fs/inode.c, fs/file_table.c, include/linux/fs.h, 2.6.6) that the page cache needs:

* One flat namespace of paths (no directories): ``SuperBlock.s_names`` maps a path to an
  inode number, as a single directory's dentries would.
* 4 KiB blocks, one per page (blocksize == PAGE_SIZE, so a page has exactly one block and no
  buffer_heads are needed). Block 0 holds the superblock; blocks 1 .. s_nblocks-1 hold data.
  The filesystem uses the start of the disk; the swap area lies after it.
* Each inode has a block map ``i_blocks``: page index -> disk block. (The kernel's
  ``inode->i_blocks`` counts 512-byte sectors; here the name holds what ext2 keeps in
  ``i_data``.) ``vl_inode_extents`` prints it as extents (runs of contiguous blocks) for the UI.
* Blocks are allocated at write time (``get_block`` with create, as ext2_get_block from
  block_prepare_write), in allocation order from a cursor that only moves forward and wraps:
  two files written at the same time interleave their blocks on disk, as ext3 did on SMP.
  A full disk gives -ENOSPC.
* Metadata (sizes, block maps, free-block bitmap) lives only in memory and is never written
  to the disk: the model treats it as always durable (as if journalled with instant commits),
  so durability questions concern file data only.
* ``struct address_space`` (``AddressSpace``, each inode's ``i_mapping``) is declared here,
  beside the inode, as in include/linux/fs.h; the page cache code that works on it is
  mm/filemap.py's.
* ``struct file`` is ``File``; open files hang on ``SuperBlock.s_files`` (the 2.6.6 sb field),
  by a file id that tasks keep in ``task.files`` (fd -> file id).

Invariants:
    * ``s_free_blocks`` equals the number of zero bytes in ``s_bitmap``; block 0 is in use;
    * every block in some inode's ``i_blocks`` is marked in use, and belongs to one inode only;
    * an inode's blocks are all at page indices below ``ceil(i_size / 4096)``;
    * ``s_names`` maps to inodes with ``i_nlink == 1``; an inode with ``i_nlink == 0`` stays
      only while ``i_count > 0`` (it is open) or while it is being deleted (I_FREEING);
    * ``i_count`` equals the number of open files (``File``) naming the inode, plus the
      references held by ops in progress (open, delete).

Lock ordering (modelled as wait queues, see ``vl_down_i_sem``):
    inode->i_sem          writers, truncate, fsync
      page lock           (PG_locked)
        mapping->tree_lock  (implicit: every model step is atomic)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import Page
from kernelmodel.kernel.wait import sleep_on, wake_up
from kernelmodel.lib.payload import BASE_PATTERN, BASE_RANDOM, BASE_ZERO
from kernelmodel.lib.radix_tree import RadixTreeRoot, vl_radix_tree_items
from kernelmodel.mm.page_alloc import GFP_HIGHUSER
from machine.state_read import read_dict, read_int_list

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

BLOCK_SIZE: Final = 4096
BLOCK_SHIFT: Final = 12
#: 512-byte sectors per block.
BLOCK_SECTORS: Final = 8
#: The first data block (block 0 is the superblock).
FIRST_DATA_BLOCK: Final = 1
#: Written at sector 0 by mkfs.
FS_MAGIC: Final = b"vmlabfs1"

# inode->i_state bits (include/linux/fs.h, 2.6.6)
I_DIRTY_SYNC: Final = 1
I_DIRTY_DATASYNC: Final = 2
I_DIRTY_PAGES: Final = 4
I_DIRTY: Final = 7
I_LOCK: Final = 8
I_FREEING: Final = 16
I_CLEAR: Final = 32

ENOENT: Final = 2
ENOSPC: Final = 28

#: Boot-time file contents (see oracle.py).
CONTENT_KINDS: Final = ("zero", "pattern", "random", "sparse")


def inode_sem_key(ino: int) -> str:
    """Wait-queue key of inode ``ino``'s i_sem."""
    return f"inode {ino} i_sem"


def inode_lock_key(ino: int) -> str:
    """Wait-queue key of I_LOCK on inode ``ino`` (wait_on_inode / wake_up_inode)."""
    return f"inode {ino} I_LOCK"


@final
class AddressSpace:
    """struct address_space (include/linux/fs.h, 2.6.6): one file's page cache.

    Attributes:
        host: the owning inode's number (0 for a mapping without an inode).
        page_tree: radix tree of pages by index, tagged DIRTY / WRITEBACK.
        nrpages: pages in the tree.
        writeback_index: where the next WB_SYNC_NONE writeback starts (2.6.6).
        flags: the gfp mask (low 16 bits) and AS_EIO / AS_ENOSPC.
        i_mmap: ids of private VMAs mapping the file (filled by the process-memory part).
        i_mmap_shared: ids of shared VMAs mapping the file.
        truncate_count: bumped by every truncate (do_no_page retries when it changed).
        clean_pages, dirty_pages, io_pages, locked_pages: the 2.6.5 page lists as pfns, head
            first; used only by the 2.6.5 list profile (empty in tags mode).
    """

    # state context: pages: list[Page] from kernelmodel.include.page
    def __init__(self, host: int, map_shift: int = 6) -> None:
        self.host: int = host  # state
        self.page_tree: RadixTreeRoot = RadixTreeRoot(map_shift)  # state: custom
        self.nrpages: int = 0  # state
        self.writeback_index: int = 0  # state
        self.flags: int = GFP_HIGHUSER  # state
        self.i_mmap: list[int] = []  # state
        self.i_mmap_shared: list[int] = []  # state
        self.truncate_count: int = 0  # state
        self.clean_pages: list[int] = []  # state
        self.dirty_pages: list[int] = []  # state
        self.io_pages: list[int] = []  # state
        self.locked_pages: list[int] = []  # state

    def vl_describe(self) -> str:
        """Short text for page reprs."""
        return f"inode {self.host}"

    def __repr__(self) -> str:
        return (
            f"<address_space host={self.host} nrpages={self.nrpages} "
            f"writeback_index={self.writeback_index} flags={self.flags:#x}>"
        )

    def vl_save_page_tree(self, out: dict[str, object]) -> None:
        """The radix tree, and its pages by pfn in index order (``pfns``)."""
        items = vl_radix_tree_items(self.page_tree)
        pfns: list[int] = []
        for _index, item in items:
            bug_on(not isinstance(item, Page), "address_space: a non-page in page_tree")
            assert isinstance(item, Page)
            pfns.append(item.pfn)
        out["page_tree"] = self.page_tree.to_state()
        out["pfns"] = pfns

    def vl_load_page_tree(self, state: dict[str, object], pages: list[Page]) -> None:
        """The tree back from ``vl_save_page_tree`` output, re-linking ``page.mapping`` of
        every cached page (``pages``: mem_map.pages of the restored machine)."""
        tree = read_dict(state, "page_tree", "address_space state")
        items: list[object] = []
        for pfn in read_int_list(state, "pfns", "address_space state"):
            if pfn < 0 or pfn >= len(pages):
                raise ValueError(f"address_space state: pfn {pfn} outside mem_map")
            page = pages[pfn]
            page.mapping = self
            items.append(page)
        self.page_tree = RadixTreeRoot.from_state(tree, items)


@final
class Inode:
    """struct inode (include/linux/fs.h) with ext2's block map, for one regular file.

    Attributes:
        i_ino: inode number (stable id; 1 is never used, numbers start at 2).
        i_size: file size in bytes.
        i_mapping: the page cache of the file (the inode's embedded i_data).
        i_state: I_DIRTY_* | I_LOCK | I_FREEING | I_CLEAR.
        dirtied_when: simulated ns when the inode was first dirtied (for kupdate).
        i_sem: pid holding the inode semaphore, 0 when free.
        i_blocks: page index -> disk block (ext2's i_data, as a flat map).
        i_nlink: 1 while the path names the inode, 0 after unlink.
        i_count: references (open files and ops in progress).
        vl_path: the path the inode was created under (kept after unlink for messages).
    """

    # state context: pages: list[Page] from kernelmodel.include.page
    def __init__(self, i_ino: int, vl_path: str) -> None:
        self.i_ino: int = i_ino  # state
        self.i_size: int = 0  # state
        self.i_state: int = 0  # state
        self.dirtied_when: int = 0  # state
        self.i_sem: int = 0  # state
        # ext2's block map as two lists in page order: block_index and block_no
        self.i_blocks: dict[int, int] = {}  # state: split=block_index/block_no
        self.i_nlink: int = 1  # state
        self.i_count: int = 0  # state
        self.vl_path: str = vl_path  # state: key=path
        self.i_mapping: AddressSpace = AddressSpace(i_ino)  # state: key=mapping

    def __repr__(self) -> str:
        return (
            f"<inode {self.i_ino} {self.vl_path!r} size={self.i_size} state={self.i_state:#x} "
            f"nrpages={self.i_mapping.nrpages} blocks={len(self.i_blocks)} count={self.i_count}>"
        )


@final
class File:
    """struct file (include/linux/fs.h): one open of a file.

    Attributes:
        f_id: stable id (key of SuperBlock.s_files; tasks keep it in task.files).
        f_ino: the inode (f_dentry->d_inode) by number.
        f_path: the path it was opened by (programs name files by path).
        f_pos: file position.
        f_flags: O_* flags.
        f_count: references (fds in tasks that share it after fork).
        f_ra_size: readahead window of the last miss in pages (file_ra_state.size).
        f_ra_prev_page: the last page read (file_ra_state.prev_page), -1 before any read.
    """

    def __init__(self, f_id: int, f_ino: int, f_path: str, f_flags: int) -> None:
        self.f_id: int = f_id  # state
        self.f_ino: int = f_ino  # state
        self.f_path: str = f_path  # state
        self.f_pos: int = 0  # state
        self.f_flags: int = f_flags  # state
        self.f_count: int = 1  # state
        self.f_ra_size: int = 0  # state
        self.f_ra_prev_page: int = -1  # state

    def __repr__(self) -> str:
        return f"<file {self.f_id} {self.f_path!r} ino={self.f_ino} pos={self.f_pos}>"


@final
class SuperBlock:
    """struct super_block (include/linux/fs.h) with ext2's block bitmap and the namespace.

    Attributes:
        s_nblocks: blocks of the filesystem (block 0 is the superblock).
        s_bitmap: one byte per block, 1 = in use (ext2's block bitmap, one byte a block).
        s_free_blocks: free data blocks (ext2 s_free_blocks_count).
        s_next_block: the allocation cursor: the next block to try.
        s_dirty: dirty inodes by number, head = index 0 (newest first, as list_add).
        s_io: inodes being written back, head = index 0.
        s_inodes: inode number -> Inode (every live inode).
        s_names: path -> inode number (the one directory).
        s_files: file id -> File (every open file).
        vl_next_ino, vl_next_file_id: id counters.
    """

    # state context: pages: list[Page] from kernelmodel.include.page
    def __init__(self, s_nblocks: int) -> None:
        self.s_nblocks: int = s_nblocks  # state
        self.s_bitmap: bytearray = bytearray(s_nblocks)  # state
        self.s_free_blocks: int = 0  # state
        if s_nblocks > 0:
            self.s_bitmap[0] = 1
            self.s_free_blocks = s_nblocks - FIRST_DATA_BLOCK
        self.s_next_block: int = FIRST_DATA_BLOCK  # state
        self.s_dirty: list[int] = []  # state
        self.s_io: list[int] = []  # state
        self.s_inodes: dict[int, Inode] = {}  # state: keyed=i_ino
        self.s_names: dict[str, int] = {}  # state
        self.s_files: dict[int, File] = {}  # state: keyed=f_id
        self.vl_next_ino: int = 2  # state: key=next_ino
        self.vl_next_file_id: int = 1  # state: key=next_file_id

    def __repr__(self) -> str:
        return (
            f"<super_block blocks={self.s_nblocks} free={self.s_free_blocks} "
            f"inodes={len(self.s_inodes)} files={len(self.s_files)}>"
        )

    def vl_check_state(self) -> None:
        """The loader's check across fields: one bitmap byte per block."""
        if len(self.s_bitmap) != self.s_nblocks:
            raise ValueError("super_block state: s_bitmap must be s_nblocks bytes")


# ---- block allocation (fs/ext2/balloc.c) ------------------------------------------------------


def ext2_new_block(sb: SuperBlock) -> int:
    """Allocate one data block in allocation order: the first free block at or after the cursor.

    ext2 looks for a block near a goal in the inode's group; the model's goal is a single
    global cursor, which is what makes concurrent writers interleave. The search wraps once.

    Returns:
        The block number, or -ENOSPC when no block is free.
    """
    if sb.s_free_blocks <= 0:
        return -ENOSPC
    n = sb.s_nblocks
    b = sb.s_next_block
    if b < FIRST_DATA_BLOCK or b >= n:
        b = FIRST_DATA_BLOCK
    bitmap = sb.s_bitmap
    tries = 0
    while bitmap[b] != 0:
        b += 1
        if b >= n:
            b = FIRST_DATA_BLOCK
        tries += 1
        bug_on(tries > n, "ext2_new_block: free count says free, bitmap says full")
    bitmap[b] = 1
    sb.s_free_blocks -= 1
    sb.s_next_block = b + 1 if b + 1 < n else FIRST_DATA_BLOCK
    return b


def ext2_free_blocks(sb: SuperBlock, block: int) -> None:
    """Return one block to the free pool."""
    bug_on(block < FIRST_DATA_BLOCK or block >= sb.s_nblocks, "ext2_free_blocks: bad block")
    bug_on(sb.s_bitmap[block] == 0, "ext2_free_blocks: bit already cleared")
    sb.s_bitmap[block] = 0
    sb.s_free_blocks += 1


def get_block(k: Kernel, inode: Inode, index: int, create: int) -> int:
    """ext2_get_block: map page ``index`` of the file to its disk block.

    Args:
        create: allocate a block when the page has none (the write path's prepare_write,
            and writeback of a page dirtied through a shared mapping of a hole).

    Returns:
        The block number (>= 1); -1 when unmapped and ``create`` is 0; -ENOSPC when a block
        was needed and the disk is full.
    """
    block = inode.i_blocks.get(index, -1)
    if block >= 0 or not create:
        return block
    block = ext2_new_block(k.sb)
    if block < 0:
        return block
    inode.i_blocks[index] = block
    return block


def ext2_truncate_blocks(k: Kernel, inode: Inode, first_index: int) -> int:
    """ext2_truncate (the block part): free every block at page index >= ``first_index``.

    Returns:
        The number of blocks freed.
    """
    sb = k.sb
    gone = [index for index in inode.i_blocks if index >= first_index]
    gone.sort()
    for index in gone:
        ext2_free_blocks(sb, inode.i_blocks.pop(index))
    return len(gone)


def vl_block_sector(block: int) -> int:
    """The first disk sector of ``block``."""
    return block * BLOCK_SECTORS


def vl_inode_extents(inode: Inode) -> list[tuple[int, int, int]]:
    """The block map as extents: (first page index, first block, length), by page index."""
    out: list[tuple[int, int, int]] = []
    start = -1
    first_block = -1
    length = 0
    for index in sorted(inode.i_blocks):
        block = inode.i_blocks[index]
        if length > 0 and index == start + length and block == first_block + length:
            length += 1
            continue
        if length > 0:
            out.append((start, first_block, length))
        start = index
        first_block = block
        length = 1
    if length > 0:
        out.append((start, first_block, length))
    return out


# ---- inodes (fs/inode.c) ----------------------------------------------------------------------


def vl_new_inode(k: Kernel, path: str) -> Inode:
    """ext2_new_inode + d_instantiate: create an empty file named ``path``.

    Caller: ``path`` is not in use.
    """
    sb = k.sb
    bug_on(path in sb.s_names, "vl_new_inode: path exists")
    ino = sb.vl_next_ino
    sb.vl_next_ino += 1
    inode = Inode(ino, path)
    sb.s_inodes[ino] = inode
    sb.s_names[path] = ino
    k.oracle.file_create(k, ino, 0, 0, 0)
    return inode


def vl_lookup_path(k: Kernel, path: str) -> Inode | None:
    """path_lookup in the one directory: the inode named ``path``, or None."""
    ino = k.sb.s_names.get(path, -1)
    if ino < 0:
        return None
    return k.sb.s_inodes.get(ino)


def vl_inode(k: Kernel, ino: int) -> Inode | None:
    """The live inode numbered ``ino`` (ilookup), or None."""
    return k.sb.s_inodes.get(ino)


def iget(inode: Inode) -> None:
    """__iget: take a reference on an inode (open files, writeback in progress)."""
    inode.i_count += 1


def vl_iput_needs_delete(inode: Inode) -> bool:
    """iput: drop a reference; True when it was the last one of an unlinked inode.

    The caller then runs generic_delete_inode (open.DeleteInodeOp), which may sleep.
    """
    bug_on(inode.i_count <= 0, "iput: i_count already zero")
    inode.i_count -= 1
    return inode.i_count == 0 and inode.i_nlink == 0 and (inode.i_state & I_FREEING) == 0


def vl_down_i_sem(k: Kernel, task: Task, inode: Inode) -> bool:
    """down(&inode->i_sem): take the semaphore, or sleep until it is released.

    Returns True when ``task`` now holds it; False when the task went to sleep (the op
    returns KOP_BLOCKED and calls again when woken). Model simplification: up() wakes every
    waiter and the first to run takes it, so the order among waiters is the scheduler's.
    """
    bug_on(inode.i_sem == task.pid, "down(i_sem): recursive down")
    if inode.i_sem == 0:
        inode.i_sem = task.pid
        return True
    sleep_on(k, task, inode_sem_key(inode.i_ino))
    return False


def up_i_sem(k: Kernel, inode: Inode) -> None:
    """up(&inode->i_sem).

    Caller: holds i_sem.
    """
    bug_on(inode.i_sem == 0, "up(i_sem): not held")
    inode.i_sem = 0
    wake_up(k, inode_sem_key(inode.i_ino))


def vl_wait_on_inode(k: Kernel, task: Task, inode: Inode) -> bool:
    """wait_on_inode: True when I_LOCK is clear, else sleep (returns False)."""
    if (inode.i_state & I_LOCK) == 0:
        return True
    sleep_on(k, task, inode_lock_key(inode.i_ino))
    return False


def wake_up_inode(k: Kernel, inode: Inode) -> None:
    """wake_up_inode: wake tasks waiting for I_LOCK to clear (writeback calls it)."""
    wake_up(k, inode_lock_key(inode.i_ino))


# ---- mkfs and boot-time files -----------------------------------------------------------------


def vl_fs_nblocks(disk_bytes: int, swap_bytes: int) -> int:
    """Blocks of the filesystem on a disk of ``disk_bytes`` ending in ``swap_bytes`` of swap."""
    return (disk_bytes - swap_bytes) // BLOCK_SIZE


def mkfs(k: Kernel) -> SuperBlock:
    """Format the filesystem area of the disk and install the superblock as ``k.sb``.

    Raises:
        ValueError: the disk leaves no room for data next to the swap area.
    """
    disk_bytes = k.machine.disk.nsectors * 512
    nblocks = vl_fs_nblocks(disk_bytes, k.cfg.swap_bytes)
    if nblocks < 2:
        raise ValueError(
            f"machine.disk: {disk_bytes} bytes leave no room for the filesystem "
            f"next to {k.cfg.swap_bytes} bytes of swap"
        )
    sb = SuperBlock(nblocks)
    k.machine.disk.write_sectors(0, FS_MAGIC + bytes(512 - len(FS_MAGIC)))
    k.sb = sb
    return sb


def vl_fs_init(k: Kernel) -> None:
    """Boot: mkfs and an empty bio table (the kernel was given an empty data oracle).

    Caller: start_kernel, before any file is created.
    """
    k.bios = {}
    mkfs(k)


def vl_create_file(k: Kernel, path: str, size: int, content: str, seed: int) -> Inode:
    """Create a boot-time file of ``size`` bytes with its data already on the disk.

    The blocks are allocated contiguously (the allocator's cursor at boot) and written
    straight to the disk, bypassing the page cache; the oracle records the contents.

    Args:
        content: "zero", "pattern", "random" (see oracle.py) or "sparse" (no blocks: holes).
        seed: the seed of "pattern" and "random".

    Raises:
        ValueError: bad size or content, the path exists, or the disk is too small.
    """
    if size < 0:
        raise ValueError(f"files.{path}: size must not be negative")
    if content not in CONTENT_KINDS:
        raise ValueError(f"files.{path}: content must be one of {', '.join(CONTENT_KINDS)}")
    if path in k.sb.s_names:
        raise ValueError(f"files.{path}: the file exists")
    npages = (size + BLOCK_SIZE - 1) >> BLOCK_SHIFT
    if content != "sparse" and npages > k.sb.s_free_blocks:
        raise ValueError(f"files.{path}: {size} bytes do not fit on the disk")
    inode = vl_new_inode(k, path)
    inode.i_size = size
    kind = BASE_ZERO
    if content == "pattern":
        kind = BASE_PATTERN
    elif content == "random":
        kind = BASE_RANDOM
    k.oracle.file_create(k, inode.i_ino, size, kind, seed)
    if content != "sparse":
        _write_boot_blocks(k, inode, npages)
    return inode


def _write_boot_blocks(k: Kernel, inode: Inode, npages: int) -> None:
    """Allocate and write the blocks of a boot-time file (contents from the oracle)."""
    disk = k.machine.disk
    for index in range(npages):
        block = get_block(k, inode, index, 1)
        bug_on(block < 0, "vl_create_file: out of blocks after the size check")
        data = k.oracle.file_expected(k, inode.i_ino, index)
        disk.write_sectors(vl_block_sector(block), data)


# ---- open files (fs/file_table.c, fs/open.c) ---------------------------------------------------


def vl_alloc_file(k: Kernel, inode: Inode, path: str, flags: int) -> File:
    """get_empty_filp + dentry_open: a new open file on ``inode``.

    Caller: holds a reference on ``inode`` that the file takes over.
    """
    sb = k.sb
    f = File(sb.vl_next_file_id, inode.i_ino, path, flags)
    sb.vl_next_file_id += 1
    sb.s_files[f.f_id] = f
    return f


def vl_fget_path(k: Kernel, task: Task, path: str) -> tuple[int, File | None]:
    """fget, by path: the lowest fd of ``task`` whose file was opened as ``path``.

    Model simplification (syscall_abi.py): programs name open files by path.

    Returns:
        (fd, file), or (-1, None) when the task has no such file open.
    """
    files = k.sb.s_files
    for fd in sorted(task.files):
        f = files.get(task.files[fd])
        if f is not None and f.f_path == path:
            return fd, f
    return -1, None


def vl_dup_files(k: Kernel, parent: Task, child: Task) -> None:
    """dup_fd (kernel/fork.c copy_files): the child shares the parent's open files."""
    for fd, fid in parent.files.items():
        f = k.sb.s_files.get(fid)
        if f is not None:
            f.f_count += 1
            child.files[fd] = fid
    child.next_fd = parent.next_fd
