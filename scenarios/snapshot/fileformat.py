"""The snapshot file: its header, its compressed frame and the limits a reader keeps.

File format (``SNAPSHOT_VERSION``, the format the last step of ``MIGRATIONS`` reaches)::

    b"VMLABSNP"  u32 little-endian format version  one zstd frame (128 MiB window, level 3
    with long-distance matching up to 256 MiB, level 1 above; content size and checksum)
    holding one msgpack map in the state encoding (scenarios/state_codec.py):
        format         "vmlab-snapshot"
        version        the format version again
        vmlab_version  the version of vmlab that wrote it
        behaviour_version  the model behaviour the state was produced under
                       (``scenarios.behaviour``; 0: not recorded, formats 1 to 3)
        scenario       {doc: the scenario as TOML-shaped plain data, source, seed,
                        kernel: {profile, writeback, rmap, vmscan, swapin}}
        session        {events, sim_time_ns, end_reason, checkpoints: [{name, pid, time_ns,
                        metrics, notes}], expectations: the checkpoint expectations so far,
                        story: [[index into the scenario's [[story]], event, time_ns], ...]
                        the story texts shown so far (format 5),
                        series: the counters over time (scenarios/series.py: interval_ns,
                        next_ns, max_samples, names, times, columns)}
        described      pages of the state stored as the write or boot file that made
                       them ({} in a full snapshot; scenarios/snapshot/described.py)
        state          Kernel.to_state(), described pages zeroed
        state_hash     scenarios.state.state_hash(state) of the whole state, described pages
                       filled in: what ``vmlab run`` prints

Reading trusts nothing: the magic and version are checked first; a newer version is
refused, naming the version needed; the zstd frame must declare its size, stay within a
bound sized from the file, decode completely, pass its checksum and leave no trailing bytes;
the msgpack is decoded within limits and checked for depth and types
(``scenarios.state_codec.unpack``). Every failure is one ``SnapshotError`` line.
"""

from __future__ import annotations

import os
import struct
from typing import Final

import msgpack
import zstandard

from scenarios.input_file import InputFileError, read_input_file
from scenarios.snapshot.errors import SnapshotError, exc_line
from scenarios.snapshot.migrations import SNAPSHOT_VERSION
from scenarios.state_codec import Piece, unpack

MAGIC: Final = b"VMLABSNP"
FORMAT_NAME: Final = "vmlab-snapshot"
#: The magic and the format version (u32, little-endian) before the zstd frame.
HEADER: Final = struct.Struct("<8sI")
ZSTD_LEVEL: Final = 3
#: The level of payloads above LDM_MAX_BYTES (RAM of 256 MiB and more): level 3 costs a
#: fifth more time there for a file a sixth smaller (256 MiB after swap-storm: 0.47 s and
#: 2.09 MB at level 3, 0.39 s and 2.47 MB at level 1). Any level decodes the same way.
ZSTD_LEVEL_LARGE: Final = 1
#: 128 MiB: zstd's default decoder limit, so any zstd tool can decompress the frame.
ZSTD_WINDOW_LOG: Final = 27
#: Long-distance matching for payloads up to this size: it finds a page again in RAM, on disk
#: and in the oracle, halving file-heavy snapshots, at about 2 ms per MiB; above this size
#: it would cost seconds (a 256 MiB machine after swap-storm has a 387 MB payload).
LDM_MAX_BYTES: Final = 256 << 20

#: Largest snapshot file read.
MAX_FILE_BYTES: Final = 8 << 30
#: The decompressed payload may be this many times the compressed one (plus the floor); a
#: freshly booted 3 GiB machine, the most compressible state measured, reaches 2,400.
MAX_RATIO: Final = 8192
MIN_PAYLOAD_CAP: Final = 32 << 20
#: The decompressed payload is never larger than this.
MAX_PAYLOAD_BYTES: Final = 16 << 30

#: Hex digits of a state hash (SHA-256).
DIGEST_CHARS: Final = 64

#: Top-level keys of the snapshot map, in order.
TOP_KEYS: Final = ("format", "version", "vmlab_version", "behaviour_version", "scenario",
                   "session", "described", "state", "state_hash")


# ---- writing -----------------------------------------------------------------------------------


def compressor(size: int) -> zstandard.ZstdCompressionObj:
    """A zstd compressor for one frame of ``size`` bytes: level 3 with a 128 MiB window, the
    content size and a checksum. Long-distance matching (it finds the same page in RAM, on
    disk and in the oracle) is used up to LDM_MAX_BYTES, where it costs little; above it the
    frame is written at ZSTD_LEVEL_LARGE."""
    small = size <= LDM_MAX_BYTES
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL if small else ZSTD_LEVEL_LARGE, window_log=ZSTD_WINDOW_LOG, enable_ldm=small,
        write_checksum=1, write_content_size=1, threads=0,
    )
    return zstandard.ZstdCompressor(compression_params=params).compressobj(size=size)


def compress_pieces(pieces: list[Piece], size: int) -> bytes:
    """One zstd frame (``compressor``) over the pieces back to back."""
    cobj = compressor(size)
    out = [cobj.compress(piece) for piece in pieces]
    out.append(cobj.flush())
    return b"".join(out)


def compress(payload: bytes) -> bytes:
    """``compress_pieces`` of one payload."""
    return compress_pieces([payload], len(payload))


# ---- reading -----------------------------------------------------------------------------------


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a snapshot file, refused (one line) above ``MAX_FILE_BYTES``."""
    try:
        return read_input_file(path, "snapshot", MAX_FILE_BYTES)
    except InputFileError as exc:
        raise SnapshotError(str(exc)) from None


def _frame_end(frame: bytes) -> int:
    """The length of the zstd frame at the start of ``frame``, from its block headers.

    Raises:
        ValueError: the frame is cut short or has a reserved block type.
    """
    pos = zstandard.frame_header_size(frame)
    checksum = zstandard.get_frame_parameters(frame).has_checksum
    while True:
        if pos + 3 > len(frame):
            raise ValueError("a block header is missing")
        word = frame[pos] | frame[pos + 1] << 8 | frame[pos + 2] << 16
        kind = (word >> 1) & 3
        if kind == 3:
            raise ValueError("reserved block type")
        pos += 3 + (1 if kind == 1 else word >> 3)
        if pos > len(frame):
            raise ValueError("a block is cut short")
        if word & 1:
            break
    return pos + (4 if checksum else 0)


def read_payload(data: bytes, where: str) -> tuple[int, bytes]:
    """Check the header and decompress the frame: (format version, msgpack bytes)."""
    if len(data) < HEADER.size:
        raise SnapshotError(f"{where}: not a vmlab snapshot (only {len(data)} bytes)")
    magic, version = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{where}: not a vmlab snapshot (bad magic {magic!r})")
    if version > SNAPSHOT_VERSION:
        raise SnapshotError(f"{where}: written by a newer vmlab (snapshot format version "
                            f"{version}); this vmlab reads up to version {SNAPSHOT_VERSION}: "
                            f"install a vmlab that reads format version {version}")
    frame = data[HEADER.size :]
    try:
        size = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as exc:
        raise SnapshotError(f"{where}: damaged (bad compressed frame: {exc})") from None
    cap = min(MAX_PAYLOAD_BYTES, max(MIN_PAYLOAD_CAP, MAX_RATIO * len(frame)))
    if size < 0:
        raise SnapshotError(f"{where}: damaged (the compressed frame does not declare its size)")
    if size > cap:
        raise SnapshotError(f"{where}: damaged (the frame claims {size} bytes, more than "
                            f"{cap} for a file of this size)")
    try:
        end = _frame_end(frame)
    except (ValueError, zstandard.ZstdError) as exc:
        raise SnapshotError(f"{where}: damaged (truncated: {exc})") from None
    if end != len(frame):
        raise SnapshotError(f"{where}: damaged ({len(frame) - end} bytes after the compressed "
                            f"frame)")
    try:
        out = zstandard.ZstdDecompressor().decompress(frame)
    except zstandard.ZstdError as exc:
        raise SnapshotError(f"{where}: damaged ({exc})") from None
    if len(out) != size:
        raise SnapshotError(f"{where}: damaged (the frame holds {len(out)} bytes, not {size})")
    return version, out


def unpack_map(payload: bytes, where: str) -> dict[str, object]:
    """The decompressed payload as its checked tree (``scenarios.state_codec.unpack``), which
    must be a map."""
    try:
        obj = unpack(payload)
    except (ValueError, msgpack.UnpackException) as exc:
        raise SnapshotError(f"{where}: damaged ({exc_line(exc)})") from None
    if not isinstance(obj, dict):
        raise SnapshotError(f"{where}: damaged (the content is not a map)")
    return obj
