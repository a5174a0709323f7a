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
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, KOp
from kernelmodel.mm.truncate import TruncateInodePagesOp, TruncateOp

if TYPE_CHECKING:
    from collections.abc import Callable

    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.isa import Insn

# OpenOp phases
OP_LOOKUP: Final = 0
OP_INSTALL: Final = 1

# DeleteInodeOp phases
DI_START: Final = 0
DI_WAIT_INODE: Final = 1


def _st_int(state: dict[str, object], key: str) -> int:
    v = state.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"kop state: {key} must be an int")
    return v


def _st_str(state: dict[str, object], key: str) -> str:
    v = state.get(key)
    if not isinstance(v, str):
        raise ValueError(f"kop state: {key} must be a str")
    return v


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


class OpenOp(KOp):
    """sys_open: lookup or create, O_TRUNC, then install a new file at the lowest free fd.

    Attributes:
        path: the path; flags: O_* flags.
        ino: the inode once looked up (-1 before), holding a reference for the new file.
    """

    def __init__(self, path: str, flags: int) -> None:
        super().__init__("sys_open")
        self.path = path
        self.flags = flags
        self.ino = -1

    def describe(self) -> str:
        return f"open {self.path}"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["kind"] = "open"
        s["path"] = self.path
        s["flags"] = self.flags
        s["ino"] = self.ino
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KOp:
        op = OpenOp(_st_str(state, "path"), _st_int(state, "flags"))
        op.load_base_state(state)
        op.ino = _st_int(state, "ino")
        return op

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
            task.kstack.append(TruncateOp("", inode.i_ino, 0))
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


class CloseOp(KOp):
    """sys_close: drop the fd; the last close of an unlinked file deletes its inode."""

    def __init__(self, path: str) -> None:
        super().__init__("sys_close")
        self.path = path

    def describe(self) -> str:
        return f"close {self.path}"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["kind"] = "close"
        s["path"] = self.path
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KOp:
        op = CloseOp(_st_str(state, "path"))
        op.load_base_state(state)
        return op

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
            task.kstack.append(DeleteInodeOp(ino))
        return KOP_CONTINUE


class UnlinkOp(KOp):
    """sys_unlink: remove the name; delete the inode now if no file has it open."""

    def __init__(self, path: str) -> None:
        super().__init__("sys_unlink")
        self.path = path

    def describe(self) -> str:
        return f"unlink {self.path}"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["kind"] = "unlink"
        s["path"] = self.path
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KOp:
        op = UnlinkOp(_st_str(state, "path"))
        op.load_base_state(state)
        return op

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
            task.kstack.append(DeleteInodeOp(inode.i_ino))
        return KOP_CONTINUE


class DeleteInodeOp(KOp):
    """generic_delete_inode + ext2_delete_inode: free an unlinked inode nobody holds."""

    def __init__(self, ino: int) -> None:
        super().__init__("generic_delete_inode")
        self.ino = ino

    def describe(self) -> str:
        return f"delete inode {self.ino}"

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["kind"] = "delete_inode"
        s["ino"] = self.ino
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KOp:
        op = DeleteInodeOp(_st_int(state, "ino"))
        op.load_base_state(state)
        return op

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
            task.kstack.append(TruncateInodePagesOp(self.ino, 0))
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


class ExitFilesOp(KOp):
    """exit_files -> close_files: close every fd of the task, lowest first."""

    def __init__(self) -> None:
        super().__init__("exit_files")

    def to_state(self) -> dict[str, object]:
        s = super().to_state()
        s["kind"] = "exit_files"
        return s

    @staticmethod
    def from_state(state: dict[str, object]) -> KOp:
        op = ExitFilesOp()
        op.load_base_state(state)
        return op

    def step(self, k: Kernel, task: Task) -> int:
        if not task.files:
            self.result = 0
            return KOP_DONE
        fd = min(task.files)
        ino = vl_fput(k, task, fd)
        if ino >= 0:
            task.kstack.append(DeleteInodeOp(ino))
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


#: Rebuilders of this module's ops, by their to_state "kind".
KOPS: Final[dict[str, Callable[[dict[str, object]], KOp]]] = {
    "open": OpenOp.from_state,
    "close": CloseOp.from_state,
    "unlink": UnlinkOp.from_state,
    "delete_inode": DeleteInodeOp.from_state,
    "exit_files": ExitFilesOp.from_state,
}
