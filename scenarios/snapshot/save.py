"""Writing a snapshot: one walk over the state that hashes and encodes it.

``_build`` walks the state once (``scenarios.state_codec.StateWriter``) into two lists of
pieces, the plain msgpack and the encoding; SHA-256 of the plain pieces runs on a second
thread while the encoded pieces go to the compressor (the state hash, which ends the payload,
is compressed last), and the large byte strings (RAM frames, disk chunks, oracle pages) are
never copied. Saving changes nothing in the session, and reads no wall clock.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgpack

from scenarios.snapshot.described import Description, describe
from scenarios.snapshot.errors import SnapshotError
from scenarios.snapshot.fileformat import (
    DIGEST_CHARS,
    FORMAT_NAME,
    HEADER,
    MAGIC,
    TOP_KEYS,
    compressor,
)
from scenarios.snapshot.migrations import SNAPSHOT_VERSION
from scenarios.snapshot.scenario import scenario_doc
from scenarios.state_codec import StateWriter, map_header

if TYPE_CHECKING:
    from scenarios.session import Session
    from scenarios.session_types import ExpectationResult


def _session_section(session: Session) -> dict[str, object]:
    """The runner's records: checkpoints hit (with their metrics) and what they decided."""
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
    """The scenario as plain data, its seed and the kernel it runs."""
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
    those (scenarios/snapshot/described.py); otherwise every byte is stored.
    """
    from scenarios.cli.version import vmlab_version

    session.finish_event()  # a snapshot is taken between two events

    # The state is a tree of millions of fresh containers: a cyclic collection pass in the
    # middle of building it costs more than the build, and it holds no cycles to collect.
    enabled = gc.isenabled()
    gc.disable()
    try:
        state = session.kernel.to_state(borrow=True)
        desc = describe(state) if compact else Description()
        w = StateWriter(hashing=False, encoding=True, defer_hash=True)
        w.subst = desc.subst
        w.raw(map_header(len(TOP_KEYS)))
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
    cobj = compressor(w.size + len(tail) + len(msgpack.packb("0" * DIGEST_CHARS)))
    hasher = threading.Thread(target=w.hash_deferred, name="snapshot-hash")
    hasher.start()
    try:
        out = [cobj.compress(piece) for piece in w.pieces]
    finally:
        hasher.join()
    digest = w.digest()
    if len(digest) != DIGEST_CHARS:  # pragma: no cover - SHA-256 has 64 hex digits
        raise SnapshotError(f"state hash {digest!r} is not {DIGEST_CHARS} characters")
    out.append(cobj.compress(tail + msgpack.packb(digest)))
    out.append(cobj.flush())
    return HEADER.pack(MAGIC, SNAPSHOT_VERSION) + b"".join(out), digest


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
    those (scenarios/snapshot/described.py); ``compact=False`` stores every byte. Both
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

