"""Snapshots: the whole simulation in one file, restored exactly; and info, decode and diff.

"Here is my snapshot; resume it and you see what I see." A snapshot holds everything a run
needs to go on: the machine and the kernel (``Kernel.to_state``: clock and event queue, RAM,
MMU and TLB, disk, struct pages, radix trees, tasks with their kernel stacks, VMAs, anon_vmas,
LRU, swap, writeback, the oracle, the rng), the scenario (so the remaining expectations still
run), the runner's own records (checkpoints hit and the metrics taken there) and versions.

The package, from the bottom up (the state encoding itself, shared with the session's state
hash and the in-memory checkpoints, is ``scenarios.state_codec``, below the session):

    errors       SnapshotError, SnapshotContradiction
    described    compact snapshots: pages stored as the write or boot file that made them
    migrations   one function per format step, the ``MIGRATIONS`` table, ``SNAPSHOT_VERSION``
    fileformat   header, zstd frame, limits, the top-level keys
    fields       plain-data accessors for the sections
    scenario     the scenario section (a scenario as TOML-shaped data, and back)
    save         writing (one walk that hashes and encodes)
    read         reading and its checks, into the migrated map (imports the session's records)
    load         restoring a checked map into a ``Session``
    inspection   ``snapshot info`` and ``decode``; space: what takes the space in a file
    differ       ``snapshot diff``; report: the Markdown bug report

Nothing here reads the wall clock, and saving changes nothing in the session. This module
hands on the names callers use; the session never imports this package.
"""

from __future__ import annotations

from scenarios.snapshot.differ import diff, diff_docs
from scenarios.snapshot.errors import SnapshotContradiction, SnapshotError
from scenarios.snapshot.fileformat import (
    FORMAT_NAME,
    LDM_MAX_BYTES,
    MAGIC,
    MAX_FILE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_RATIO,
    MIN_PAYLOAD_CAP,
    TOP_KEYS,
    ZSTD_LEVEL,
    ZSTD_WINDOW_LOG,
)
from scenarios.snapshot.inspection import decode, snapshot_info, state_counters
from scenarios.snapshot.load import load_snapshot, load_snapshot_bytes, session_from_snapshot
from scenarios.snapshot.migrations import MIGRATIONS, SNAPSHOT_VERSION
from scenarios.snapshot.read import read_snapshot, read_snapshot_bytes
from scenarios.snapshot.save import SavedSnapshot, save_snapshot, snapshot_bytes
from scenarios.snapshot.scenario import scenario_doc
from scenarios.state_codec import (
    COLUMN_MIN,
    EXT_BYTES,
    EXT_INTS,
    EXT_ROWS,
    MAX_DEPTH,
    ROW_MAX,
    decode_state,
    encode_state_pieces,
    state_digest,
)

__all__ = [
    "COLUMN_MIN", "EXT_BYTES", "EXT_INTS", "EXT_ROWS", "FORMAT_NAME", "LDM_MAX_BYTES", "MAGIC",
    "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_PAYLOAD_BYTES", "MAX_RATIO", "MIGRATIONS",
    "MIN_PAYLOAD_CAP", "ROW_MAX", "SNAPSHOT_VERSION", "TOP_KEYS", "ZSTD_LEVEL",
    "ZSTD_WINDOW_LOG", "SavedSnapshot", "SnapshotContradiction", "SnapshotError", "decode",
    "decode_state", "diff", "diff_docs", "encode_state_pieces", "load_snapshot",
    "load_snapshot_bytes", "read_snapshot", "read_snapshot_bytes", "save_snapshot",
    "scenario_doc", "session_from_snapshot", "snapshot_bytes", "snapshot_info",
    "state_counters", "state_digest",
]
