"""The ``.vmtrace`` file: a program's memory accesses as page-granular runs, msgpack + zstd.

A trace is the sequence of memory accesses valgrind's lackey tool printed for one run of a
program (instruction fetches I, loads L, stores S and modifies M, each with an address and
a size). Consecutive accesses to the same page form a *run*: the run names the page once and
each access keeps its kind, its byte offset in the page and its size. The program's address
space is described by *regions* (text, heap, stack, mmaps) derived from the addresses
(``scenarios.trace.regions``).

File layout (``TRACE_VERSION`` 1)::

    b"VMTRACE\\0"  u32 little-endian format version  one zstd frame (content size and checksum)
    holding one msgpack map:
        format    "vmlab-trace"
        version   the format version again
        command   the traced command line (from lackey's "Command:" line)
        accesses  number of accesses
        kinds     {"I": n, "L": n, "S": n, "M": n}
        pages     distinct pages touched (a page-crossing access touches both)
        regions   [[name, first page, page count], ...] sorted, disjoint, in original pages
        checksum  SHA-256 (hex) of the five body columns below, back to back: the identity
        run_page  bin: u64 page number of each run
        run_len   bin: u32 accesses in each run
        offset    bin: u16 byte offset of each access in its run's page
        size      bin: u16 size of each access in bytes (1..4096)
        kind      bin: u8 kind of each access (0 I, 1 L, 2 S, 3 M)

Columns are little-endian. Reading trusts nothing: the magic, the version, the frame (it
must declare its size, stay within a bound sized from the file, decode completely and pass
its checksum), msgpack with explicit limits, every key and type, column lengths, value
ranges, run pages inside regions, and the checksum of the body. Every failure is one
``TraceError`` line.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Final

import msgpack
import zstandard

MAGIC: Final = b"VMTRACE\x00"
TRACE_VERSION: Final = 1
FORMAT_NAME: Final = "vmlab-trace"
_HEADER: Final = struct.Struct("<8sI")
ZSTD_LEVEL: Final = 9

#: Access kinds, in the order of their codes.
KINDS: Final = ("I", "L", "S", "M")
KIND_I: Final = 0
KIND_L: Final = 1
KIND_S: Final = 2
KIND_M: Final = 3
PAGE_SIZE: Final = 4096
PAGE_SHIFT: Final = 12
#: Page numbers of 64-bit addresses fit in 52 bits.
MAX_PAGE: Final = (1 << 52) - 1
#: Largest trace file read, and largest payload it may decompress to.
MAX_FILE_BYTES: Final = 1 << 30
MAX_PAYLOAD_BYTES: Final = 4 << 30
#: Real traces decompress to 5-20 times their size; zeros would go much further.
MAX_RATIO: Final = 256
MIN_PAYLOAD_CAP: Final = 16 << 20
MAX_REGIONS: Final = 4096
MAX_TEXT: Final = 4096

TOP_KEYS: Final = ("format", "version", "command", "accesses", "kinds", "pages", "regions",
                   "checksum", "run_page", "run_len", "offset", "size", "kind")
#: Body columns: name, array type code, item size.
COLUMNS: Final = (("run_page", "Q", 8), ("run_len", "I", 4), ("offset", "H", 2),
                  ("size", "H", 2), ("kind", "B", 1))


class TraceError(ValueError):
    """A trace file or lackey log that cannot be used (one line, for the user)."""


@dataclass(frozen=True)
class Region:
    """A range of the traced program's address space, in its own (original) pages."""

    name: str
    start_page: int
    npages: int

    @property
    def end_page(self) -> int:
        return self.start_page + self.npages


@dataclass(frozen=True)
class Trace:
    """A decoded trace: header fields and the body columns."""

    command: str
    accesses: int
    kinds: dict[str, int]
    pages: int
    regions: tuple[Region, ...]
    run_page: array[int]
    run_len: array[int]
    offset: array[int]
    size: array[int]
    kind: array[int]
    checksum: str

    @property
    def runs(self) -> int:
        return len(self.run_len)


def _le(a: array[int]) -> bytes:
    """The array's bytes, little-endian."""
    if sys.byteorder == "little" or a.itemsize == 1:
        return a.tobytes()
    b = array(a.typecode, a)
    b.byteswap()
    return b.tobytes()


def _from_le(code: str, data: bytes) -> array[int]:
    a = array(code)
    a.frombytes(data)
    if sys.byteorder != "little" and a.itemsize > 1:
        a.byteswap()
    return a


def body_checksum(columns: list[bytes]) -> str:
    """SHA-256 of the body columns back to back (the trace's identity)."""
    h = hashlib.sha256()
    for c in columns:
        h.update(c)
    return h.hexdigest()


def encode_trace(trace: Trace) -> bytes:
    """The file bytes of ``trace`` (deterministic: the same trace gives the same bytes)."""
    cols = {name: _le(getattr(trace, name)) for name, _, _ in COLUMNS}
    doc: dict[str, object] = {
        "format": FORMAT_NAME,
        "version": TRACE_VERSION,
        "command": trace.command,
        "accesses": trace.accesses,
        "kinds": {k: trace.kinds.get(k, 0) for k in KINDS},
        "pages": trace.pages,
        "regions": [[r.name, r.start_page, r.npages] for r in trace.regions],
        "checksum": trace.checksum,
        **cols,
    }
    payload = msgpack.packb(doc, use_bin_type=True)
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, write_checksum=1, write_content_size=1)
    frame = zstandard.ZstdCompressor(compression_params=params).compress(payload)
    return _HEADER.pack(MAGIC, TRACE_VERSION) + frame


def write_trace(trace: Trace, path: str | os.PathLike[str]) -> int:
    """Write ``trace`` to ``path`` (through a temporary file, renamed when complete).

    Returns:
        The file's size in bytes.

    Raises:
        TraceError: the file cannot be written.
    """
    data = encode_trace(trace)
    name = os.fspath(path)
    tmp = f"{name}.part"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, name)
    except OSError as exc:
        raise TraceError(f"cannot write {name}: {exc.strerror or exc}") from None
    return len(data)


# ---- reading -------------------------------------------------------------------------------


def _payload(data: bytes, where: str) -> bytes:
    if len(data) < _HEADER.size:
        raise TraceError(f"{where}: not a vmlab trace (only {len(data)} bytes)")
    magic, version = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise TraceError(f"{where}: not a vmlab trace (bad magic {magic!r})")
    if version != TRACE_VERSION:
        newer = "a newer" if version > TRACE_VERSION else "an unknown"
        raise TraceError(f"{where}: {newer} trace format version {version}; this vmlab reads "
                         f"version {TRACE_VERSION}")
    frame = data[_HEADER.size :]
    try:
        size = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as exc:
        raise TraceError(f"{where}: damaged (bad compressed frame: {exc})") from None
    cap = min(MAX_PAYLOAD_BYTES, max(MIN_PAYLOAD_CAP, MAX_RATIO * len(frame)))
    if size < 0:
        raise TraceError(f"{where}: damaged (the compressed frame does not declare its size)")
    if size > cap:
        raise TraceError(f"{where}: damaged (the frame claims {size} bytes, more than {cap} "
                         f"for a file of this size)")
    try:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        out = dobj.decompress(frame)
        if not dobj.eof:
            raise TraceError(f"{where}: damaged (the compressed frame is cut short)")
        if dobj.unused_data:
            raise TraceError(f"{where}: damaged ({len(dobj.unused_data)} bytes after the "
                             f"compressed frame)")
    except zstandard.ZstdError as exc:
        raise TraceError(f"{where}: damaged ({exc})") from None
    if len(out) != size:
        raise TraceError(f"{where}: damaged (the frame holds {len(out)} bytes, not {size})")
    return out


def _int(doc: dict[str, object], key: str, where: str, low: int = 0,
         high: int = (1 << 63) - 1) -> int:
    v = doc[key]
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        raise TraceError(f"{where}: damaged ({key} must be an integer in {low}..{high})")
    return v


def _str(v: object, what: str, where: str) -> str:
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise TraceError(f"{where}: damaged ({what} must be a string of at most {MAX_TEXT} "
                         f"characters)")
    return v


def _regions(v: object, where: str) -> tuple[Region, ...]:
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_REGIONS:
        raise TraceError(f"{where}: damaged (regions must be a list of 1..{MAX_REGIONS})")
    out: list[Region] = []
    end = -1
    for item in v:
        if not isinstance(item, list) or len(item) != 3:
            raise TraceError(f"{where}: damaged (a region must be [name, first page, pages])")
        name = _str(item[0], "a region name", where)
        start, n = item[1], item[2]
        if not isinstance(start, int) or not isinstance(n, int) or isinstance(start, bool) \
                or isinstance(n, bool) or start < 0 or n < 1 or start + n > MAX_PAGE + 1:
            raise TraceError(f"{where}: damaged (region {name!r} has a bad page range)")
        if start < end:
            raise TraceError(f"{where}: damaged (regions overlap or are out of order)")
        end = start + n
        out.append(Region(name, start, n))
    return tuple(out)


def decode_trace(data: bytes, where: str) -> Trace:
    """Decode and check a trace file's bytes.

    Raises:
        TraceError: one line naming what is wrong.
    """
    payload = _payload(data, where)
    n = len(payload)
    try:
        doc = msgpack.unpackb(payload, raw=False, strict_map_key=True, use_list=True,
                              max_bin_len=n, max_str_len=min(n, MAX_TEXT * 4),
                              max_array_len=min(n, MAX_REGIONS), max_map_len=32,
                              max_ext_len=0)
    except (ValueError, msgpack.UnpackException) as exc:
        raise TraceError(f"{where}: damaged ({str(exc).splitlines()[0] if str(exc) else exc})") \
            from None
    if not isinstance(doc, dict) or list(doc) != list(TOP_KEYS):
        raise TraceError(f"{where}: damaged (the content is not a trace map with the keys "
                         f"{', '.join(TOP_KEYS)})")
    if doc["format"] != FORMAT_NAME or doc["version"] != TRACE_VERSION:
        raise TraceError(f"{where}: damaged (format or version field is wrong)")
    command = _str(doc["command"], "command", where)
    accesses = _int(doc, "accesses", where, 1)
    pages = _int(doc, "pages", where, 1)
    checksum = _str(doc["checksum"], "checksum", where)
    kinds_v = doc["kinds"]
    if not isinstance(kinds_v, dict) or list(kinds_v) != list(KINDS) or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0
            for x in kinds_v.values()):
        raise TraceError(f"{where}: damaged (kinds must map I, L, S, M to counts)")
    kinds: dict[str, int] = {k: int(x) for k, x in kinds_v.items()}
    regions = _regions(doc["regions"], where)
    raw: list[bytes] = []
    cols: dict[str, array[int]] = {}
    for name, code, item in COLUMNS:
        b = doc[name]
        if not isinstance(b, bytes) or len(b) % item:
            raise TraceError(f"{where}: damaged ({name} must be a byte string of "
                             f"{item}-byte items)")
        raw.append(b)
        cols[name] = _from_le(code, b)
    if body_checksum(raw) != checksum:
        raise TraceError(f"{where}: damaged (the body does not match its checksum)")
    trace = Trace(command, accesses, kinds, pages, regions, cols["run_page"], cols["run_len"],
                  cols["offset"], cols["size"], cols["kind"], checksum)
    _check_body(trace, where)
    return trace


def _check_body(t: Trace, where: str) -> None:
    """Column lengths, value ranges, counts and run pages inside their regions."""
    runs = len(t.run_len)
    if len(t.run_page) != runs or runs == 0:
        raise TraceError(f"{where}: damaged (run_page and run_len differ in length)")
    if not all(len(c) == t.accesses for c in (t.offset, t.size, t.kind)):
        raise TraceError(f"{where}: damaged (the access columns do not hold {t.accesses} "
                         f"accesses)")
    if min(t.run_len) < 1 or sum(t.run_len) != t.accesses:
        raise TraceError(f"{where}: damaged (run lengths do not add up to the access count)")
    if max(t.offset) >= PAGE_SIZE or min(t.size) < 1 or max(t.size) > PAGE_SIZE:
        raise TraceError(f"{where}: damaged (an access offset or size is out of range)")
    kind_bytes = t.kind.tobytes()
    counts = [kind_bytes.count(i) for i in range(len(KINDS))]
    if sum(counts) != t.accesses or counts != [t.kinds[k] for k in KINDS]:
        raise TraceError(f"{where}: damaged (access kinds do not match the kind counts)")
    starts = [r.start_page for r in t.regions]
    ends = [r.end_page for r in t.regions]
    import bisect

    pos = 0
    for r in range(runs):
        page = t.run_page[r]
        n = t.run_len[r]
        i = bisect.bisect_right(starts, page) - 1
        if i < 0 or page >= ends[i]:
            raise TraceError(f"{where}: damaged (run {r} is on page {page:#x}, outside every "
                             f"region)")
        if page + 1 == ends[i]:
            # the last page of a region: no access of the run may spill past the region
            for a in range(pos, pos + n):
                if t.offset[a] + t.size[a] > PAGE_SIZE:
                    raise TraceError(f"{where}: damaged (access {a} crosses out of region "
                                     f"{t.regions[i].name!r})")
        pos += n


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read and check a trace file.

    Raises:
        TraceError: one line naming what is wrong (unreadable, damaged, newer format).
    """
    name = os.fspath(path)
    where = os.path.basename(name)
    try:
        size = os.path.getsize(name)
        if size > MAX_FILE_BYTES:
            raise TraceError(f"{where}: {size} bytes is larger than any trace "
                             f"({MAX_FILE_BYTES} at most)")
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TraceError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TraceError(f"{where}: larger than any trace ({MAX_FILE_BYTES} bytes at most)")
    return decode_trace(data, where)
