"""The state hash: one short fingerprint of everything the simulation holds.

``state_hash`` packs a ``to_state()`` tree with msgpack (binary strings kept as bin, so bytes
and str never collide) and hashes it with SHA-256. Dicts keep their insertion order, which the
model makes deterministic, so two runs of the same scenario and seed print the same hash, and
a snapshot restored and run on prints the hash the uninterrupted run printed.
"""

from __future__ import annotations

import hashlib

import msgpack


def pack_state(state: dict[str, object]) -> bytes:
    """The msgpack encoding the hash is taken over."""
    packed = msgpack.packb(state, use_bin_type=True)
    if not isinstance(packed, bytes):  # pragma: no cover - packb always returns bytes
        raise TypeError("msgpack.packb did not return bytes")
    return packed


def state_hash(state: dict[str, object]) -> str:
    """SHA-256 (hex) of the msgpack encoding of ``state``.

    Caller: ``state`` holds only ints, str, bytes, bools, lists and str-keyed dicts.
    """
    return hashlib.sha256(pack_state(state)).hexdigest()
