"""Time travel: periodic in-memory checkpoints of a session, and replay from them.

The model is deterministic, so any earlier moment of a run can be had again by restoring
a state from before it and running forward. ``History`` keeps such states: the kernel's
whole state (``Kernel.to_state``) in the snapshot encoding (scenarios/snapshot.py:
columnar lists, RAM and the disk as they are), compressed with zstd at a fast level, taken
after an event whenever the run has worked long enough since the last one. Going back to
event N restores the latest checkpoint at or before N and replays to N; going back to a
record inside an event replays that event suspended at the record (scenarios/finestep.py).
The state reached is the state a straight run reaches there, to the bit (same
``state_hash``).

The spacing is measured in wall time spent running (``spacing_s``, at least four times
what the last checkpoint cost to take), so a seek replays at most about that long whatever
the scenario's events cost. The checkpoints share a memory budget (``budget_bytes``): when
they outgrow it, every other one is dropped (never the first, the earliest moment the
history can reach) and the spacing doubles. Where checkpoints fall changes only how long a
seek takes, never what it reaches.

Wall time here decides nothing the model computes: only when to keep a copy.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_right, insort
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import zstandard

from scenarios.finestep import Matcher, Position

if TYPE_CHECKING:
    from kernelmodel.include.vmstat import TraceEvent
    from scenarios.session import CheckpointRecord, Session
    from scenarios.story import StoryHit

#: Default memory for checkpoints: a quarter of a 256 MiB machine.
DEFAULT_BUDGET_BYTES: Final = 64 << 20
#: Default wall time of running between two checkpoints (seconds).
DEFAULT_SPACING_S: Final = 0.2
_ZSTD_LEVEL: Final = 1


@dataclass(frozen=True)
class Checkpoint:
    """One kept state: where it is, the compressed state, and the session's own records
    (its checkpoints, how it ended, the story texts shown so far)."""

    position: Position
    data: bytes
    records: tuple[CheckpointRecord, ...]
    end_reason: str
    story: tuple[StoryHit, ...] = ()

    @property
    def nbytes(self) -> int:
        return len(self.data)


def encode_kernel(session: Session) -> bytes:
    """The kernel's state in the snapshot encoding, zstd-compressed."""
    from scenarios.snapshot import encode_state_pieces

    enabled = gc.isenabled()
    gc.disable()
    try:
        pieces, size = encode_state_pieces(session.kernel.to_state(borrow=True))
        cobj = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compressobj(size=size)
        out = [cobj.compress(p) for p in pieces]
    finally:
        if enabled:
            gc.enable()
    out.append(cobj.flush())
    return b"".join(out)


def decode_kernel(data: bytes) -> object:
    """A new kernel from ``encode_kernel``'s bytes."""
    from kernelmodel.state.restore import vl_kernel_from_state
    from scenarios.snapshot import decode_state

    enabled = gc.isenabled()
    gc.disable()
    try:
        return vl_kernel_from_state(decode_state(zstandard.ZstdDecompressor().decompress(data)))
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
        self._last_tick = time.perf_counter()
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
        t0 = time.perf_counter()
        cp = Checkpoint(pos, encode_kernel(session), tuple(session.checkpoints),
                        session.end_reason, tuple(session.story))
        self._take_cost_s = time.perf_counter() - t0
        insort(self.checkpoints, cp, key=lambda c: c.position)
        self._work_s = 0.0
        self._last_tick = time.perf_counter()
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
        self._last_tick = time.perf_counter()

    def after_event(self, session: Session) -> None:
        """Called after every event: take a checkpoint when enough work was done since the
        last one, and only past the latest (a replay does not take them again)."""
        now = time.perf_counter()
        self._work_s += now - self._last_tick
        self._last_tick = now
        if self._work_s < max(self.spacing_s, 4 * self._take_cost_s):
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
        """The checkpoint before ``cp``."""
        i = self.checkpoints.index(cp)
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
