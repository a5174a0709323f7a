"""Time travel: periodic in-memory checkpoints of a session, and replay from them.

The model is deterministic, so any earlier moment of a run can be had again by restoring
a state from before it and running forward. ``History`` keeps such states: the kernel's
whole state (``Kernel.to_state``) packed by msgpack's own packer (no snapshot-file
encoding: a checkpoint never leaves the process, so it needs neither the file's checks nor
its columnar form) and compressed with zstd at a fast level, RAM and the disk compressed
straight from the machine's buffers; taken after an event whenever the run has worked long
enough since the last one. Going back to
event N restores the latest checkpoint at or before N and replays to N; going back to a
record inside an event replays that event suspended at the record (scenarios/finestep.py).
The state reached is the state a straight run reaches there, to the bit (same
``state_hash``).

The spacing is measured in the process's CPU time spent running (``spacing_s``, and at
least ``TAKE_COST_FACTOR`` times what the last checkpoint cost to take, which bounds what
keeping history costs a run), so a seek replays at most about that long whatever the
scenario's events cost; CPU time rather than wall time, so that a busy host does not space
them further apart than the work done. The checkpoints share a memory budget
(``budget_bytes``): when they outgrow it, every other one is dropped (never the first, the
earliest moment the history can reach) and the spacing doubles. Where checkpoints fall
changes only how long a seek takes, never what it reaches.

The clock here decides nothing the model computes: only when to keep a copy.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import msgpack
import zstandard

from machine.borrowed import BorrowedBytes
from scenarios.finestep import Matcher, Position

if TYPE_CHECKING:
    from kernelmodel.include.vmstat import TraceEvent
    from scenarios.session import CheckpointRecord, Session
    from scenarios.story import StoryHit

#: Default memory for checkpoints: a quarter of a 256 MiB machine.
DEFAULT_BUDGET_BYTES: Final = 64 << 20
#: Default wall time of running between two checkpoints (seconds).
DEFAULT_SPACING_S: Final = 0.2
#: Running time between two checkpoints, at least, in what the last one cost to take: 2
#: keeps the cost of taking them to a third of a run's time at most, and a seek's replay
#: short (it was 4 while a checkpoint cost several times what it does now).
TAKE_COST_FACTOR: Final = 2
#: zstd's fast level: RAM compresses at about twice level 1's speed, a little larger.
_ZSTD_LEVEL: Final = -1
#: The msgpack extension type standing for a blob (its index in ``Packed.blobs``).
_BLOB_EXT: Final = 1


@dataclass(frozen=True)
class Packed:
    """A kernel state as a checkpoint keeps it: the state msgpack-packed and compressed,
    with RAM and the disk's medium compressed apart (``blobs``), straight from the live
    buffers the machine lends (machine/borrowed.py), so that neither is copied whole."""

    data: bytes
    blobs: tuple[bytes, ...] = ()

    @property
    def nbytes(self) -> int:
        return len(self.data) + sum(len(b) for b in self.blobs)


@dataclass(frozen=True)
class Checkpoint:
    """One kept state: where it is, the compressed state, and the session's own records
    (its checkpoints, how it ended, the story texts shown so far)."""

    position: Position
    data: Packed
    records: tuple[CheckpointRecord, ...]
    end_reason: str
    story: tuple[StoryHit, ...] = ()

    @property
    def nbytes(self) -> int:
        return self.data.nbytes


def encode_kernel(session: Session) -> Packed:
    """The kernel's state, msgpack-packed and zstd-compressed (``Packed``)."""
    blobs: list[bytes] = []

    def lend(value: object) -> msgpack.ExtType:
        # RAM and the disk, lent by the live machine: compressed from their buffers, apart
        if type(value) is not BorrowedBytes:
            raise TypeError(f"checkpoint: cannot keep a {type(value).__name__}")
        cobj = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compressobj(size=value.nbytes)
        out = [cobj.compress(part) for part in value.parts]
        out.append(cobj.flush())
        blobs.append(b"".join(out))
        return msgpack.ExtType(_BLOB_EXT, (len(blobs) - 1).to_bytes(4, "little"))

    enabled = gc.isenabled()
    gc.disable()
    try:
        raw = msgpack.packb(session.kernel.to_state(borrow=True), use_bin_type=True,
                            default=lend)
        data = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(raw)
    finally:
        if enabled:
            gc.enable()
    return Packed(data, tuple(blobs))


def decode_kernel(packed: Packed) -> object:
    """A new kernel from ``encode_kernel``'s output."""
    from kernelmodel.state.restore import vl_kernel_from_state

    unzip = zstandard.ZstdDecompressor()

    def blob(code: int, data: bytes) -> object:
        if code != _BLOB_EXT:
            raise ValueError(f"checkpoint: unknown extension type {code}")
        return unzip.decompress(packed.blobs[int.from_bytes(data, "little")])

    enabled = gc.isenabled()
    gc.disable()
    try:
        state = msgpack.unpackb(unzip.decompress(packed.data), raw=False,
                                strict_map_key=False, ext_hook=blob)
        return vl_kernel_from_state(state)
    finally:
        if enabled:
            gc.enable()


class History:
    """The checkpoints of one session, oldest first, within a memory budget."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 spacing_s: float = DEFAULT_SPACING_S) -> None:
        if budget_bytes <= 0:
            raise ValueError("history: the memory budget must be positive")
        if spacing_s <= 0:
            raise ValueError("history: the spacing must be positive")
        self.budget_bytes = budget_bytes
        self.spacing_s = spacing_s
        self.checkpoints: list[Checkpoint] = []
        self._work_s = 0.0
        self._last_tick = time.process_time()
        self._take_cost_s = 0.0
        #: Checkpoints dropped to stay within the budget.
        self.thinned = 0

    @property
    def nbytes(self) -> int:
        """Memory the checkpoints hold (compressed states)."""
        return sum(c.nbytes for c in self.checkpoints)

    @property
    def earliest(self) -> Position:
        return self.checkpoints[0].position

    def take(self, session: Session) -> Checkpoint:
        """Keep the session's state now (between two events), in order among the others
        (the one already kept there, if any, is returned instead)."""
        pos = session.position
        for old in self.checkpoints:
            if old.position == pos:
                return old
        t0 = time.process_time()
        cp = Checkpoint(pos, encode_kernel(session), tuple(session.checkpoints),
                        session.end_reason, tuple(session.story))
        self._take_cost_s = time.process_time() - t0
        insort(self.checkpoints, cp, key=lambda c: c.position)
        self._work_s = 0.0
        self._last_tick = time.process_time()
        self._thin()
        return cp

    def _thin(self) -> None:
        """Drop every other checkpoint after the first while over budget; space them more."""
        while self.nbytes > self.budget_bytes and len(self.checkpoints) > 2:
            first, rest = self.checkpoints[0], self.checkpoints[1:]
            kept = rest[1::2] if len(rest) > 1 else rest
            self.thinned += len(rest) - len(kept)
            self.checkpoints = [first, *kept]
            self.spacing_s *= 2

    def resume(self) -> None:
        """Called when the session starts running: the time since it last ran is the
        user's, not work."""
        self._last_tick = time.process_time()

    def after_event(self, session: Session) -> None:
        """Called after every event: take a checkpoint when enough work was done since the
        last one, and only past the latest (a replay does not take them again)."""
        now = time.process_time()
        self._work_s += now - self._last_tick
        self._last_tick = now
        if self._work_s < max(self.spacing_s, TAKE_COST_FACTOR * self._take_cost_s):
            return
        if self.checkpoints and session.position <= self.checkpoints[-1].position:
            self._work_s = 0.0
            return
        self.take(session)

    def at_or_before(self, pos: Position) -> Checkpoint | None:
        """The latest checkpoint from which ``pos`` can be reached by running forward: at
        most ``pos.events`` events (a checkpoint is always between two events, so it comes
        before every record of the events after it)."""
        i = bisect_right([c.position.events for c in self.checkpoints], pos.events)
        return self.checkpoints[i - 1] if i else None

    def before(self, cp: Checkpoint) -> Checkpoint | None:
        """The latest checkpoint before ``cp``'s position. ``cp`` itself may be gone: a
        step back replays from it, the replay can take a new checkpoint past the latest, and
        thinning to the budget can then drop ``cp``."""
        i = bisect_left([c.position for c in self.checkpoints], cp.position)
        return self.checkpoints[i - 1] if i else None


def collect(session: Session, cp: Checkpoint, match: Matcher, hi: Position) -> list[Position]:
    """Restore ``cp`` and replay up to ``hi``, returning every position before ``hi`` at
    which ``match`` matches (records and event ends), in order. Leaves the session somewhere
    at or after ``hi``'s event; the caller seeks where it wants next."""
    session._restore(cp)
    k = session.kernel
    found: list[Position] = []
    match.reset(k)
    machine = k.machine

    def hook(ev: TraceEvent) -> None:
        if match.at_record(ev, k):
            found.append(Position(machine.events - 1, ev.seq + 1))

    while machine.events <= hi.events and not session._stop_before(None, None):
        k.trace.vl_hook = hook if match.watches_records else None
        try:
            machine.step()
        finally:
            k.trace.vl_hook = None
        session._after_event()
        if match.at_event_end(k):
            found.append(session.position)
    return [p for p in found if p < hi]
