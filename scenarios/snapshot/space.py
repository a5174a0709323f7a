"""What takes the space in a snapshot file: each section's share, measured on the file itself.

The payload is walked with msgpack's streaming reader (values are skipped, not decoded), so
each section is the exact run of payload bytes the file holds for it; each run is then
compressed on its own (zstd, the file's level) to say how much of the file it accounts for.
The state's two big parts, ``state.machine`` (RAM and the disk) and ``state.oracle``, are
split one level further. The compressed figures add up to about the file's size (a section
compressed alone finds no matches in the others, so the sum is a little larger).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgpack
import zstandard

#: State sections broken down one level further.
_SPLIT: Final = ("machine", "oracle", "mm_oracle")


@dataclass(frozen=True)
class Share:
    """One section: its payload bytes and what they compress to alone."""

    section: str
    raw: int
    compressed: int


def _runs(payload: bytes) -> list[tuple[str, int, int]]:
    """(section, start, end) of each top-level value, the state's by its keys."""
    u = msgpack.Unpacker(raw=False, max_buffer_size=len(payload) + 1, strict_map_key=False)
    u.feed(payload)
    out: list[tuple[str, int, int]] = []

    def walk_map(prefix: str, depth: int) -> None:
        for _ in range(u.read_map_header()):
            key = str(u.unpack())
            start = u.tell()
            name = f"{prefix}{key}"
            if (depth == 0 and key == "state") or (depth == 1 and key in _SPLIT):
                walk_map(name + ".", depth + 1)
                continue
            u.skip()
            out.append((name, start, u.tell()))

    walk_map("", 0)
    return out


def space(payload: bytes, level: int = 3) -> list[Share]:
    """Every section's share of a snapshot payload (the decompressed msgpack), largest first.

    Raises:
        ValueError: the payload is not a snapshot map.
    """
    try:
        runs = _runs(payload)
    except (msgpack.UnpackException, ValueError) as exc:
        raise ValueError(f"cannot walk the payload: {exc}") from None
    cctx = zstandard.ZstdCompressor(level=level)
    shares = [Share(name, end - start, len(cctx.compress(payload[start:end])))
              for name, start, end in runs]
    return sorted(shares, key=lambda s: (-s.compressed, s.section))
