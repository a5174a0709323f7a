"""Convert the output of ``valgrind --tool=lackey --trace-mem=yes`` into a trace, as it arrives.

lackey prints one line per access: ``I  0401ab70,3`` (instruction fetch), `` L 1ffefffe38,8``
(load), `` S ...`` (store) and `` M ...`` (modify: a load and a store of the same bytes by
one instruction), the address in hex and the size in decimal. valgrind's own messages start
with ``==PID==``; the ``Command:`` message names the traced command. ``Converter.feed`` takes
the log in chunks of any size (a chunk may end inside a line), so ``vmlab trace record``
converts the pipe from valgrind without a temporary file and ``vmlab trace import`` reads a
saved log; both give the same trace for the same log, byte for byte.

Lines that are neither an access nor a valgrind message are refused (a log that is not
lackey's), with their line number.
"""

from __future__ import annotations

import re
from array import array
from typing import Final

from scenarios.trace.format import (
    KINDS,
    PAGE_SHIFT,
    PAGE_SIZE,
    Trace,
    TraceError,
    body_checksum,
)
from scenarios.trace.regions import derive_regions

_ACCESS: Final = re.compile(rb"(?:I |\s([LSM])) +([0-9a-fA-F]{1,16}),(\d{1,5})\r?")
_COMMAND: Final = re.compile(rb"==\d+== Command: (.*?)\r?")
_KIND_CODE: Final = {b"L": 1, b"S": 2, b"M": 3}
#: Longest line accepted (lackey's are about 20 bytes; valgrind messages can be long).
MAX_LINE: Final = 64 << 10
_OFFSET_MASK: Final = PAGE_SIZE - 1
_RUN_MAX: Final = 0xFFFFFFFF


class Converter:
    """Builds a trace from lackey's log, fed in chunks."""

    def __init__(self) -> None:
        self.command = ""
        self.accesses = 0
        self.lines = 0
        self.bytes_in = 0
        self._partial = b""
        self._page = -1
        self.run_page: array[int] = array("Q")
        self.run_len: array[int] = array("I")
        self.offset: array[int] = array("H")
        self.size: array[int] = array("H")
        self.kind: array[int] = array("B")
        self._pages: set[int] = set()
        self._fetch_pages: set[int] = set()
        #: valgrind's messages (``==PID== ...``), kept for error reports.
        self.messages: list[str] = []

    def feed(self, chunk: bytes) -> None:
        """Convert the complete lines of ``partial + chunk``; keep the incomplete tail.

        Raises:
            TraceError: a line is not lackey's.
        """
        self.bytes_in += len(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE:
                raise TraceError(f"line {self.lines + 1}: longer than {MAX_LINE} bytes; not a "
                                 f"lackey log")
            self._partial = data
            return
        self._partial = data[cut + 1 :]
        for line in data[:cut].split(b"\n"):
            self._line(line)

    def _line(self, line: bytes) -> None:
        self.lines += 1
        m = _ACCESS.fullmatch(line)
        if m is not None:
            k = m.group(1)
            self._access(0 if k is None else _KIND_CODE[k], int(m.group(2), 16),
                         int(m.group(3)))
            return
        if line.startswith(b"=="):
            c = _COMMAND.fullmatch(line)
            if c is not None and not self.command:
                self.command = c.group(1).decode("utf-8", "replace")
            if len(self.messages) < 200:
                self.messages.append(line.decode("utf-8", "replace"))
            return
        if not line.strip():
            return
        text = line[:60].decode("utf-8", "replace")
        raise TraceError(f"line {self.lines}: not a lackey line: {text!r} (expected "
                         f"'I  ADDR,SIZE', ' L|S|M ADDR,SIZE' or a valgrind '==PID==' message)")

    def _access(self, kind: int, addr: int, size: int) -> None:
        if size < 1 or size > PAGE_SIZE:
            raise TraceError(f"line {self.lines}: access size {size} outside 1..{PAGE_SIZE}")
        page = addr >> PAGE_SHIFT
        off = addr & _OFFSET_MASK
        if page != self._page or self.run_len[-1] == _RUN_MAX:
            self._page = page
            self.run_page.append(page)
            self.run_len.append(1)
            self._pages.add(page)
            if kind == 0:
                self._fetch_pages.add(page)
        else:
            self.run_len[-1] += 1
            if kind == 0 and page not in self._fetch_pages:
                self._fetch_pages.add(page)
        if off + size > PAGE_SIZE:
            self._pages.add(page + 1)
        self.offset.append(off)
        self.size.append(size)
        self.kind.append(kind)
        self.accesses += 1

    def finish(self) -> Trace:
        """The trace of everything fed so far (a last line without newline included).

        Raises:
            TraceError: the log held no accesses, or a bad last line.
        """
        if self._partial:
            tail, self._partial = self._partial, b""
            self._line(tail)
        if self.accesses == 0:
            raise TraceError("the log holds no memory accesses (was it recorded with "
                             "'valgrind --tool=lackey --trace-mem=yes'?)")
        regions = derive_regions(self._pages, self._fetch_pages)
        kinds_b = self.kind.tobytes()
        kinds = {k: kinds_b.count(i) for i, k in enumerate(KINDS)}
        from scenarios.trace.format import COLUMNS, _le

        cols = [_le(getattr(self, name)) for name, _, _ in COLUMNS]
        return Trace(self.command or "(unknown command)", self.accesses, kinds,
                     len(self._pages), regions, self.run_page, self.run_len, self.offset,
                     self.size, self.kind, body_checksum(cols))
