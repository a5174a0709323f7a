"""Record a program's memory accesses with valgrind's lackey, converting as they arrive.

valgrind writes lackey's log to a pipe (``--log-fd``); the reading end is fed to a
``Converter`` chunk by chunk, so a program that makes 100 million accesses (a 1.5 GB log)
needs no temporary file. ``--keep-log`` also copies the raw log to a file, which ``vmlab
trace import`` turns into the same trace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from scenarios.trace.format import Trace, TraceError
from scenarios.trace.lackey import Converter

CHUNK = 1 << 20
VALGRIND_ARGS = ("--tool=lackey", "--trace-mem=yes")


class ValgrindMissing(TraceError):
    """valgrind is not installed."""


@dataclass(frozen=True)
class Recording:
    trace: Trace
    exit_code: int
    log_bytes: int


def valgrind_path() -> str:
    """The valgrind executable.

    Raises:
        ValgrindMissing: not on PATH.
    """
    path = shutil.which("valgrind")
    if path is None:
        raise ValgrindMissing("valgrind is not installed (Debian/Ubuntu: apt-get install "
                              "valgrind); 'vmlab trace import' converts a lackey log recorded "
                              "elsewhere")
    return path


def convert_stream(stream: BinaryIO, progress: Callable[[Converter], None] | None = None,
                   keep: BinaryIO | None = None) -> Converter:
    """Feed ``stream`` to a new converter until its end (copying it to ``keep``)."""
    conv = Converter()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        if keep is not None:
            keep.write(chunk)
        conv.feed(chunk)
        if progress is not None:
            progress(conv)
    return conv


def record(command: Sequence[str], progress: Callable[[Converter], None] | None = None,
           keep_log: str | None = None, show_output: bool = False) -> Recording:
    """Run ``command`` under lackey and convert its accesses.

    The command's standard output and error go to /dev/null unless ``show_output``.

    Raises:
        ValgrindMissing: no valgrind.
        TraceError: valgrind could not run the command, or its log is not lackey's.
    """
    exe = valgrind_path()
    read_fd, write_fd = os.pipe()
    out = None if show_output else subprocess.DEVNULL
    # valgrind's complaints about the command itself ("command not found") go to stderr
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen([exe, *VALGRIND_ARGS, f"--log-fd={write_fd}", *command],
                                pass_fds=(write_fd,), stdout=out,
                                stderr=None if show_output else errors,
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        errors.close()
        raise TraceError(f"cannot run valgrind: {exc.strerror or exc}") from None
    os.close(write_fd)
    keep: BinaryIO | None = None
    try:
        if keep_log is not None:
            try:
                keep = open(keep_log, "wb")  # noqa: SIM115 - closed in finally
            except OSError as exc:
                raise TraceError(f"cannot write {keep_log}: {exc.strerror or exc}") from None
        with os.fdopen(read_fd, "rb", buffering=0) as stream:
            conv = convert_stream(stream, progress, keep)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if keep is not None:
            keep.close()
    code = proc.wait()
    errors.seek(0)
    said = [line.strip() for line in errors.read(1 << 16).decode("utf-8", "replace")
            .splitlines() if line.strip()]
    errors.close()
    if conv.accesses == 0:
        said += [m for m in conv.messages if "valgrind:" in m or "rror" in m]
        raise TraceError(f"valgrind recorded no accesses (exit status {code})"
                         + (f": {said[0]}" if said else ""))
    return Recording(conv.finish(), code, conv.bytes_in)
