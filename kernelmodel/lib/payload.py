"""Write payloads: the bytes a scenario's write(2) puts in a file, a function of the write's
seed and the byte's position in the write (model only, no kernel counterpart or release).

A write of ``count`` bytes with seed ``s`` writes bytes ``[0, count)`` of the *stream* of
``s``; the write path produces it page by page (``vl_payload_slice``), and the data oracle
and compact snapshots regenerate any page of it from (seed, stream offset), so neither keeps a
copy. The generator is part of the model's results: a state records which one its writes use
(``Oracle.generator``) and keeps using it, so a snapshot from before a change resumes and
reproduces its bytes exactly.

Generators:
    * ``PAYLOAD_GEN_SPLITMIX`` (1): the stream is the little-endian u64 outputs of SplitMix64
      seeded with ``s`` (``rng.vl_pattern_bytes``). Python big-integer arithmetic per word:
      about 0.3 ms per 4 KiB page, the model's slowest data path. Kept for states that use it.
    * ``PAYLOAD_GEN_SHAKE`` (2, the current one): the stream is cut into 4 KiB blocks; block
      ``j`` is the first 4096 bytes of SHAKE-128 (FIPS 202) of ``TAG + s + j``, ``s`` and
      ``j`` as 8-byte little-endian integers. One hashlib call per page, so a page costs the
      same microseconds compiled and interpreted, and the bytes are the same on every host
      and build (SHAKE-128 is a standard, not an implementation).

Both are uniform-looking byte streams: pages of different seeds or offsets differ nearly
everywhere, so a page written to the wrong place, a stale page or a shifted copy is caught.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Final

#: The generator of states written before generators were recorded (snapshot formats 1-4).
PAYLOAD_GEN_SPLITMIX: Final = 1
#: SHAKE-128 per 4 KiB block.
PAYLOAD_GEN_SHAKE: Final = 2
#: What a freshly booted kernel uses.
PAYLOAD_GENERATOR: Final = PAYLOAD_GEN_SHAKE
#: Every generator this vmlab can produce.
PAYLOAD_GENERATORS: Final = (PAYLOAD_GEN_SPLITMIX, PAYLOAD_GEN_SHAKE)

#: What a boot-time file holds (``files.PATH.content``): zeros, a pattern of its offsets, or
#: seeded random bytes. The filesystem writes such a file straight to the disk and tells the
#: data oracle its kind in these words (``VlFileOracleHooks.file_create``), and the oracle
#: regenerates any page of it from (kind, seed).
BASE_ZERO: Final = 0
BASE_PATTERN: Final = 1
BASE_RANDOM: Final = 2

#: Bytes of one SHAKE block (a page: a page-aligned write costs one call per page).
BLOCK_SIZE: Final = 4096
BLOCK_SHIFT: Final = 12
#: Domain separation from boot-time "random" files (oracle.vl_base_page hashes seed + index).
_SHAKE_TAG: Final = b"vmlab write payload"

_MASK64: Final = 0xFFFFFFFFFFFFFFFF
#: SplitMix64's increment (the state advances by it once per u64).
_GOLDEN: Final = 0x9E3779B97F4A7C15


def vl_payload_slice(generator: int, seed: int, start: int, length: int) -> bytes:
    """Bytes ``[start, start + length)`` of the payload stream of ``seed``.

    Args:
        generator: PAYLOAD_GEN_SPLITMIX or PAYLOAD_GEN_SHAKE.
        seed: the write's payload seed (insn.d of write; any int, taken modulo 2**64).
        start: byte offset in the stream (>= 0).
        length: bytes wanted (>= 0).

    Raises:
        ValueError: an unknown generator.
    """
    if generator == PAYLOAD_GEN_SHAKE:
        return vl_shake_slice(seed, start, length)
    if generator == PAYLOAD_GEN_SPLITMIX:
        return vl_splitmix_slice(seed, start, length)
    raise ValueError(f"unknown payload generator {generator}")


def vl_shake_block(seed: int, block: int) -> bytes:
    """Block ``block`` (4096 bytes) of the SHAKE payload stream of ``seed``."""
    key = _SHAKE_TAG + (seed & _MASK64).to_bytes(8, "little") + \
        (block & _MASK64).to_bytes(8, "little")
    return hashlib.shake_128(key).digest(BLOCK_SIZE)


def vl_shake_slice(seed: int, start: int, length: int) -> bytes:
    """``vl_payload_slice`` of PAYLOAD_GEN_SHAKE."""
    if length <= 0:
        return b""
    first = start >> BLOCK_SHIFT
    skip = start & (BLOCK_SIZE - 1)
    if skip == 0 and length == BLOCK_SIZE:
        return vl_shake_block(seed, first)  # a page-aligned page: no copy
    last = (start + length - 1) >> BLOCK_SHIFT
    data = b"".join([vl_shake_block(seed, b) for b in range(first, last + 1)])
    return data[skip : skip + length]


def vl_splitmix_slice(seed: int, start: int, length: int) -> bytes:
    """``vl_payload_slice`` of PAYLOAD_GEN_SPLITMIX:
    ``rng.vl_pattern_bytes(seed, start + length)[start:]`` without generating the prefix.

    SplitMix64's state after j steps is ``seed + j * golden``, so the stream can be entered
    at any u64. (The generator is written out here, rng.Rng.next_u64 inlined.)
    """
    if length <= 0:
        return b""
    first = start >> 3
    n = ((start + length + 7) >> 3) - first
    state = (seed + first * _GOLDEN) & _MASK64
    words = [0] * n
    j = 0
    while j < n:
        state = (state + _GOLDEN) & _MASK64
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        words[j] = z ^ (z >> 31)
        j += 1
    skip = start & 7
    return struct.pack(f"<{n}Q", *words)[skip : skip + length]
