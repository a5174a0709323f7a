"""Reading a file the user named: a regular file of bounded size, or one line saying why not.

Every command that reads a file named on its command line (a scenario, a snapshot, a trace)
reads it through ``read_input_file``. A name can point anywhere: at ``/dev/zero`` or
``/dev/urandom`` (endless), at a named pipe (opening it blocks until a writer comes, perhaps
never), at a socket or a directory, or at a file far larger than any input vmlab writes. So:

* the kind of file is checked with ``stat`` *before* it is opened, and anything but a regular
  file (after following symbolic links) is refused, naming what it is;
* its size is checked against the caller's limit before reading;
* it is opened non-blocking, checked again with ``fstat`` (it may have been replaced in
  between), and read with the limit enforced on the bytes actually read (a file that grows
  while being read is refused too).

Errors are ``InputFileError`` with a one-line message naming the file.
"""

from __future__ import annotations

import os
import stat
from typing import Final

#: How much is read at a time.
_CHUNK: Final = 1 << 20


class InputFileError(ValueError):
    """A named input file that is not a readable regular file of acceptable size."""


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for the message."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check(st: os.stat_result, name: str, what: str, max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{name}: {_kind(st.st_mode)}, not a {what} file (only regular "
                             f"files are read)")
    if st.st_size > max_bytes:
        raise InputFileError(f"{name}: {st.st_size:,} bytes is larger than any {what} file "
                             f"({max_bytes:,} bytes at most)")


def check_input_file(path: str | os.PathLike[str], what: str, max_bytes: int) -> None:
    """Refuse ``path`` unless it is a regular file (links followed) of at most ``max_bytes``.

    Nothing is opened.

    Raises:
        InputFileError: it does not exist, cannot be examined, is not a regular file, or is
            too large.
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except OSError as exc:
        raise InputFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    _check(st, name, what, max_bytes)


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a regular file (links followed); never opens it."""
    try:
        return stat.S_ISREG(os.stat(os.fspath(path)).st_mode)
    except (OSError, ValueError):
        return False


def read_input_file(path: str | os.PathLike[str], what: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Args:
        path: the file the user named.
        what: what it should be, for messages ("scenario", "snapshot").
        max_bytes: the largest acceptable size.

    Raises:
        InputFileError: see ``check_input_file``; also when it cannot be opened or read, or
            grows past ``max_bytes`` while being read.
    """
    name = os.fspath(path)
    check_input_file(name, what, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        _check(os.fstat(fd), name, what, max_bytes)
        parts: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise InputFileError(f"{name}: grew past {max_bytes:,} bytes while being read "
                                     f"(larger than any {what} file)")
    except OSError as exc:
        raise InputFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return b"".join(parts)
