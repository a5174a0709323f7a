"""read(2) and write(2) through the page cache (fs/read_write.c, mm/filemap.c, 2.6.6).

``ReadOp`` is do_generic_file_read: per page, find_get_page; on a miss, readahead reads a
window of pages; a page that is not uptodate is waited for by locking it (the read in flight
holds the lock and its completion unlocks it); then the bytes are copied out,
mark_page_accessed, page_cache_release. The bytes read are compared with the data oracle
(the model has no user buffer to copy into).

``WriteOp`` is generic_file_aio_write_nolock's buffered loop under i_sem: per page,
__grab_cache_page (find_lock_page, or allocate and add_to_page_cache_lru), prepare_write
(get_block with create: blocks are allocated now, in allocation order; a partial write of a
page that is not uptodate and has data on disk reads it first through readpage, whose
completion unlocks the page, which the writer then locks again), copy the payload into the
frame, commit_write (SetPageUptodate, set_page_dirty, i_size), unlock_page,
mark_page_accessed, page_cache_release and balance_dirty_pages_ratelimited (whose op, when it
throttles, is pushed and completes before the next page).

Payload bytes are the payload stream of the seed ``insn.d`` (kernelmodel/lib/payload.py, with the
oracle's generator): page by page, byte ``i`` of the write is byte ``i`` of that stream; each
page's bytes reach the oracle, as (seed, stream offset), in the same step as the frame.

Every blocking point is a phase of the op, and a page the op holds across a sleep is kept as
its pfn with a reference.

An O_SYNC write ends with generic_osync_inode under i_sem: filemap_fdatawrite, then
filemap_fdatawait (as 2.6.6, O_SYNC gives O_DSYNC); when both succeed the oracle counts the
written pages as acknowledged, as after fsync.

Model simplifications: no user buffer (reads are checked, not copied); no O_DIRECT; no
generic_write_checks limits; no mtime/atime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import I_DIRTY, File, Inode, get_block, up_i_sem, vl_down_i_sem, vl_fget_path
from kernelmodel.include.page import Page, PageUptodate, SetPageUptodate
from kernelmodel.include.syscall_abi import EBADF, EINVAL, EIO, O_APPEND, O_SYNC
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Frame, KOp, vl_push
from kernelmodel.lib.payload import vl_payload_slice
from kernelmodel.mm.filemap import (
    FLP_ABSENT,
    FLP_BLOCKED,
    GFP_BITS_MASK,
    PAGE_CACHE_SIZE,
    PAGE_SHIFT,
    add_to_page_cache_lru,
    do_page_cache_readahead,
    find_get_page,
    vl_copy_ns,
    vl_find_lock_page,
    vl_find_page_nolock,
    vl_pfn_to_page,
    vl_ra_window,
    vl_readpage,
)
from kernelmodel.mm.pagemap import unlock_page, vl_lock_page, vl_wait_on_page_locked
from kernelmodel.mm.truncate import truncate_complete_page

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.isa import Insn

# ReadOp phases
R_START: Final = 0
R_FIND: Final = 1
R_LOCK: Final = 2
R_WAIT: Final = 3
R_COPY: Final = 4

# WriteOp phases
W_START: Final = 0
W_ISEM: Final = 1
W_GRAB: Final = 2
W_PREPARE: Final = 3
W_RELOCK: Final = 4
W_END: Final = 5
W_OSYNC_WAIT: Final = 6
W_OSYNC_DONE: Final = 7


def _release(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)


def _accessed(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.swap import mark_page_accessed

    mark_page_accessed(k, page)


class ReadOp(Frame):
    """do_generic_file_read (sys_read -> generic_file_read, mm/filemap.c, 2.6.6), one page
    per step: find_get_page (no_cached_page: readahead, look again), page_not_up_to_date
    (lock_page, readpage, wait_on_page_locked), page_ok (copy out, release).

    Attributes:
        path: the file as the program named it.
        f_id, ino: the open file and its inode (-1 before the first step).
        pos: the file offset of the next byte to read.
        count: bytes asked for; done: bytes read so far.
        pfn: the page held (referenced) across a sleep, -1 when none.
        use_fpos: the call reads at (and advances) the file position.
    """

    KIND = "do_generic_file_read"
    FIELDS = (("path", "str"), ("f_id", "int"), ("ino", "int"), ("pos", "int"),
              ("count", "int"), ("done", "int"), ("pfn", "int"), ("use_fpos", "bool"))

    def __init__(self, path: str = "", offset: int = 0, count: int = 0) -> None:
        super().__init__("do_generic_file_read")
        self.path = path
        self.f_id = -1
        self.ino = -1
        self.pos = offset
        self.count = count
        self.done = 0
        self.pfn = -1
        self.use_fpos = offset < 0

    def describe(self) -> str:
        return f"read {self.path} @{self.pos}"

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == R_START:
            return self._start(k, task)
        inode = k.sb.s_inodes.get(self.ino)
        if inode is None:
            return self._finish(k, -EBADF)
        if self.phase == R_FIND:
            return self._find(k, task, inode)
        if self.phase == R_LOCK:
            return self._lock(k, task, inode)
        if self.phase == R_WAIT:
            return self._wait(k, task, inode)
        return self._copy(k, inode)

    def _start(self, k: Kernel, task: Task) -> int:
        """sys_read: fget and the argument checks."""
        _fd, f = vl_fget_path(k, task, self.path)
        if f is None:
            self.result = -EBADF
            return KOP_DONE
        if self.count < 0:
            self.result = -EINVAL
            return KOP_DONE
        self.f_id = f.f_id
        self.ino = f.f_ino
        if self.use_fpos:
            self.pos = f.f_pos
        self.phase = R_FIND
        return KOP_CONTINUE

    def _file(self, k: Kernel) -> File | None:
        return k.sb.s_files.get(self.f_id)

    def _find(self, k: Kernel, task: Task, inode: Inode) -> int:
        """find_get_page, or readahead on a miss (then look again on the next step)."""
        remaining = self.count - self.done
        isize = inode.i_size
        if remaining <= 0 or self.pos >= isize:
            return self._finish(k, self.done)
        mapping = inode.i_mapping
        index = self.pos >> PAGE_SHIFT
        page = find_get_page(mapping, index)
        if page is None:
            return self._miss(k, task, inode, index, remaining)
        self.pfn = page.pfn
        if PageUptodate(page):
            self.phase = R_COPY
            return self._copy(k, inode)
        self.phase = R_LOCK
        return self._lock(k, task, inode)

    def _miss(self, k: Kernel, task: Task, inode: Inode, index: int, remaining: int) -> int:
        """page_cache_readahead + handle_ra_miss, simplified (filemap.vl_ra_window)."""
        from kernelmodel.mm.alloc import vl_wait_for_memory

        last = (min(self.pos + remaining, inode.i_size) - 1) >> PAGE_SHIFT
        f = self._file(k)
        prev_page = -1 if f is None else f.f_ra_prev_page
        prev_size = 0 if f is None else f.f_ra_size
        nr = vl_ra_window(index, prev_page, prev_size, last - index + 1)
        if f is not None:
            f.f_ra_size = nr
        added = do_page_cache_readahead(k, inode.i_mapping, index, nr)
        if added == 0 and vl_find_page_nolock(inode.i_mapping, index) is None:
            vl_wait_for_memory(k, task)
            return KOP_BLOCKED
        return KOP_CONTINUE

    def _lock(self, k: Kernel, task: Task, inode: Inode) -> int:
        """page_not_up_to_date: lock_page, re-check, readpage if still not uptodate."""
        page = vl_pfn_to_page(k, self.pfn)
        if not vl_lock_page(k, task, page):
            return KOP_BLOCKED
        if page.mapping is not inode.i_mapping:
            unlock_page(k, page)
            self._drop(k, page)
            self.phase = R_FIND
            return KOP_CONTINUE
        if PageUptodate(page):
            unlock_page(k, page)
            self.phase = R_COPY
            return self._copy(k, inode)
        vl_readpage(k, page)
        self.phase = R_WAIT
        return self._wait(k, task, inode)

    def _wait(self, k: Kernel, task: Task, inode: Inode) -> int:
        """wait_on_page_locked after readpage; -EIO when the page is still not uptodate."""
        page = vl_pfn_to_page(k, self.pfn)
        if not vl_wait_on_page_locked(k, task, page):
            return KOP_BLOCKED
        if not PageUptodate(page):
            self._drop(k, page)
            return self._finish(k, self.done if self.done > 0 else -EIO)
        self.phase = R_COPY
        return self._copy(k, inode)

    def _copy(self, k: Kernel, inode: Inode) -> int:
        """page_ok: copy out up to EOF (re-checked), compare with the oracle, release."""
        page = vl_pfn_to_page(k, self.pfn)
        isize = inode.i_size
        index = self.pos >> PAGE_SHIFT
        off = self.pos & (PAGE_CACHE_SIZE - 1)
        nr = PAGE_CACHE_SIZE
        if isize > 0 and index == (isize - 1) >> PAGE_SHIFT:
            nr = ((isize - 1) & (PAGE_CACHE_SIZE - 1)) + 1
        if isize == 0 or index > (isize - 1) >> PAGE_SHIFT or nr <= off:
            self._drop(k, page)
            return self._finish(k, self.done)
        nr = min(nr - off, self.count - self.done)
        data = k.machine.mem.read(page.pfn * PAGE_CACHE_SIZE + off, nr)
        k.oracle.read_check(k, inode.i_ino, self.pos, index, off, data)
        k.charge(vl_copy_ns(nr))
        _accessed(k, page)
        self._drop(k, page)
        f = self._file(k)
        if f is not None:
            f.f_ra_prev_page = index
        self.pos += nr
        self.done += nr
        self.phase = R_FIND
        return KOP_CONTINUE

    def _drop(self, k: Kernel, page: Page) -> None:
        _release(k, page)
        self.pfn = -1

    def _finish(self, k: Kernel, result: int) -> int:
        if self.use_fpos:
            f = self._file(k)
            if f is not None:
                f.f_pos = self.pos
        self.result = result
        return KOP_DONE


class WriteOp(Frame):
    """generic_file_write (sys_write -> generic_file_aio_write_nolock's buffered loop,
    mm/filemap.c, 2.6.6): down i_sem, per page __grab_cache_page, prepare_write, copy,
    commit_write, balance_dirty_pages_ratelimited; then generic_osync_inode, up i_sem.

    Attributes:
        path: the file as the program named it.
        f_id, ino: the open file and its inode (-1 before the first step).
        pos: file offset of the next byte; count: bytes to write; done: bytes written.
        seed: payload seed: the bytes are bytes [0, count) of its payload stream (payload.py).
        pfn: the locked, referenced page being written (-1 when none).
        use_fpos: the call writes at (and advances) the file position.
        error: the error that ended the loop (0 when none).
        token: the oracle's acknowledgement token of an O_SYNC write's writeout.
        osync_error: the first error of filemap_fdatawrite / filemap_fdatawait (O_SYNC).
    """

    KIND = "generic_file_write"
    FIELDS = (("path", "str"), ("f_id", "int"), ("ino", "int"), ("pos", "int"),
              ("count", "int"), ("seed", "int"), ("done", "int"), ("pfn", "int"),
              ("use_fpos", "bool"), ("error", "int"), ("token", "int"),
              ("osync_error", "int"))  # fmt: skip
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, path: str = "", offset: int = 0, count: int = 0, seed: int = 0) -> None:
        super().__init__("generic_file_write")
        self.path = path
        self.f_id = -1
        self.ino = -1
        self.pos = offset
        self.count = count
        self.seed = seed
        self.done = 0
        self.pfn = -1
        self.use_fpos = offset < 0
        self.error = 0
        self.token = 0
        self.osync_error = 0

    def describe(self) -> str:
        return f"write {self.path} @{self.pos}"

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == W_START:
            return self._start(k, task)
        inode = k.sb.s_inodes.get(self.ino)
        if inode is None:
            self.result = -EBADF
            return KOP_DONE
        if self.phase == W_ISEM:
            return self._down(k, task, inode)
        if self.phase == W_GRAB:
            return self._grab(k, task, inode)
        if self.phase == W_PREPARE:
            return self._prepare(k, task, inode)
        if self.phase == W_RELOCK:
            return self._relock(k, task, inode)
        if self.phase == W_END:
            return self._end(k, task, inode)
        return self._osync(k, task, inode)

    def _start(self, k: Kernel, task: Task) -> int:
        """sys_write: fget and the argument checks."""
        _fd, f = vl_fget_path(k, task, self.path)
        if f is None:
            self.result = -EBADF
            return KOP_DONE
        if self.count < 0:
            self.result = -EINVAL
            return KOP_DONE
        self.f_id = f.f_id
        self.ino = f.f_ino
        self.phase = W_ISEM
        return KOP_CONTINUE

    def _down(self, k: Kernel, task: Task, inode: Inode) -> int:
        """down(&inode->i_sem), then the start offset (O_APPEND: i_size, under i_sem)."""
        if not vl_down_i_sem(k, task, inode):
            return KOP_BLOCKED
        f = k.sb.s_files.get(self.f_id)
        if f is not None and (f.f_flags & O_APPEND) != 0:
            self.pos = inode.i_size
        elif self.use_fpos and f is not None:
            self.pos = f.f_pos
        self.phase = W_GRAB
        return KOP_CONTINUE

    def _grab(self, k: Kernel, task: Task, inode: Inode) -> int:
        """__grab_cache_page: find_lock_page, or a new locked page added to the cache."""
        from kernelmodel.mm.alloc import vl_alloc_page, vl_wait_for_memory

        if self.done >= self.count or self.error != 0:
            self.phase = W_END
            return KOP_CONTINUE
        mapping = inode.i_mapping
        index = self.pos >> PAGE_SHIFT
        status, page = vl_find_lock_page(k, task, mapping, index)
        if status == FLP_BLOCKED:
            return KOP_BLOCKED
        if status == FLP_ABSENT:
            page = vl_alloc_page(k, mapping.flags & GFP_BITS_MASK)
            if page is None:
                vl_wait_for_memory(k, task)
                return KOP_BLOCKED
            if add_to_page_cache_lru(k, page, mapping, index) != 0:
                _release(k, page)
                return KOP_CONTINUE
        assert page is not None
        self.pfn = page.pfn
        self.phase = W_PREPARE
        return self._prepare(k, task, inode)

    def _chunk(self) -> tuple[int, int]:
        """(offset in the page, bytes) of the current page's part of the write."""
        off = self.pos & (PAGE_CACHE_SIZE - 1)
        return off, min(PAGE_CACHE_SIZE - off, self.count - self.done)

    def _prepare(self, k: Kernel, task: Task, inode: Inode) -> int:
        """prepare_write (block_prepare_write): map or allocate the block; read or zero."""
        page = vl_pfn_to_page(k, self.pfn)
        index = page.index
        had_block = index in inode.i_blocks
        block = get_block(k, inode, index, 1)
        if block < 0:
            self._prepare_failed(k, inode, page, block)
            return KOP_CONTINUE
        if not had_block:
            self._dirty_inode(k, inode)
        off, n = self._chunk()
        if not PageUptodate(page) and (off != 0 or n != PAGE_CACHE_SIZE):
            if had_block and (index << PAGE_SHIFT) < inode.i_size:
                vl_readpage(k, page)
                self.phase = W_RELOCK
                return self._relock(k, task, inode)
            k.machine.mem.zero_frame(page.pfn)
        return self._copy(k, task, inode, page)

    def _prepare_failed(self, k: Kernel, inode: Inode, page: Page, error: int) -> None:
        """prepare_write failed (-ENOSPC): unlock and release the page, end the loop.

        The kernel then runs vmtruncate(inode, i_size) to trim what prepare_write set up past
        EOF; here that is the page itself when it is new (not uptodate) and past EOF.
        """
        if not PageUptodate(page) and (page.index << PAGE_SHIFT) >= inode.i_size:
            truncate_complete_page(k, inode.i_mapping, page)
        unlock_page(k, page)
        self._drop(k, page)
        self.error = error
        self.phase = W_END

    def _relock(self, k: Kernel, task: Task, inode: Inode) -> int:
        """After the read-modify-write read: lock_page again and re-check the page."""
        page = vl_pfn_to_page(k, self.pfn)
        if not vl_lock_page(k, task, page):
            return KOP_BLOCKED
        if page.mapping is not inode.i_mapping:
            unlock_page(k, page)
            self._drop(k, page)
            self.phase = W_GRAB
            return KOP_CONTINUE
        if not PageUptodate(page):
            unlock_page(k, page)
            self._drop(k, page)
            self.error = -EIO
            self.phase = W_END
            return KOP_CONTINUE
        return self._copy(k, task, inode, page)

    def _copy(self, k: Kernel, task: Task, inode: Inode, page: Page) -> int:
        """filemap_copy_from_user + commit_write + the rest of the loop body."""
        from kernelmodel.mm.page_writeback import balance_dirty_pages_ratelimited, set_page_dirty

        off, n = self._chunk()
        data = vl_payload_slice(k.oracle.generator, self.seed, self.done, n)
        k.machine.mem.write(page.pfn * PAGE_CACHE_SIZE + off, data)
        k.oracle.file_write(k, inode.i_ino, self.pos, data, False, self.seed, self.done)
        k.charge(vl_copy_ns(n))
        SetPageUptodate(page)
        set_page_dirty(k, page)
        if self.pos + n > inode.i_size:
            inode.i_size = self.pos + n
            self._dirty_inode(k, inode)
        unlock_page(k, page)
        _accessed(k, page)
        self._drop(k, page)
        self.pos += n
        self.done += n
        self.phase = W_GRAB
        op = balance_dirty_pages_ratelimited(k, task, inode.i_mapping)
        if op is not None:
            vl_push(task, op)
        return KOP_CONTINUE

    def _dirty_inode(self, k: Kernel, inode: Inode) -> None:
        """mark_inode_dirty: the size or the block map changed."""
        from kernelmodel.fs.fs_writeback import _mark_inode_dirty

        _mark_inode_dirty(k, inode, I_DIRTY)

    def _end(self, k: Kernel, task: Task, inode: Inode) -> int:
        """The loop is over: O_SYNC writes go out first (generic_osync_inode), then up."""
        from kernelmodel.mm.filemap_wb import filemap_fdatawrite
        f = k.sb.s_files.get(self.f_id)
        if f is not None and (f.f_flags & O_SYNC) != 0 and self.error == 0 and self.done > 0:
            self.token = k.oracle.fsync_begin(k, inode.i_ino)
            self.phase = W_OSYNC_WAIT
            vl_push(task, filemap_fdatawrite(k, inode.i_mapping))
            return KOP_CONTINUE
        return self._up(k, inode)

    def _osync(self, k: Kernel, task: Task, inode: Inode) -> int:
        """generic_osync_inode(OSYNC_METADATA|OSYNC_DATA): fdatawrite done, now fdatawait.

        write_inode is a no-op in the model (metadata is always durable). When both parts
        succeed, the oracle records the written pages as acknowledged.
        """
        from kernelmodel.mm.filemap_wb import filemap_fdatawait
        if self.osync_error == 0:
            self.osync_error = task.kret
        if self.phase == W_OSYNC_WAIT:
            self.phase = W_OSYNC_DONE
            vl_push(task, filemap_fdatawait(k, inode.i_mapping))
            return KOP_CONTINUE
        if self.osync_error == 0:
            k.oracle.fsync_acked(k, inode.i_ino, self.token)
        else:
            self.error = self.osync_error
        return self._up(k, inode)

    def _up(self, k: Kernel, inode: Inode) -> int:
        """up(&inode->i_sem); the result is the bytes written, or the error if none were."""
        up_i_sem(k, inode)
        if self.use_fpos:
            f = k.sb.s_files.get(self.f_id)
            if f is not None:
                f.f_pos = self.pos
        self.result = self.done if self.done > 0 or self.error == 0 else self.error
        return KOP_DONE

    def _drop(self, k: Kernel, page: Page) -> None:
        _release(k, page)
        self.pfn = -1


def sys_read(k: Kernel, task: Task, insn: Insn) -> KOp:
    """read(2): s = path, b = offset (-1: file position), c = length."""
    return ReadOp(insn.s, insn.b, insn.c)


def sys_write(k: Kernel, task: Task, insn: Insn) -> KOp:
    """write(2): s = path, b = offset (-1: file position), c = length, d = payload seed."""
    return WriteOp(insn.s, insn.b, insn.c, insn.d)
