"""open(2), close(2), unlink(2) and inode deletion (fs/open.c, fs/namei.c, fs/file_table.c,
fs/inode.c, 2.6.6).

* ``OpenOp``: sys_open -> filp_open: path lookup in the one directory, O_CREAT creates the
  inode, O_TRUNC runs do_truncate (``TruncateOp``), then a ``File`` and the lowest free fd.
  The path's inode reference (the dentry's, in C) becomes the file's.
* ``CloseOp``: sys_close -> filp_close -> fput: drop the fd; the last reference to the file
  drops the inode reference (iput), and the last reference to an unlinked inode deletes it.
* ``UnlinkOp``: sys_unlink -> vfs_unlink: the name goes at once; the inode goes when no file
  has it open (iput_final -> generic_delete_inode).
* ``DeleteInodeOp``: generic_delete_inode: I_FREEING, off the superblock's dirty lists,
  truncate_inode_pages(0) (its pages leave the cache: dirty ones are dropped, pages under
  writeback are waited for), clear_inode's wait_on_inode (I_LOCK: writeback of the inode in
  progress), then ext2_delete_inode frees the blocks and the inode goes. The oracle forgets
  the file when deletion starts: from I_FREEING on, the file has no contents to check.
* ``ExitFilesOp``: exit_files -> close_files: close every fd of an exiting task.

Model simplifications: one directory (paths are names); no permissions, modes or ctime; the
dentry cache is the name table itself; unlink does not take the directory's i_sem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import (
    I_CLEAR,
    I_FREEING,
    ext2_truncate_blocks,
    iget,
    vl_alloc_file,
    vl_fget_path,
    vl_iput_needs_delete,
    vl_lookup_path,
    vl_new_inode,
    vl_wait_on_inode,
    wake_up_inode,
)
from kernelmodel.include.syscall_abi import EBADF, ENOENT, O_CREAT, O_TRUNC
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, Frame, KOp, vl_push
from kernelmodel.mm.truncate import TruncateInodePagesOp, TruncateOp

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.isa import Insn

# OpenOp phases
OP_LOOKUP: Final = 0
OP_INSTALL: Final = 1

# DeleteInodeOp phases
DI_START: Final = 0
DI_WAIT_INODE: Final = 1


def vl_fput(k: Kernel, task: Task, fd: int) -> int:
    """Close ``fd`` of ``task`` (filp_close -> fput -> iput).

    Returns:
        The inode number to delete (the caller pushes DeleteInodeOp for it), or -1.
    """
    fid = task.files.pop(fd)
    f = k.sb.s_files.get(fid)
    if f is None:
        return -1
    f.f_count -= 1
    if f.f_count > 0:
        return -1
    del k.sb.s_files[fid]
    inode = k.sb.s_inodes.get(f.f_ino)
    if inode is None or not vl_iput_needs_delete(inode):
        return -1
    return inode.i_ino


class OpenOp(Frame):
    """sys_open -> filp_open (fs/open.c, 2.6.6): open_namei (lookup or create, O_TRUNC's
    do_truncate), then dentry_open and fd_install at the lowest free fd.

    Attributes:
        path: the path; flags: O_* flags.
        ino: the inode once looked up (-1 before), holding a reference for the new file.
    """

    KIND = "sys_open"
    FIELDS = (("path", "str"), ("flags", "int"), ("ino", "int"))
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, path: str = "", flags: int = 0) -> None:
        super().__init__("sys_open")
        self.path = path
        self.flags = flags
        self.ino = -1

    def describe(self) -> str:
        return f"open {self.path}"

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == OP_LOOKUP:
            return self._lookup(k, task)
        return self._install(k, task)

    def _lookup(self, k: Kernel, task: Task) -> int:
        """open_namei: find the inode, creating it with O_CREAT; O_TRUNC truncates it."""
        inode = vl_lookup_path(k, self.path)
        if inode is None:
            if (self.flags & O_CREAT) == 0:
                self.result = -ENOENT
                return KOP_DONE
            inode = vl_new_inode(k, self.path)
        iget(inode)
        self.ino = inode.i_ino
        self.phase = OP_INSTALL
        if (self.flags & O_TRUNC) != 0 and inode.i_size > 0:
            vl_push(task, TruncateOp("", inode.i_ino, 0))
        return KOP_CONTINUE

    def _install(self, k: Kernel, task: Task) -> int:
        """dentry_open + fd_install."""
        inode = k.sb.s_inodes.get(self.ino)
        if inode is None:
            self.result = -ENOENT
            return KOP_DONE
        f = vl_alloc_file(k, inode, self.path, self.flags)
        fd = task.next_fd
        task.next_fd += 1
        task.files[fd] = f.f_id
        self.result = fd
        return KOP_DONE


class CloseOp(Frame):
    """sys_close (fs/open.c, 2.6.6): drop the fd, filp_close -> fput; the last close of an
    unlinked file deletes its inode (iput_final)."""

    KIND = "sys_close"
    FIELDS = (("path", "str"),)
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, path: str = "") -> None:
        super().__init__("sys_close")
        self.path = path

    def describe(self) -> str:
        return f"close {self.path}"

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 1:
            self.result = 0
            return KOP_DONE
        fd, f = vl_fget_path(k, task, self.path)
        if f is None:
            self.result = -EBADF
            return KOP_DONE
        ino = vl_fput(k, task, fd)
        self.phase = 1
        if ino >= 0:
            vl_push(task, DeleteInodeOp(ino))
        return KOP_CONTINUE


class UnlinkOp(Frame):
    """sys_unlink (fs/namei.c, 2.6.6): lookup, vfs_unlink removes the name (i_nlink 0), then
    the dentry's iput deletes the inode now if no file has it open."""

    KIND = "sys_unlink"
    FIELDS = (("path", "str"),)
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, path: str = "") -> None:
        super().__init__("sys_unlink")
        self.path = path

    def describe(self) -> str:
        return f"unlink {self.path}"

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 1:
            self.result = 0
            return KOP_DONE
        inode = vl_lookup_path(k, self.path)
        if inode is None:
            self.result = -ENOENT
            return KOP_DONE
        del k.sb.s_names[self.path]
        inode.i_nlink = 0
        self.phase = 1
        if inode.i_count == 0 and (inode.i_state & I_FREEING) == 0:
            vl_push(task, DeleteInodeOp(inode.i_ino))
        return KOP_CONTINUE


class DeleteInodeOp(Frame):
    """generic_delete_inode (fs/inode.c, 2.6.6) + ext2_delete_inode: free an unlinked inode
    nobody holds. In the C order: I_FREEING, off the dirty lists, truncate_inode_pages,
    clear_inode's wait_on_inode, then the blocks and the inode go."""

    KIND = "generic_delete_inode"
    FIELDS = (("ino", "int"),)
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, ino: int = -1) -> None:
        super().__init__("generic_delete_inode")
        self.ino = ino

    def describe(self) -> str:
        return f"delete inode {self.ino}"

    def step(self, k: Kernel, task: Task) -> int:
        sb = k.sb
        inode = sb.s_inodes.get(self.ino)
        if inode is None:
            self.result = 0
            return KOP_DONE
        if self.phase == DI_START:
            inode.i_state |= I_FREEING
            k.oracle.file_forget(k, self.ino)
            if self.ino in sb.s_dirty:
                sb.s_dirty.remove(self.ino)
            if self.ino in sb.s_io:
                sb.s_io.remove(self.ino)
            self.phase = DI_WAIT_INODE
            vl_push(task, TruncateInodePagesOp(self.ino, 0))
            return KOP_CONTINUE
        if not vl_wait_on_inode(k, task, inode):
            return KOP_BLOCKED
        ext2_truncate_blocks(k, inode, 0)
        inode.i_size = 0
        inode.i_state = I_CLEAR
        del sb.s_inodes[self.ino]
        wake_up_inode(k, inode)
        self.result = 0
        return KOP_DONE


class ExitFilesOp(Frame):
    """exit_files -> close_files (kernel/exit.c, 2.6.6): close every fd of the task, lowest
    first."""

    KIND = "exit_files"
    FIELDS = ()
    #: resumes at the step after its callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self) -> None:
        super().__init__("exit_files")

    def step(self, k: Kernel, task: Task) -> int:
        if not task.files:
            self.result = 0
            return KOP_DONE
        fd = min(task.files)
        ino = vl_fput(k, task, fd)
        if ino >= 0:
            vl_push(task, DeleteInodeOp(ino))
        return KOP_CONTINUE


def sys_open(k: Kernel, task: Task, insn: Insn) -> KOp:
    """open(2): s = path, b = O_* flags; returns the fd."""
    return OpenOp(insn.s, insn.b)


def sys_close(k: Kernel, task: Task, insn: Insn) -> KOp:
    """close(2): s = path (the task's lowest fd open on it)."""
    return CloseOp(insn.s)


def sys_unlink(k: Kernel, task: Task, insn: Insn) -> KOp:
    """unlink(2): s = path."""
    return UnlinkOp(insn.s)


def vl_exit_files(k: Kernel, task: Task) -> KOp:
    """The op that closes every file of an exiting task (push it from the exit path)."""
    return ExitFilesOp()
