"""Snapshots: the whole simulation in one file, restored exactly; and info, decode and diff.

"Here is my snapshot; resume it and you see what I see." A snapshot holds everything a run
needs to go on: the machine and the kernel (``Kernel.to_state``: clock and event queue, RAM,
MMU and TLB, disk, struct pages, radix trees, tasks with their kernel stacks, VMAs, anon_vmas,
LRU, swap, writeback, the oracle, the rng), the scenario (so the remaining expectations still
run), the runner's own records (checkpoints hit and the metrics taken there) and versions.

File format (``SNAPSHOT_VERSION`` 5)::

    b"VMLABSNP"  u32 little-endian format version  one zstd frame (level 3, 128 MiB window,
    long-distance matching below 256 MiB, content size and checksum) holding one msgpack map:
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
                       them ({} in a full snapshot; scenarios/snapshot_described.py)
        state          Kernel.to_state(), described pages zeroed
        state_hash     scenarios.state.state_hash(state) of the whole state, described pages
                       filled in: what ``vmlab run`` prints

Large homogeneous lists are stored columnar, as msgpack ext types (one per list, never one
per object): ext 1 a list of ints (a width byte 1/2/4/8, then little-endian signed values),
ext 2 a list of short byte strings of one length (u32 length, then the strings back to
back), ext 3 a list of equal-length int lists (a row-length byte, then an ext-1 body of the
rows flattened). Decoding turns them back into lists, so the state is hashed exactly as
``vmlab run`` hashes it. Writing walks the state once (``_Writer``) into two lists of pieces,
the plain msgpack and the encoding; SHA-256 of the plain pieces runs on a second thread while
the encoded pieces go to the compressor (the state hash, which ends the payload, is compressed
last), and the large byte strings (RAM frames, disk chunks, oracle pages) are never copied.

Reading trusts nothing: the magic and version are checked first; a newer
version is refused, naming the version needed; the zstd frame must declare its size, stay
within a bound sized from the file, decode completely, pass its checksum and leave no trailing
bytes; msgpack runs with explicit limits sized from the data, ``strict_map_key`` and
``raw=False``, with the garbage collector off; the tree is then walked (iteratively) for depth
and types before any field is used; the state must hash to ``state_hash``, restore, hash the
same again, and pass the invariant checker and the data oracle before anything runs. Every
failure is one ``SnapshotError`` line.

An older format version goes through the named steps of ``MIGRATIONS`` (``_migrate_N_to_M``,
one per version step): ``_migrate_1_to_2`` brings version-1 files (before the pte-chain
kernels dropped anon_vma and 2.6.5 got its own swap-cache form) up to date;
``_migrate_2_to_3`` version-2 files (before the oracles named the frame, swap slot or disk
block that holds a page instead of repeating its bytes); ``_migrate_3_to_4`` version-3 files
(before reclaim and the swap-in fault became design switches: they ran 2.6.6's reclaim on
every profile and go on doing so; they get their profile's swap-in fault; and they did not
record the model's behaviour version); ``_migrate_4_to_5`` version-4 files (before the state
recorded its write-payload generator and the oracles kept pages as descriptions: they wrote
with the first generator and go on doing so; they had no story and sampled no counters
over time: an empty series samples from their clock on).

Invariants:
    * ``load_snapshot(p)`` then ``save_snapshot`` writes the bytes of ``p`` again (with
      ``compact=False`` for a file written full);
    * a compact and a full file of one session load into the same state (same hash);
    * running a loaded session to the end gives the state hash and metrics the uninterrupted
      run gives;
    * nothing here reads the wall clock, and saving changes nothing in the session.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import struct
import sys
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Final

import msgpack
import zstandard

from machine.borrowed import BorrowedBytes
from scenarios.gc_pause import collector_paused
from scenarios.input_file import InputFileError, read_input_file
from scenarios.one_line import one_line
from scenarios.snapshot_described import fill as fill_described

if TYPE_CHECKING:
    from scenarios.assembler import AssembledProgram
    from scenarios.schema import Scenario, StoryItem
    from scenarios.series import CounterSeries
    from scenarios.session import CheckpointRecord, Session
    from scenarios.snapshot_diff import SnapshotDiff
    from scenarios.story import StoryHit

MAGIC: Final = b"VMLABSNP"
SNAPSHOT_VERSION: Final = 5
FORMAT_NAME: Final = "vmlab-snapshot"
_HEADER: Final = struct.Struct("<8sI")
ZSTD_LEVEL: Final = 3
#: 128 MiB: zstd's default decoder limit, so any zstd tool can decompress the frame.
ZSTD_WINDOW_LOG: Final = 27
#: Long-distance matching for payloads up to this size: it finds a page again in RAM, on disk
#: and in the oracle, halving file-heavy snapshots, at about 2 ms per MiB; above this size
#: it would cost seconds (a 256 MiB machine after swap-storm has a 387 MB payload).
LDM_MAX_BYTES: Final = 256 << 20

#: Ext type codes of the columnar encodings.
EXT_INTS: Final = 1
EXT_BYTES: Final = 2
EXT_ROWS: Final = 3
#: Lists shorter than this stay plain msgpack arrays.
COLUMN_MIN: Final = 8
#: Widest row an ext-3 list holds.
ROW_MAX: Final = 8
_INT_CODES: Final = {1: "b", 2: "h", 4: "i", 8: "q"}
_I64_MIN: Final = -(1 << 63)
_I64_MAX: Final = (1 << 63) - 1

#: Deepest nesting a snapshot may have (the kernel state nests about a dozen levels).
MAX_DEPTH: Final = 48
#: Largest snapshot file read.
MAX_FILE_BYTES: Final = 8 << 30
#: The decompressed payload may be this many times the compressed one (plus the floor); a
#: freshly booted 3 GiB machine, the most compressible state measured, reaches 2,400.
MAX_RATIO: Final = 8192
MIN_PAYLOAD_CAP: Final = 32 << 20
#: The decompressed payload is never larger than this.
MAX_PAYLOAD_BYTES: Final = 16 << 30

#: Hex digits of a state hash (SHA-256).
_DIGEST_CHARS: Final = 64

#: Top-level keys of the snapshot map, in order.
TOP_KEYS: Final = ("format", "version", "vmlab_version", "behaviour_version", "scenario",
                   "session", "described", "state", "state_hash")


class SnapshotError(Exception):
    """A snapshot that cannot be written or read; ``str()`` is one line for the user."""


class SnapshotContradiction(SnapshotError):
    """A snapshot whose state restores but contradicts itself (the invariant checker, the
    struct page and filesystem field checks, the data oracle or the durable-data check found
    a problem); ``str()`` names the first contradiction, in one line."""


# ---- migrations --------------------------------------------------------------------------------

def _migrate_1_to_2(doc: dict[str, object]) -> dict[str, object]:
    """Format 1 -> 2. What changed in the state (the container is the same):

    * pte-chain kernels (2.6.5, 2.6.6) no longer keep anon_vmas beside the chains: anonymous
      pages of 2.6.6 have a NULL ``mapping``, so the anon_vmas and every vma's link to one go;
    * the 2.6.5 profile keeps a swap-cache page's entry in ``index`` (with ``mapping`` =
      swapper_space, a reference re-linked on restore), not in ``private``;
    * the file oracle keeps ``mmap_pending`` per file (shared-mapping stores fsync cannot
      see yet); version 1 did not track them, so every file starts with none.

    The old state must match its hash first (a migration never launders a damaged file);
    the new hash is computed over the new state.
    """
    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-1 state does not match its state_hash")
    cfg = state["cfg"]
    if cfg["rmap"] == "pte_chain":
        mm = state["mm"]
        mm["anon_vmas"] = []
        for vma in mm["vmas"]:
            vma["anon_vma"] = -1
        if cfg["release"] == "2.6.5":
            mem_map = state["mem_map"]
            for pfn in state["swapper_space"]["pfns"]:
                mem_map["index"][pfn] = mem_map["private"][pfn]
                mem_map["private"][pfn] = 0
    for f in state["oracle"]["files"]:
        f["mmap_pending"] = []
    out = dict(doc)
    out["version"] = 2
    out["state_hash"] = state_digest(state)
    return out


def _migrate_2_to_3(doc: dict[str, object]) -> dict[str, object]:
    """Format 2 -> 3: the oracles store a page whose bytes are exactly those of the place
    the kernel's structures lead to (a user page's frame or swap slot, a file page's
    page-cache frame or disk block) as that place (``in_frame``, ``on_disk``), not as bytes
    (kernelmodel/oracle/oracle_place.py).

    A version-2 oracle (every page as bytes, no places) is still a state this vmlab restores,
    but not the one it writes, and which pages become places depends on page tables, the
    page and swap caches and the disk: so the old state (checked against its hash first) is
    restored and written again, and the new hash computed over what is written.
    """
    from kernelmodel.state.restore import vl_kernel_from_state

    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-2 state does not match its state_hash")
    for oracle in [state["mm_oracle"], *state["oracle"]["files"]]:
        oracle["in_frame"] = []
        oracle["on_disk"] = []
    # what this vmlab's restorer reads; dropped again from what it writes
    _add_format_4_fields(state, swapin="2.6.7")
    _add_format_5_payload_fields(state)
    enabled = gc.isenabled()
    gc.disable()
    try:
        new = vl_kernel_from_state(state).to_state()
    finally:
        if enabled:
            gc.enable()
    _drop_format_5_payload_fields(new)
    _drop_format_4_fields(new)
    out = dict(doc)
    out["version"] = 3
    out["state"] = new
    out["state_hash"] = state_digest(new)
    return out


def _with_key_after(d: dict[str, object], after: str, key: str,
                    value: object) -> dict[str, object]:
    """A copy of ``d`` with ``key`` inserted right after ``after``."""
    if after not in d or key in d:
        raise ValueError(f"expected {after!r} and no {key!r}")
    out: dict[str, object] = {}
    for k, v in d.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


# ---- format 3 -> 4 ---------------------------------------------------------------------------
# Everything format 4 added lives between here and MIGRATIONS: the fields (added and, for the
# older steps that restore through this vmlab's restorer, dropped again) and the step itself.


def _add_format_4_fields(state: dict[str, object], swapin: str) -> None:
    """What format 4 added to the state, in place, each where ``to_state`` puts it (the state
    hash covers the order): ``cfg.vmscan`` = "2.6.6" (the reclaim every older file ran) and
    ``cfg.swapin`` after it, ``vmstat.nr_vmscan_write`` = 0 and kswapd's ``nr_mapped`` = 0."""
    cfg, vmstat, core = state.get("cfg"), state.get("vmstat"), state.get("kernel")
    if not isinstance(cfg, dict) or not isinstance(vmstat, dict) or not isinstance(core, dict):
        raise ValueError("the state has no cfg, vmstat or kernel map")
    cfg = _with_key_after(cfg, "rmap", "vmscan", "2.6.6")
    state["cfg"] = _with_key_after(cfg, "vmscan", "swapin", swapin)
    state["vmstat"] = _with_key_after(vmstat, "pgrotated", "nr_vmscan_write", 0)
    for task in core["tasks"]:
        for op in task["kstack"]:
            if op.get("op") == "kswapd":
                op["nr_mapped"] = 0


def _drop_format_4_fields(state: dict[str, object]) -> None:
    """Undo ``_add_format_4_fields`` (for a migration below format 4 that restores a state
    with this vmlab's restorer and writes it back in its own format)."""
    cfg, vmstat, core = state["cfg"], state["vmstat"], state["kernel"]
    assert isinstance(cfg, dict) and isinstance(vmstat, dict) and isinstance(core, dict)
    cfg.pop("swapin")
    if cfg.pop("vmscan") != "2.6.6" or vmstat.pop("nr_vmscan_write") != 0:
        raise ValueError("a state below format 4 ran 2.6.6's reclaim and counted no writes")
    for task in core["tasks"]:
        for op in task["kstack"]:
            if op.get("op") == "kswapd":
                op.pop("nr_mapped")


def _add_design_switches(doc: dict[str, object]) -> dict[str, object]:
    """Part of format 3 -> 4: reclaim (``vmscan``, "2.6.6" or "2.6.7") and the swap-in fault
    (``swapin``, the release whose do_swap_page runs) are design switches.

    Every version-3 file ran 2.6.6's reclaim, whatever its profile, so the migrated file
    says so (``vmscan = "2.6.6"`` in the kernel config and the stored kernel spec) and
    resumes as it would have: a 2.6.7 file shows a switched reclaim rather than silently
    changing code mid-run. A version-3 file gets its profile's swap-in fault
    (``scenarios.profiles.SWAPIN``): resumed, it goes on as that profile now runs. The
    scenario's own kernel table gets its profile's designs, as this vmlab reads a table
    without them. vmstat gains ``nr_vmscan_write`` (pages reclaim wrote; uncounted before,
    so 0). kswapd's op gains ``nr_mapped`` (2.6.7's ``sc.nr_mapped``; unused by 2.6.6's
    reclaim, 0). The old state must match its hash first; the new hash is computed over the
    new state.
    """
    from kernelmodel.kernel.config import vl_release_vmscan
    from scenarios.profiles import SWAPIN

    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-3 state does not match its state_hash")
    scn = doc.get("scenario")
    if not isinstance(scn, dict):
        raise ValueError("the scenario section is not a map")
    swapin = SWAPIN[str(scn["kernel"]["profile"])]
    _add_format_4_fields(state, swapin)
    scn["kernel"]["vmscan"] = "2.6.6"  # what the run used
    scn["kernel"]["swapin"] = swapin
    doc_kernel = scn["doc"]["kernel"]  # what the scenario names: its profile's own
    doc_kernel["vmscan"] = vl_release_vmscan(str(doc_kernel["profile"]))
    doc_kernel["swapin"] = SWAPIN[str(doc_kernel["profile"])]
    out = dict(doc)
    out["state_hash"] = state_digest(state)
    return out


def _add_behaviour_version(doc: dict[str, object]) -> dict[str, object]:
    """Part of format 3 -> 4: the map records ``behaviour_version``, the model behaviour its state
    was produced under (``scenarios.behaviour``). Older files did not record it: they get
    ``UNRECORDED`` (0), so resuming one says that it may go on differently. It also has a
    ``described`` section (compact snapshots, scenarios/snapshot_described.py): older files
    describe nothing. The state and its hash are unchanged.
    """
    from scenarios.behaviour import UNRECORDED

    out: dict[str, object] = {}
    for key, value in doc.items():
        if key in ("behaviour_version", "described"):
            raise ValueError(f"a {key} section in a file older than it")
        if key == "state":
            out["described"] = {}
        out[key] = value
        if key == "vmlab_version":
            out["behaviour_version"] = UNRECORDED
    if "behaviour_version" not in out or "described" not in out:
        raise ValueError("no vmlab_version or state section")
    return out


def _migrate_3_to_4(doc: dict[str, object]) -> dict[str, object]:
    """Format 3 -> 4: reclaim and the swap-in fault became design switches
    (``_add_design_switches``), and a snapshot records the behaviour version of the model
    that wrote it and may describe file pages instead of storing them
    (``_add_behaviour_version``)."""
    out = _add_behaviour_version(_add_design_switches(doc))
    out["version"] = 4
    return out


# ---- format 4 -> 5 ---------------------------------------------------------------------------


def _add_format_5_payload_fields(state: dict[str, object]) -> None:
    """What format 5 added to the state for write payloads, in place, each where
    ``to_state`` puts it: the file oracle's ``generator`` (first; 1, the generator every
    older file wrote with) and an empty ``described`` after ``on_disk`` in each oracle file
    and in the memory oracle (older oracles held every page as bytes or a place)."""
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    oracle, mm_oracle = state.get("oracle"), state.get("mm_oracle")
    if not isinstance(oracle, dict) or not isinstance(mm_oracle, dict) or \
            not isinstance(oracle.get("files"), list):
        raise ValueError("the state has no oracle or mm_oracle map")
    if "generator" in oracle:
        raise ValueError("a payload generator in a file older than it")
    state["oracle"] = {"generator": PAYLOAD_GEN_SPLITMIX, **oracle}
    files = oracle["files"]
    assert isinstance(files, list)
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise ValueError("an oracle file is not a map")
        files[i] = _with_key_after(f, "on_disk", "described", [])
    state["mm_oracle"] = _with_key_after(mm_oracle, "on_disk", "described", [])


def _drop_format_5_payload_fields(state: dict[str, object]) -> None:
    """Undo ``_add_format_5_payload_fields`` (for a migration below format 5 that restores
    a state with this vmlab's restorer and writes it back in its own format: a restored
    older state describes nothing)."""
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    oracle, mm_oracle = state["oracle"], state["mm_oracle"]
    assert isinstance(oracle, dict) and isinstance(mm_oracle, dict)
    if oracle.pop("generator") != PAYLOAD_GEN_SPLITMIX or mm_oracle.pop("described") != [] or \
            any(f.pop("described") != [] for f in oracle["files"]):
        raise ValueError("a state below format 5 wrote with generator 1 and described nothing")


def _migrate_4_to_5_payload(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5, write payloads: the state records its payload generator
    (kernelmodel/lib/payload.py; format 5 writes with SHAKE-128, generator 2) and the oracles
    may keep a page as a description (a file page as the write that made it, a user page as
    the touch strokes that reached it) instead of its bytes.

    Every version-4 file wrote with the first generator (SplitMix64), so the migrated state
    says so and goes on writing with it: its write payloads, and a compact file's described
    pages, come out byte for byte as they were written. The described pages of a compact
    file are filled in here, with that generator (the hash covers them), so the migrated map
    is a full one. The old state must match its hash first; the new hash is computed over
    the new state.
    """
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    fill_described(doc, PAYLOAD_GEN_SPLITMIX)
    doc["described"] = {}
    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-4 state does not match its state_hash")
    _add_format_5_payload_fields(state)
    out = dict(doc)
    out["version"] = 5
    out["state_hash"] = state_digest(state)
    return out


def _migrate_4_to_5_story(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: the session records the story texts shown so far. A format-4 file's
    scenario has no ``[[story]]`` (the language had none), so none had been shown."""
    out = dict(doc)
    session = out.get("session")
    if not isinstance(session, dict):
        raise ValueError("no session section")
    out["session"] = {**session, "story": []}
    out["version"] = 5
    return out


def _migrate_4_to_5_series(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: the session section holds the counters sampled over time
    (``scenarios.series``). A version-4 file sampled nothing: it gets an empty series at the
    default interval whose first sample is at its clock. The state and its hash are
    unchanged."""
    from scenarios.series import CounterSeries

    session = doc.get("session")
    if not isinstance(session, dict) or "series" in session:
        raise ValueError("the session section is not a map, or has a series already")
    now = session.get("sim_time_ns")
    if not isinstance(now, int) or now < 0:
        raise ValueError("the session section has no simulated time")
    out = dict(doc)
    out["session"] = {**session, "series": CounterSeries(start_ns=now).to_section()}
    out["version"] = 5
    return out


def _migrate_4_to_5(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: write payloads (``_migrate_4_to_5_payload``), the story texts shown
    so far (``_migrate_4_to_5_story``) and the counters over time
    (``_migrate_4_to_5_series``)."""
    return _migrate_4_to_5_series(_migrate_4_to_5_story(_migrate_4_to_5_payload(doc)))


#: Format version N -> the step that turns a version-N map into a version-(N+1) map
#: (``_migrate_N_to_M``).
MIGRATIONS: dict[int, Callable[[dict[str, object]], dict[str, object]]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
}


def _migrate(doc: dict[str, object], version: int) -> dict[str, object]:
    """Apply the migration steps from ``version`` up to SNAPSHOT_VERSION."""
    while version < SNAPSHOT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SnapshotError(f"snapshot format version {version} is older than this vmlab "
                                f"can read (no migration from version {version}; it reads "
                                f"{_readable_versions()})")
        try:
            doc = step(doc)
        except Exception as exc:  # a migration sees unchecked data
            raise SnapshotError(f"cannot migrate from format version {version}: "
                                f"{_one_line(exc)}") from None
        got = doc.get("version") if isinstance(doc, dict) else None
        if got != version + 1:
            raise SnapshotError(f"migration from format version {version} produced version "
                                f"{got!r}, not {version + 1}")
        version += 1
    return doc


def _readable_versions() -> str:
    oldest = SNAPSHOT_VERSION
    while oldest - 1 in MIGRATIONS:
        oldest -= 1
    return f"version {oldest}" if oldest == SNAPSHOT_VERSION else \
        f"versions {oldest} to {SNAPSHOT_VERSION}"


# ---- columnar encoding -------------------------------------------------------------------------


def _pack_ints(values: list[int]) -> bytes | None:
    """A width byte and the values as little-endian signed ints; None outside i64."""
    lo = min(values)
    hi = max(values)
    if lo < _I64_MIN or hi > _I64_MAX:
        return None
    width = 8
    for w in (1, 2, 4):
        bound = 1 << (8 * w - 1)
        if -bound <= lo and hi < bound:
            width = w
            break
    arr = array(_INT_CODES[width], values)
    if arr.itemsize != width:  # pragma: no cover - every CPython platform has these sizes
        raise SnapshotError(f"array item size {arr.itemsize} is not {width}")
    if sys.byteorder == "big":  # pragma: no cover - little-endian hosts
        arr.byteswap()
    return bytes([width]) + arr.tobytes()


def _unpack_ints(data: bytes) -> list[int]:
    if not data:
        raise ValueError("empty int column")
    width = data[0]
    code = _INT_CODES.get(width)
    if code is None or (len(data) - 1) % width:
        raise ValueError(f"bad int column (width {width}, {len(data) - 1} bytes)")
    arr = array(code)
    arr.frombytes(data[1:])
    if sys.byteorder == "big":  # pragma: no cover - little-endian hosts
        arr.byteswap()
    return arr.tolist()


def _columnize(values: list[object] | tuple[object, ...]) -> msgpack.ExtType | None:
    """The columnar ext type of a long homogeneous list, or None to keep it an array."""
    if len(values) < COLUMN_MIN:
        return None
    types = set(map(type, values))
    if len(types) != 1:
        return None
    kind = types.pop()
    if kind is int:
        packed = _pack_ints(values)  # type: ignore[arg-type]
        return None if packed is None else msgpack.ExtType(EXT_INTS, packed)
    if kind is bytes:
        lengths = set(map(len, values))  # type: ignore[arg-type]
        size = lengths.pop() if len(lengths) == 1 else 0
        if size <= 0:
            return None
        return msgpack.ExtType(EXT_BYTES, struct.pack("<I", size) + b"".join(values))  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        lengths = set(map(len, values))  # type: ignore[arg-type]
        width = lengths.pop() if len(lengths) == 1 else 0
        if width < 1 or width > ROW_MAX:
            return None
        flat: list[object] = list(chain.from_iterable(values))  # type: ignore[arg-type]
        if set(map(type, flat)) != {int}:
            return None
        packed = _pack_ints(flat)  # type: ignore[arg-type]
        return None if packed is None else msgpack.ExtType(EXT_ROWS, bytes([width]) + packed)
    return None


def _ext_hook(code: int, data: bytes) -> object:
    """msgpack ``ext_hook``: the columnar ext types back to lists (ValueError otherwise)."""
    if code == EXT_INTS:
        return _unpack_ints(data)
    if code == EXT_BYTES:
        if len(data) < 4:
            raise ValueError("bad bytes column")
        (size,) = struct.unpack_from("<I", data)
        body = data[4:]
        if size == 0 or len(body) % size:
            raise ValueError(f"bad bytes column ({len(body)} bytes of items of {size})")
        return [body[i : i + size] for i in range(0, len(body), size)]
    if code == EXT_ROWS:
        if len(data) < 2:
            raise ValueError("bad row column")
        width = data[0]
        flat = _unpack_ints(data[1:])
        if width < 1 or width > ROW_MAX or len(flat) % width:
            raise ValueError(f"bad row column (rows of {width}, {len(flat)} values)")
        return [flat[i : i + width] for i in range(0, len(flat), width)]
    raise ValueError(f"unknown ext type {code}")


#: The plain values a snapshot holds.
_SCALAR_TYPES: Final = frozenset({type(None), bool, int, str, bytes})

#: Container types of a list of rows.
_ROW_TYPES: Final = frozenset({list, tuple})

#: Byte strings at least this long are handed to the hash and the compressor as they are.
_BIG_BYTES: Final = 4096
#: A piece of packed output: msgpack bytes, or a large byte string as it is.
_Piece = bytes | bytearray | memoryview


def _map_header(n: int) -> bytes:
    if n <= 15:
        return bytes([0x80 | n])
    if n <= 0xFFFF:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def _array_header(n: int) -> bytes:
    if n <= 15:
        return bytes([0x90 | n])
    if n <= 0xFFFF:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _bin_header(n: int) -> bytes:
    if n <= 0xFF:
        return b"\xc4" + bytes([n])
    if n <= 0xFFFF:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


class _Writer:
    """Packs a tree in one walk into two forms at once, without building either whole.

    * the plain msgpack of ``msgpack.packb(tree, use_bin_type=True)``, fed to SHA-256 while
      ``hashing``: the state hash of scenarios.state, computed piece by piece (or, with
      ``defer_hash``, kept as a list of pieces in ``plain`` for ``hash_deferred``);
    * the snapshot's encoding (long homogeneous lists as columnar ext types), kept as a list
      of pieces for the compressor while ``encoding``.

    Large byte strings (RAM frames, disk chunks, oracle pages; the pieces of a
    ``BorrowedBytes``, machine/borrowed.py) go to both as they are, never copied. Containers
    are walked iteratively; lists of plain values are packed by msgpack.
    """

    def __init__(self, hashing: bool, encoding: bool, defer_hash: bool = False) -> None:
        self.hashing = hashing
        self.encoding = encoding
        self.defer_hash = defer_hash
        self.sha = hashlib.sha256()
        self.plain: list[_Piece] = []
        self.pieces: list[_Piece] = []
        self.size = 0
        #: id of a byte string (or BorrowedBytes) of the tree -> the pieces the encoded form
        #: holds instead (a compact snapshot's described pages; the hash sees the bytes)
        self.subst: dict[int, list[_Piece]] = {}

    def _big(self, v: bytes | BorrowedBytes) -> None:
        """A large byte string: its bytes to the hash, its substitute (if any) to the file."""
        parts: list[_Piece] = [v] if type(v) is bytes else list(v.parts)  # type: ignore[union-attr]
        instead = self.subst.get(id(v))
        if instead is None:
            for part in parts:
                self._out(part)
            return
        if self.hashing:
            for part in parts:
                if self.defer_hash:
                    self.plain.append(part)
                else:
                    self.sha.update(part)
        if self.encoding:
            for piece in instead:
                self.pieces.append(piece)
                self.size += len(piece)

    def _out(self, plain: _Piece, encoded: bytes | None = None) -> None:
        if self.hashing:
            if self.defer_hash:
                self.plain.append(plain)
            else:
                self.sha.update(plain)
        if self.encoding:
            piece = plain if encoded is None else encoded
            self.pieces.append(piece)
            self.size += len(piece)

    def raw(self, piece: bytes) -> None:
        """Bytes of the encoded form only (the snapshot map's own header and keys)."""
        self.pieces.append(piece)
        self.size += len(piece)

    def value(self, root: object) -> None:
        """Pack ``root`` (dicts, lists, tuples, ints, str, bytes, bools, None)."""
        stack: list[tuple[list[object], int]] = []
        self._one(root, stack)
        while stack:
            items, i = stack[-1]
            if i >= len(items):
                stack.pop()
                continue
            stack[-1] = (items, i + 1)
            self._one(items[i], stack)

    def _one(self, v: object, stack: list[tuple[list[object], int]]) -> None:
        if isinstance(v, dict):
            self._out(_map_header(len(v)))
            flat: list[object] = []
            for key, item in v.items():
                flat.append(key)
                flat.append(item)
            stack.append((flat, 0))
        elif isinstance(v, (list, tuple)):
            self._sequence(v, stack)
        elif type(v) is bytes and len(v) >= _BIG_BYTES:
            self._out(_bin_header(len(v)))
            self._big(v)
        elif type(v) is BorrowedBytes:
            # lent by the live machine: packed as the bytes it stands for, never copied
            self._out(_bin_header(v.nbytes))
            self._big(v)
        else:
            self._out(msgpack.packb(v, use_bin_type=True))

    def _sequence(self, v: list[object] | tuple[object, ...],
                  stack: list[tuple[list[object], int]]) -> None:
        types = set(map(type, v))
        big = bytes in types and max(len(x) for x in v if type(x) is bytes) >= _BIG_BYTES
        if big and len(types) == 1:
            self._pages(v)  # type: ignore[arg-type]
            return
        if not big and not self.encoding and types <= _ROW_TYPES and \
                set(map(type, chain.from_iterable(v))) <= _SCALAR_TYPES:  # type: ignore[arg-type]
            # rows of plain values, only hashed: msgpack packs them as the walk would, at once
            self._out(msgpack.packb(v, use_bin_type=True))
            return
        if big or not types <= _SCALAR_TYPES:
            # containers, or pages of bytes: walk the items (large strings are not copied)
            ext = None if big or not self.encoding else _columnize(v)
            if ext is None:
                self._out(_array_header(len(v)))
                stack.append((list(v), 0))
                return
        else:
            ext = _columnize(v) if self.encoding else None
        if ext is not None:
            plain = msgpack.packb(v, use_bin_type=True) if self.hashing else b""
            self._out(plain, msgpack.packb(ext, use_bin_type=True))
        else:
            self._out(msgpack.packb(v, use_bin_type=True))

    def _pages(self, v: list[bytes] | tuple[bytes, ...]) -> None:
        """A list of byte strings, some large (RAM frames, oracle pages): each item is its
        bin header and its bytes, the same in both forms (such lists are never columnar)."""
        self._out(_array_header(len(v)))
        update = self.plain.append if self.defer_hash else self.sha.update
        append = self.pieces.append
        hashing = self.hashing
        encoding = self.encoding
        size = 0
        subst = self.subst
        for item in v:
            head = _bin_header(len(item))
            if hashing:
                update(head)
                update(item)
            if encoding:
                append(head)
                instead = subst.get(id(item)) if subst else None
                if instead is None:
                    append(item)
                else:
                    for piece in instead:
                        append(piece)
            size += len(head) + len(item)
        if encoding:
            self.size += size

    def hash_deferred(self) -> None:
        """Feed the pieces kept by ``defer_hash`` to SHA-256 (run on a second thread while
        the compressor works: both release the GIL on large pieces)."""
        update = self.sha.update
        for piece in self.plain:
            update(piece)
        self.plain = []

    def digest(self) -> str:
        return self.sha.hexdigest()


def state_digest(state: dict[str, object]) -> str:
    """``scenarios.state.state_hash(state)``, computed in one walk without packing the whole
    state into one buffer."""
    w = _Writer(hashing=True, encoding=False)
    w.value(state)
    return w.digest()


def _encode(tree: object) -> bytes:
    """The snapshot encoding of ``tree`` as one msgpack document (for tests and tools)."""
    w = _Writer(hashing=False, encoding=True)
    w.value(tree)
    return b"".join(w.pieces)


def encode_state_pieces(state: dict[str, object]) -> tuple[list[_Piece], int]:
    """A state in the snapshot encoding, as pieces to compress and their total size (for
    in-memory checkpoints, scenarios/timeline.py). RAM and the disk, if lent
    (``to_state(borrow=True)``), are lent on: compress before the machine runs again."""
    w = _Writer(hashing=False, encoding=True)
    w.value(state)
    return w.pieces, w.size


def decode_state(payload: bytes) -> dict[str, object]:
    """The state ``encode_state_pieces`` encoded (columnar lists turned back into lists)."""
    return _unpack(payload, "checkpoint")


def _check_tree(root: object) -> None:
    """Depth and types of a decoded tree (iterative; ValueError naming the first problem)."""
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[object] | object = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            if type(value) not in _SCALAR_TYPES:
                raise ValueError(f"unexpected value of type {type(value).__name__}")
            continue
        if depth >= MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        assert isinstance(children, list)
        types = set(map(type, children))
        if types <= _SCALAR_TYPES:
            continue
        for child in children:
            t = type(child)
            if t is dict or t is list:
                stack.append((child, depth + 1))
            elif t not in _SCALAR_TYPES:
                raise ValueError(f"unexpected value of type {t.__name__}")


# ---- the scenario as plain data ----------------------------------------------------------------


def scenario_doc(scn: Scenario) -> dict[str, object]:
    """The scenario as the plain data of a TOML document the loader accepts."""
    m = scn.machine
    t = scn.tunables
    files: list[object] = []
    for f in scn.files:
        entry: dict[str, object] = {"path": f.path, "size": f.size, "content": f.content}
        if f.seed is not None:
            entry["seed"] = f.seed
        files.append(entry)
    doc: dict[str, object] = {
        "name": scn.name,
        "description": scn.description,
        "seed": scn.seed,
        "duration": f"{scn.duration_ns}ns",
        "kernel": {"profile": scn.kernel.profile, "writeback": scn.kernel.writeback,
                   "rmap": scn.kernel.rmap, "vmscan": scn.kernel.vmscan,
                   "swapin": scn.kernel.swapin},
        "machine": {"memory": m.memory, "disk": m.disk, "swap": m.swap,
                    "tlb_entries": m.tlb_entries, "elevator": m.elevator},
        "tunables": {"dirty_background_ratio": t.dirty_background_ratio,
                     "dirty_ratio": t.dirty_ratio,
                     "dirty_writeback_centisecs": t.dirty_writeback_centisecs,
                     "dirty_expire_centisecs": t.dirty_expire_centisecs,
                     "swappiness": t.swappiness},
        "files": files,
        "programs": {name: [op.text for op in prog.ops] for name, prog in scn.programs.items()},
        "tasks": [{"name": task.name, "program": task.program} for task in scn.tasks],
        "expect": [{"name": e.name, "at": e.at, "check": e.check.text}
                   for e in scn.expectations],
    }
    if scn.story:  # absent when empty, so scenarios stored before [[story]] load back equal
        doc["story"] = [_story_entry(item) for item in scn.story]
    return doc


def _story_entry(item: StoryItem) -> dict[str, object]:
    entry: dict[str, object] = {}
    if item.at_text:
        entry["at"] = item.at_text
    if item.when is not None:
        entry["when"] = item.when.text
    entry["text"] = item.text
    return entry


def _toml_value(value: object, where: str) -> str:
    """A TOML scalar, or an inline array of scalars."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value < _I64_MIN or value > _I64_MAX:
            raise ValueError(f"{where}: integer out of range")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        if any(isinstance(v, (list, dict)) for v in value):
            raise ValueError(f"{where}: nested arrays are not part of a scenario")
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ValueError(f"{where}: unexpected {type(value).__name__}")


def _toml_table(lines: list[str], header: str, table: dict[str, object], where: str) -> None:
    lines.append(header)
    for key, value in table.items():
        if isinstance(value, dict):
            raise ValueError(f"{where}.{key}: unexpected table")
        lines.append(f"{json.dumps(key)} = {_toml_value(value, f'{where}.{key}')}")


def _toml_text(doc: dict[str, object]) -> str:
    """The TOML text of a scenario document (top-level values, tables, arrays of tables)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    arrays: list[tuple[str, list[dict[str, object]]]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value, key)}")
    for key, table in tables:
        _toml_table(lines, f"[{json.dumps(key)}]", table, key)
    for key, items in arrays:
        for i, item in enumerate(items):
            _toml_table(lines, f"[[{json.dumps(key)}]]", item, f"{key}[{i}]")
    return "\n".join(lines) + "\n"


def _trace_dirs(section: dict[str, object], near: str) -> tuple[str, ...]:
    """Where the scenario's replay traces are looked up on restore: the directories stored
    with it (its file's directory when it was loaded), then ``near`` (the snapshot's)."""
    dirs: list[str] = []
    if "trace_dirs" in section:
        for d in _list(section, "trace_dirs", "scenario"):
            if not isinstance(d, str):
                raise SnapshotError("scenario section: trace_dirs must be strings")
            dirs.append(d)
    if near and near not in dirs:
        dirs.append(near)
    return tuple(dirs)


def _scenario_from_section(section: dict[str, object], near: str = "") -> Scenario:
    """Validate the stored scenario with the loader; it must come back unchanged."""
    from scenarios.loader import ScenarioError, load_text

    doc = _dict(section, "doc", "scenario")
    source = _str(section, "source", "scenario")
    try:
        text = _toml_text(doc)
    except ValueError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    try:
        scn = load_text(text, source=source, default_name="scenario",
                        trace_dirs=_trace_dirs(section, near))
    except ScenarioError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    if scenario_doc(scn) != doc:
        raise SnapshotError("scenario section: the scenario does not load back as it was stored")
    return scn


# ---- plain-data accessors for the sections -----------------------------------------------------


def _dict(d: dict[str, object], key: str, section: str) -> dict[str, object]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise SnapshotError(f"{section} section: {key} must be a map")
    return v


def _str(d: dict[str, object], key: str, section: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise SnapshotError(f"{section} section: {key} must be a string")
    return v


def _int(d: dict[str, object], key: str, section: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise SnapshotError(f"{section} section: {key} must be an integer")
    return v


def _list(d: dict[str, object], key: str, section: str) -> list[object]:
    v = d.get(key)
    if not isinstance(v, list):
        raise SnapshotError(f"{section} section: {key} must be a list")
    return v


# ---- writing -----------------------------------------------------------------------------------


def _session_section(session: Session) -> dict[str, object]:
    """The runner's records: checkpoints hit (with their metrics) and what they decided."""
    from scenarios.session import ExpectationResult

    records: list[object] = []
    for rec in session.checkpoints:
        records.append({"name": rec.name, "pid": rec.pid, "time_ns": rec.time_ns,
                        "metrics": dict(rec.metrics) if rec.metrics is not None else None,
                        "notes": dict(rec.notes)})
    hit = {rec.name for rec in session.checkpoints}
    decided: list[object] = []
    for e in session.scenario.expectations:
        if e.at != "end" and e.at in hit:
            r: ExpectationResult = session._evaluate_at_checkpoint(e)
            decided.append({"name": r.name, "at": e.at, "ok": r.ok, "detail": r.detail})
    return {
        "events": session.events,
        "sim_time_ns": session.sim_time_ns,
        "end_reason": session.end_reason,
        "checkpoints": records,
        "expectations": decided,
        "story": [[hit.index, hit.event, hit.time_ns] for hit in session.story],
        "series": session.series.to_section(),
    }


def _scenario_section(session: Session) -> dict[str, object]:
    spec = session.kernel_spec
    section: dict[str, object] = {
        "doc": scenario_doc(session.scenario),
        "source": session.scenario.source,
        "seed": session.seed,
        "kernel": {"profile": spec.profile, "writeback": spec.writeback, "rmap": spec.rmap,
                   "vmscan": spec.vmscan, "swapin": spec.swapin},
    }
    if session.scenario.replay_traces():
        # where relative trace paths were found (the traces themselves are not stored)
        section["trace_dirs"] = list(session.scenario.trace_dirs)
    return section


def _build(session: Session, compact: bool = True) -> tuple[bytes, str]:
    """The snapshot file of ``session`` and its state hash (one walk over the state).

    ``compact``: pages that follow from the scenario's writes and boot files are stored as
    those (scenarios/snapshot_described.py); otherwise every byte is stored.
    """
    from scenarios.cli.version import vmlab_version
    from scenarios.snapshot_described import Description, describe

    session.finish_event()  # a snapshot is taken between two events

    # The state is a tree of millions of fresh containers: a cyclic collection pass in the
    # middle of building it costs more than the build, and it holds no cycles to collect.
    enabled = gc.isenabled()
    gc.disable()
    try:
        state = session.kernel.to_state(borrow=True)
        desc = describe(state) if compact else Description()
        w = _Writer(hashing=False, encoding=True, defer_hash=True)
        w.subst = desc.subst
        w.raw(_map_header(len(TOP_KEYS)))
        head: dict[str, object] = {
            "format": FORMAT_NAME,
            "version": SNAPSHOT_VERSION,
            "vmlab_version": vmlab_version(),
            "behaviour_version": session.behaviour_version,
            "scenario": _scenario_section(session),
            "session": _session_section(session),
            "described": desc.section(),
        }
        for key, value in head.items():
            w.raw(msgpack.packb(key))
            w.value(value)
        w.raw(msgpack.packb("state"))
        w.hashing = True
        w.value(state)
    finally:
        if enabled:
            gc.enable()
    w.hashing = False
    # The hash (SHA-256) and the compressor each take about as long; the hash runs on a
    # second thread meanwhile. The state hash ends the payload (its length is fixed), so
    # everything before it is compressed first.
    tail = msgpack.packb("state_hash")
    cobj = _compressor(w.size + len(tail) + len(msgpack.packb("0" * _DIGEST_CHARS)))
    hasher = threading.Thread(target=w.hash_deferred, name="snapshot-hash")
    hasher.start()
    try:
        out = [cobj.compress(piece) for piece in w.pieces]
    finally:
        hasher.join()
    digest = w.digest()
    if len(digest) != _DIGEST_CHARS:  # pragma: no cover - SHA-256 has 64 hex digits
        raise SnapshotError(f"state hash {digest!r} is not {_DIGEST_CHARS} characters")
    out.append(cobj.compress(tail + msgpack.packb(digest)))
    out.append(cobj.flush())
    return _HEADER.pack(MAGIC, SNAPSHOT_VERSION) + b"".join(out), digest


def _compressor(size: int) -> zstandard.ZstdCompressionObj:
    """A zstd compressor for one frame of ``size`` bytes: level 3 with a 128 MiB window, the
    content size and a checksum. Long-distance matching (it finds the same page in RAM, on
    disk and in the oracle) is used up to LDM_MAX_BYTES, where it costs little."""
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, window_log=ZSTD_WINDOW_LOG, enable_ldm=size <= LDM_MAX_BYTES,
        write_checksum=1, write_content_size=1, threads=0,
    )
    return zstandard.ZstdCompressor(compression_params=params).compressobj(size=size)


def _compress_pieces(pieces: list[_Piece], size: int) -> bytes:
    """One zstd frame (``_compressor``) over the pieces back to back."""
    cobj = _compressor(size)
    out = [cobj.compress(piece) for piece in pieces]
    out.append(cobj.flush())
    return b"".join(out)


def _compress(payload: bytes) -> bytes:
    """``_compress_pieces`` of one payload."""
    return _compress_pieces([payload], len(payload))


def snapshot_bytes(session: Session, compact: bool = True) -> bytes:
    """The snapshot file of ``session`` as bytes (what ``save_snapshot`` writes).

    Caller: the session is between two events (``run`` or ``step`` has returned).
    """
    return _build(session, compact)[0]


@dataclass(frozen=True)
class SavedSnapshot:
    """What ``save_snapshot`` wrote."""

    path: str
    size: int
    state_hash: str


def save_snapshot(session: Session, path: str | os.PathLike[str],
                  compact: bool = True) -> SavedSnapshot:
    """Write ``session`` to ``path`` (atomically: a temporary file, then a rename).

    Saving changes nothing in the session; it can run on afterwards. ``compact`` (the
    default) stores file data that follows from the scenario's writes and boot files as
    those (scenarios/snapshot_described.py); ``compact=False`` stores every byte. Both
    load into the same state.

    Caller: the session is between two events (``run`` or ``step`` has returned).

    Raises:
        SnapshotError: the file cannot be written.
    """
    data, digest = _build(session, compact)
    target = os.fspath(path)
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SnapshotError(f"cannot write {target}: {exc.strerror or exc}") from None
    return SavedSnapshot(target, len(data), digest)


# ---- reading -----------------------------------------------------------------------------------


def _read_file(path: str | os.PathLike[str]) -> bytes:
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


def _payload(data: bytes, where: str) -> tuple[int, bytes]:
    """Check the header and decompress the frame: (format version, msgpack bytes)."""
    if len(data) < _HEADER.size:
        raise SnapshotError(f"{where}: not a vmlab snapshot (only {len(data)} bytes)")
    magic, version = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{where}: not a vmlab snapshot (bad magic {magic!r})")
    if version > SNAPSHOT_VERSION:
        raise SnapshotError(f"{where}: written by a newer vmlab (snapshot format version "
                            f"{version}); this vmlab reads up to version {SNAPSHOT_VERSION}: "
                            f"install a vmlab that reads format version {version}")
    frame = data[_HEADER.size :]
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


def _unpack(payload: bytes, where: str) -> dict[str, object]:
    n = len(payload)
    enabled = gc.isenabled()
    gc.disable()
    try:
        obj = msgpack.unpackb(
            payload, raw=False, strict_map_key=True, use_list=True, ext_hook=_ext_hook,
            max_bin_len=n, max_str_len=n, max_array_len=n, max_map_len=n // 2, max_ext_len=n,
        )
        _check_tree(obj)
    except (ValueError, msgpack.UnpackException) as exc:
        raise SnapshotError(f"{where}: damaged ({_one_line(exc)})") from None
    finally:
        if enabled:
            gc.enable()
    if not isinstance(obj, dict):
        raise SnapshotError(f"{where}: damaged (the content is not a map)")
    return obj


def read_snapshot_bytes(data: bytes, where: str) -> dict[str, object]:
    """Decode and check a snapshot's bytes into its (migrated) top-level map.

    Checked here, without restoring anything: the header, the frame, the msgpack, the shape
    of the tree, the scenario (the loader validates it and it must load back unchanged), the
    runner's records (shape, and agreement with the state's clock, events and checkpoints)
    and the state against its hash.

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    return _read_checked(data, where).doc


@dataclass(frozen=True)
class _Checked:
    """A snapshot map that passed every check short of restoring the kernel."""

    doc: dict[str, object]
    scenario: Scenario
    records: list[CheckpointRecord]
    story: list[StoryHit]


def _read_checked(data: bytes, where: str, verify_hash: bool = True,
                  near: str = "") -> _Checked:
    """``read_snapshot_bytes``. ``verify_hash=False`` leaves the state hash to the caller
    (restoring checks the restored kernel's hash, which also covers the stored state);
    ``near`` is the snapshot file's directory, where replay traces are also looked for."""
    version, payload = _payload(data, where)
    doc = _unpack(payload, where)
    if doc.get("format") != FORMAT_NAME:
        raise SnapshotError(f"{where}: not a vmlab snapshot (format {doc.get('format')!r})")
    if type(doc.get("version")) is not int or doc.get("version") != version:
        raise SnapshotError(f"{where}: damaged (the header says version {version}, the content "
                            f"{doc.get('version')!r})")
    doc = _migrate(doc, version)
    for key in TOP_KEYS:
        if key not in doc:
            raise SnapshotError(f"{where}: damaged (no {key} section)")
    for key in ("scenario", "session", "state", "described"):
        if not isinstance(doc[key], dict):
            raise SnapshotError(f"{where}: damaged ({key} must be a map)")
    try:
        fill_described(doc)
    except ValueError as exc:
        raise SnapshotError(f"{where}: damaged (described pages: {exc})") from None
    for key in ("vmlab_version", "state_hash"):
        if not isinstance(doc[key], str):
            raise SnapshotError(f"{where}: damaged ({key} must be a string)")
    behaviour = doc["behaviour_version"]
    if type(behaviour) is not int or not 0 <= behaviour <= _I64_MAX:
        raise SnapshotError(f"{where}: damaged (behaviour_version must be a non-negative "
                            f"integer)")
    state = doc["state"]
    assert isinstance(state, dict)
    if verify_hash and state_digest(state) != doc["state_hash"]:
        raise SnapshotError(f"{where}: damaged (the state does not match its state_hash)")
    try:
        scn_section = doc["scenario"]
        sess_section = doc["session"]
        assert isinstance(scn_section, dict) and isinstance(sess_section, dict)
        scenario = _scenario_from_section(scn_section, near)
        _check_scenario_agrees(scenario, _int(scn_section, "seed", "scenario"),
                               _kernel_spec(scn_section), state)
        records = _records(sess_section)
        _check_session_section(sess_section, records, state)
        story = _story_hits(sess_section, scenario)
    except SnapshotError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    return _Checked(doc, scenario, records, story)


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read and check a snapshot file into its top-level map (nothing is restored).

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    near = os.path.dirname(os.path.abspath(os.fspath(path)))
    return _read_checked(_read_file(path), os.path.basename(os.fspath(path)), near=near).doc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---- restoring ---------------------------------------------------------------------------------


def _records(section: dict[str, object]) -> list[CheckpointRecord]:
    """The session's checkpoint records, checked."""
    from scenarios.session import CheckpointRecord

    out: list[CheckpointRecord] = []
    for item in _list(section, "checkpoints", "session"):
        if not isinstance(item, dict):
            raise SnapshotError("session section: a checkpoint record must be a map")
        metrics = item.get("metrics")
        ints: dict[str, int] | None = None
        if metrics is not None:
            if not isinstance(metrics, dict):
                raise SnapshotError("session section: checkpoint metrics must be a map")
            ints = {}
            for name, value in metrics.items():
                if not isinstance(value, int) or isinstance(value, bool):
                    raise SnapshotError("session section: checkpoint metrics must be integers")
                ints[name] = value
        notes: dict[str, str] = {}
        for name, text in _dict(item, "notes", "session").items():
            if not isinstance(text, str):
                raise SnapshotError("session section: checkpoint notes must be strings")
            notes[name] = text
        out.append(CheckpointRecord(_str(item, "name", "session"), _int(item, "pid", "session"),
                                    _int(item, "time_ns", "session"), ints, notes))
    return out


def _kernel_spec(section: dict[str, object]) -> dict[str, str]:
    spec = _dict(section, "kernel", "scenario")
    out: dict[str, str] = {}
    for key in ("profile", "writeback", "rmap", "vmscan", "swapin"):
        out[key] = _str(spec, key, "scenario")
    if list(spec) != list(out):
        raise SnapshotError("scenario section: kernel holds profile, writeback, rmap, "
                            "vmscan and swapin only")
    return out


def _check_scenario_agrees(scenario: Scenario, seed: int, spec: dict[str, str],
                           state: dict[str, object]) -> None:
    """The stored scenario must be the one the state runs: the machine, the kernel's
    switches, seed and tunables, and the programs as the assembler builds them."""
    from scenarios.assembler import assemble

    m = scenario.machine
    t = scenario.tunables
    want_machine = {"mem_bytes": m.memory, "disk_bytes": m.disk, "tlb_entries": m.tlb_entries,
                    "elevator": m.elevator}
    want_cfg = {"release": spec["profile"], "writeback": spec["writeback"],
                "rmap": spec["rmap"], "vmscan": spec["vmscan"], "swapin": spec["swapin"],
                "swap_bytes": m.swap,
                "seed": seed,
                "dirty_background_ratio": t.dirty_background_ratio,
                "dirty_ratio": t.dirty_ratio,
                "dirty_writeback_centisecs": t.dirty_writeback_centisecs,
                "dirty_expire_centisecs": t.dirty_expire_centisecs,
                "swappiness": t.swappiness}
    machine = _get(state, "machine", "config")
    cfg = _get(state, "cfg")
    if not isinstance(machine, dict) or not isinstance(cfg, dict) or \
            any(machine.get(k) != v or type(machine.get(k)) is not type(v)
                for k, v in want_machine.items()) or \
            any(cfg.get(k) != v or type(cfg.get(k)) is not type(v) for k, v in want_cfg.items()):
        raise SnapshotError("scenario section: the machine, kernel or seed is not the state's")
    try:
        assembly = assemble(scenario, seed)
        programs = [[insn.to_state() for insn in p.insns] for p in assembly.programs]
    except ValueError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    _check_replays_agree(assembly.programs, _get(state, "kernel", "programs"))
    if programs != _get(state, "kernel", "programs"):
        raise SnapshotError("scenario section: the programs are not the ones the state runs")


def _check_replays_agree(programs: list[AssembledProgram], stored: object) -> None:
    """Each replayed trace found now is the one the state replays (same checksum)."""
    from machine.isa import OP_REPLAY

    if not isinstance(stored, list) or len(stored) != len(programs):
        return
    for prog, insns in zip(programs, stored, strict=True):
        if not isinstance(insns, list) or len(insns) != len(prog.insns):
            continue
        for insn, old in zip(prog.insns, insns, strict=True):
            if insn.op == OP_REPLAY and isinstance(old, list) and len(old) == 6 \
                    and old[0] == OP_REPLAY and old[5] != insn.s:
                raise SnapshotError(f"scenario section: the trace found for program "
                                    f"{prog.program} is not the one this snapshot replays "
                                    f"(checksum {insn.s[:16]}, the snapshot's "
                                    f"{str(old[5])[:16]}); put the recorded trace back where "
                                    f"the scenario names it or next to the snapshot")


def _check_session_section(section: dict[str, object], records: list[CheckpointRecord],
                           state: dict[str, object]) -> None:
    """The runner's records: their shape, and the same clock, events and checkpoints as the
    state (``Kernel.checkpoints`` records every hit the session saw)."""
    _str(section, "end_reason", "session")
    for item in _list(section, "expectations", "session"):
        if not isinstance(item, dict) or not isinstance(item.get("ok"), bool) or not all(
                isinstance(item.get(k), str) for k in ("name", "at", "detail")):
            raise SnapshotError("session section: an expectation must be {name, at, ok, detail}")
    if _int(section, "events", "session") != _get(state, "machine", "events") or \
            _int(section, "sim_time_ns", "session") != _get(state, "machine", "clock", "now"):
        raise SnapshotError("session section: events or time disagree with the state")
    hits = _get(state, "kernel", "checkpoints")
    if [[r.name, r.pid, r.time_ns] for r in records] != hits:
        raise SnapshotError("session section: the checkpoint records disagree with the kernel's")


def _story_hits(section: dict[str, object], scenario: Scenario) -> list[StoryHit]:
    """The story texts shown so far: each entry of the scenario's story at most once, at
    events and times that do not go backwards nor beyond the session's."""
    from scenarios.story import StoryHit

    out: list[StoryHit] = []
    seen: set[int] = set()
    event, time_ns = 0, 0
    for item in _list(section, "story", "session"):
        if not (isinstance(item, list) and len(item) == 3
                and all(type(v) is int for v in item)):
            raise SnapshotError("session section: a story record must be [index, event, "
                                "time_ns]")
        index, at_event, at_ns = item
        if not 0 <= index < len(scenario.story) or index in seen:
            raise SnapshotError(f"session section: story record {index} is not an entry of "
                                f"the scenario's story, or is there twice")
        if at_event < event or at_ns < time_ns or at_event > _int(section, "events", "session") \
                or at_ns > _int(section, "sim_time_ns", "session"):
            raise SnapshotError("session section: the story records go back in time or "
                                "beyond the session's")
        seen.add(index)
        event, time_ns = at_event, at_ns
        out.append(StoryHit(index, scenario.story[index].text, at_event, at_ns))
    return out


def _restore_kernel(state: dict[str, object], digest: str, where: str,
                    run_checks: bool = True) -> object:
    """Restore the kernel, hash it again, and run the invariant checker and the oracle
    (``run_checks=False``: the caller runs and reports them itself).

    The cyclic garbage collector is off meanwhile, as in ``_build``: rebuilding allocates
    millions of objects and would otherwise trigger full collections over all of them.
    """
    with collector_paused():
        return _restore_kernel_checked(state, digest, where, run_checks)


def _restore_kernel_checked(state: dict[str, object], digest: str, where: str,
                            run_checks: bool = True) -> object:
    """``_restore_kernel`` with the collector already off."""
    from kernelmodel.state.restore import vl_kernel_from_state, vl_restore_problems

    try:
        k = vl_kernel_from_state(state)
    except Exception as exc:  # any failure to rebuild is a bad snapshot
        raise SnapshotError(f"{where}: the state does not restore ({_one_line(exc)})") from None
    w = _Writer(hashing=True, encoding=False, defer_hash=True)
    try:
        w.value(k.to_state(borrow=True))
    except Exception as exc:
        raise SnapshotError(f"{where}: the restored state is unusable ({_one_line(exc)})") \
            from None
    # SHA-256 of the restored state runs on a second thread while the checks run here: the
    # checks only read (RAM and the disk, which the state walk lent, stay as they are).
    hasher = threading.Thread(target=w.hash_deferred, name="snapshot-hash")
    hasher.start()
    problems: list[str] = []
    failure: str | None = None
    try:
        if run_checks:
            problems = vl_restore_problems(k)
    except Exception as exc:
        failure = _one_line(exc)
    finally:
        hasher.join()
    again = w.digest()
    if again != digest:
        raise SnapshotError(f"{where}: the restored kernel differs from the saved state "
                            f"(hash {again[:16]}, saved {digest[:16]})")
    if failure is not None:
        raise SnapshotError(f"{where}: the restored kernel cannot be checked ({failure})")
    if problems:
        raise SnapshotContradiction(f"{where}: the restored kernel fails {len(problems)} "
                                    f"check(s); first: {one_line(problems[0])}")
    return k


def session_from_snapshot(checked: _Checked, where: str, run_checks: bool = True) -> Session:
    """Rebuild a runnable Session from a checked snapshot (restores and checks the kernel;
    ``run_checks=False`` leaves the invariant checker and the data oracle to the caller, who
    reports what they say rather than refusing the file: ``vmlab snapshot report``).

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.schema import KernelSpec
    from scenarios.session import Session, SessionError

    doc = checked.doc
    scn_section = doc["scenario"]
    sess_section = doc["session"]
    state = doc["state"]
    assert isinstance(scn_section, dict) and isinstance(sess_section, dict)
    assert isinstance(state, dict)
    scenario = checked.scenario
    spec = _kernel_spec(scn_section)
    mine = {"profile": scenario.kernel.profile, "writeback": scenario.kernel.writeback,
            "rmap": scenario.kernel.rmap, "vmscan": scenario.kernel.vmscan,
            "swapin": scenario.kernel.swapin}
    override = None if spec == mine else KernelSpec(**spec)
    from scenarios.host_memory import HostMemoryError, check_host_memory

    try:
        check_host_memory(scenario.machine)
    except HostMemoryError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    k = _restore_kernel(state, str(doc["state_hash"]), where, run_checks)
    assert isinstance(k, Kernel)
    try:
        session = Session(scenario, seed=_int(scn_section, "seed", "scenario"), kernel=override,
                          booted=k)
    except SessionError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    _check_session_agrees(session, spec, where)
    session.checkpoints = list(checked.records)
    session.restore_story(checked.story)
    session.end_reason = _str(sess_section, "end_reason", "session")
    session.set_series(_series(sess_section, session.sim_time_ns, where))
    behaviour = doc["behaviour_version"]
    assert isinstance(behaviour, int)
    session.behaviour_version = behaviour
    return session


def _series(section: dict[str, object], now_ns: int, where: str) -> CounterSeries:
    """The session's counters over time, checked (``CounterSeries.from_section``)."""
    from scenarios.series import CounterSeries, SeriesError

    try:
        return CounterSeries.from_section(_dict(section, "series", "session"), now_ns)
    except SeriesError as exc:
        raise SnapshotError(f"{where}: damaged (session section: {exc})") from None


def _check_session_agrees(session: Session, spec: dict[str, str], where: str) -> None:
    """The stored kernel profile and seed must be the restored kernel's."""
    k = session.kernel
    ks = session.kernel_spec
    if spec != {"profile": ks.profile, "writeback": ks.writeback, "rmap": ks.rmap,
                "vmscan": ks.vmscan, "swapin": ks.swapin}:
        raise SnapshotError(f"{where}: the kernel profile does not resolve as stored")
    cfg = k.cfg
    if (cfg.release, cfg.writeback, cfg.rmap, cfg.vmscan, cfg.swapin, cfg.seed) != \
            (ks.profile, ks.writeback, ks.rmap, ks.vmscan, ks.swapin, session.seed):
        raise SnapshotError(f"{where}: the scenario's kernel and seed disagree with the state")


def load_snapshot_bytes(data: bytes, where: str = "<memory>") -> Session:
    """``load_snapshot`` from bytes."""
    return session_from_snapshot(_read_checked(data, where, verify_hash=False), where)


def load_snapshot(path: str | os.PathLike[str]) -> Session:
    """Read a snapshot file and restore the session it holds, ready to run on.

    Raises:
        SnapshotContradiction: the state restores but contradicts itself (the invariant
            checker with its struct page and filesystem field checks, the data oracle or the
            durable-data check); one line naming the first contradiction.
        SnapshotError: one line naming what is wrong (unreadable, damaged, newer format,
            inconsistent state).
    """
    where = os.path.basename(os.fspath(path))
    near = os.path.dirname(os.path.abspath(os.fspath(path)))
    return session_from_snapshot(_read_checked(_read_file(path), where, verify_hash=False,
                                               near=near), where)


# ---- info --------------------------------------------------------------------------------------


def _get(tree: object, *path: str) -> object:
    """``tree[path[0]][path[1]]...``, or None where the path does not exist."""
    node = tree
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _get_int(tree: object, *path: str) -> int:
    v = _get(tree, *path)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def state_counters(state: dict[str, object]) -> dict[str, int]:
    """The counters of a saved state by name: vmstat, the zone's free and LRU pages, the disk
    and the TLB (``Kernel.metrics`` names, read from plain data)."""
    out: dict[str, int] = {}
    vm = state.get("vmstat")
    if isinstance(vm, dict):
        for name, value in vm.items():
            if isinstance(value, int) and not isinstance(value, bool):
                out[name] = value
    zone = _get(state, "pgdat", "zone")
    out["nr_free_pages"] = _get_int(zone, "free_pages")
    out["nr_active"] = _get_int(zone, "nr_active")
    out["nr_inactive"] = _get_int(zone, "nr_inactive")
    disk = _get(state, "machine", "disk", "counters")
    for name, key in (("head_travel_sectors", "head_travel"), ("disk_busy_ns", "busy_ns"),
                      ("disk_requests", "requests"), ("disk_reads", "reads"),
                      ("disk_writes", "writes"), ("disk_sectors_read", "sectors_read"),
                      ("disk_sectors_written", "sectors_written"), ("disk_seeks", "seeks")):
        out[name] = _get_int(disk, key)
    for name in ("tlb_hits", "tlb_misses", "page_walks", "tlb_flushes", "invlpgs"):
        out[name] = _get_int(state, "machine", "mmu", name)
    out["cpu_accesses"] = _get_int(state, "machine", "cpu", "accesses")
    return out


def snapshot_info(path: str | os.PathLike[str]) -> dict[str, object]:
    """What a snapshot holds, without restoring it: scenario, kernel, time, events, tasks,
    checkpoints, counters, state hash, versions.

    Raises:
        SnapshotError: the file is not a readable snapshot.
    """
    from scenarios.snapshot_space import space

    where = os.path.basename(os.fspath(path))
    data = _read_file(path)
    doc = read_snapshot_bytes(data, where)
    state = doc["state"]
    assert isinstance(state, dict)
    described = doc["described"]
    assert isinstance(described, dict)
    pages = 0
    for part in ("mem", "disk", "oracle"):
        listed = _get(described, part, "pages")
        pages += len(listed) if isinstance(listed, list) else 0
    try:
        shares = space(_payload(data, where)[1])
    except ValueError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    tasks: list[object] = []
    task_list = _get(state, "kernel", "tasks")
    for t in task_list if isinstance(task_list, list) else []:
        tasks.append({"pid": _get_int(t, "pid"), "name": str(_get(t, "name")),
                      "state": _task_state_name(_get(t, "state")), "doing": _task_doing(t)})
    hits = _get(doc, "session", "checkpoints")
    return {
        "file": os.fspath(path),
        "bytes": len(data),
        "format_version": _HEADER.unpack_from(data)[1],
        "vmlab_version": doc["vmlab_version"],
        "behaviour_version": doc["behaviour_version"],
        "scenario": _get(doc, "scenario", "doc", "name"),
        "description": _get(doc, "scenario", "doc", "description"),
        "source": _get(doc, "scenario", "source"),
        "kernel": _get(doc, "scenario", "kernel"),
        "seed": _get(doc, "scenario", "seed"),
        "sim_time_ns": _get_int(state, "machine", "clock", "now"),
        "events": _get_int(state, "machine", "events"),
        "end_reason": _get(doc, "session", "end_reason"),
        "checkpoints": [str(_get(h, "name")) for h in hits] if isinstance(hits, list) else [],
        "expectations": _get(doc, "session", "expectations"),
        "tasks": tasks,
        "counters": state_counters(state),
        "state_hash": doc["state_hash"],
        "described_pages": pages,
        "space": [{"section": s.section, "raw": s.raw, "compressed": s.compressed}
                  for s in shares],
    }


def _task_state_name(state: object) -> str:
    from kernelmodel.kernel.task import TASK_STATE_NAMES

    if isinstance(state, int) and state in TASK_STATE_NAMES:
        return TASK_STATE_NAMES[state]
    return str(state)


def _task_doing(task: object) -> str:
    """The top kernel op and what the task waits on, in a few words."""
    kstack = _get(task, "kstack")
    top = ""
    if isinstance(kstack, list) and kstack:
        top = str(_get(kstack[-1], "op"))
    wait = _get(task, "wait_key")
    parts = [p for p in (top, f"waiting on {wait}" if wait else "") if p]
    return ", ".join(parts)


# ---- decode ------------------------------------------------------------------------------------


def _section(doc: dict[str, object], section: str | None) -> object:
    """The part of the map ``section`` names (dotted keys; list items by index)."""
    if not section:
        return doc
    node: object = doc
    walked: list[str] = []
    for part in section.split("."):
        if isinstance(node, dict):
            if part not in node:
                keys = ", ".join(str(k) for k in node)
                where = ".".join(walked) or "the snapshot"
                raise SnapshotError(f'no section "{part}" in {where} (it has: {keys})')
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SnapshotError(f'"{part}" is not an index of {".".join(walked)} '
                                    f"(0..{len(node) - 1})")
            node = node[int(part)]
        else:
            raise SnapshotError(f"{'.'.join(walked)} is a value, not a section")
        walked.append(part)
    return node


def _json_bytes(value: bytes, full: bool) -> dict[str, object]:
    if full:
        import base64

        return {"$bytes": len(value), "base64": base64.b64encode(value).decode("ascii")}
    if len(value) <= 64:
        return {"$bytes": len(value), "hex": value.hex()}
    return {"$bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}


class _JsonWriter:
    """Readable JSON: maps one key a line, lists of plain values on one line (iterative)."""

    def __init__(self, full_bytes: bool) -> None:
        self.full_bytes = full_bytes
        self.lines: list[str] = []

    def _leaf(self, value: object) -> str | None:
        """The one-line JSON of a value that needs no lines of its own, else None."""
        if isinstance(value, bytes):
            return json.dumps(_json_bytes(value, self.full_bytes))
        if isinstance(value, dict):
            return "{}" if not value else None
        if isinstance(value, list):
            if any(isinstance(v, (dict, list)) for v in value):
                return None
            parts = [json.dumps(_json_bytes(v, self.full_bytes)) if isinstance(v, bytes)
                     else json.dumps(v) for v in value]
            return "[" + ", ".join(parts) + "]"
        return json.dumps(value)

    def write(self, root: object) -> str:
        leaf = self._leaf(root)
        if leaf is not None:
            return leaf + "\n"
        # frames: (items, next index, indent, closing bracket)
        stack: list[tuple[list[tuple[str, object]], int, int, str]] = []
        self._open(stack, "", root, 0, last=True)
        while stack:
            items, i, indent, closing = stack.pop()
            if i >= len(items):
                self.lines.append(" " * indent + closing)
                if stack:
                    self._comma_if_more(stack)
                continue
            stack.append((items, i + 1, indent, closing))
            prefix, value = items[i]
            self._open(stack, prefix, value, indent + 1, last=i + 1 >= len(items))
        return "\n".join(self.lines) + "\n"

    def _comma_if_more(self, stack: list[tuple[list[tuple[str, object]], int, int, str]]) -> None:
        items, i, _indent, _closing = stack[-1]
        if i < len(items):
            self.lines[-1] += ","

    def _open(self, stack: list[tuple[list[tuple[str, object]], int, int, str]], prefix: str,
              value: object, indent: int, last: bool) -> None:
        pad = " " * indent
        leaf = self._leaf(value)
        if leaf is not None:
            self.lines.append(pad + prefix + leaf + ("" if last else ","))
            return
        if isinstance(value, dict):
            items = [(json.dumps(str(k)) + ": ", v) for k, v in value.items()]
            self.lines.append(pad + prefix + "{")
            stack.append((items, 0, indent, "}"))
        else:
            assert isinstance(value, list)
            self.lines.append(pad + prefix + "[")
            stack.append(([("", v) for v in value], 0, indent, "]"))


def decode(path: str | os.PathLike[str], section: str | None = None,
           full_bytes: bool = False) -> str:
    """The snapshot (or one ``section`` of it, e.g. ``state.kernel.tasks``) as readable JSON.

    Byte strings show as ``{"$bytes": n, "hex": ...}`` up to 64 bytes, else with their
    sha256; ``full_bytes`` gives every byte string in base64.

    Raises:
        SnapshotError: the file is not a readable snapshot, or no such section.
    """
    doc = read_snapshot(path)
    return _JsonWriter(full_bytes).write(_section(doc, section))


# ---- diff --------------------------------------------------------------------------------------


def diff_docs(a: dict[str, object], b: dict[str, object]) -> SnapshotDiff:
    """``scenarios.snapshot_diff.diff_docs``: what differs between two checked maps."""
    from scenarios.snapshot_diff import diff_docs as diff_maps

    return diff_maps(a, b)


def diff(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> SnapshotDiff:
    """``scenarios.snapshot_diff.diff``: what differs between two snapshot files.

    Raises:
        SnapshotError: a file is not a readable snapshot, or they cannot be compared.
    """
    from scenarios.snapshot_diff import diff as diff_files

    return diff_files(a, b)
