"""Forging snapshots for the tests: edit a saved state by hand and recompute its hash, as a
forger would, so that only restore's checks stand between the edit and a running kernel."""

from __future__ import annotations

import struct
from collections.abc import Callable

import msgpack
import zstandard

from scenarios.snapshot import MAGIC, SNAPSHOT_VERSION
from scenarios.snapshot.fileformat import compress
from scenarios.state import state_hash
from scenarios.state_codec import encode, ext_hook

State = dict[str, object]


def read_doc(data: bytes) -> dict[str, object]:
    """The document of a snapshot file (written full: no described pages to fill in)."""
    payload = zstandard.ZstdDecompressor().decompress(data[12:])
    doc = msgpack.unpackb(payload, raw=False, strict_map_key=True, ext_hook=ext_hook)
    assert isinstance(doc, dict)
    return doc


def forge(data: bytes, change: Callable[[State], None]) -> bytes:
    """``data`` with ``change`` applied to its state and the state hash recomputed."""
    doc = read_doc(data)
    state = doc["state"]
    assert isinstance(state, dict)
    change(state)
    doc["state_hash"] = state_hash(state)
    return struct.pack("<8sI", MAGIC, SNAPSHOT_VERSION) + compress(encode(doc))


def zone(s: State) -> dict[str, list[int]]:
    return s["pgdat"]["zone"]  # type: ignore[index, no-any-return]


def mem_map(s: State) -> dict[str, list[int]]:
    return s["mem_map"]  # type: ignore[return-value]
