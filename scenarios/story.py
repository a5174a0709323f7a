"""The story of a run: which ``[[story]]`` texts have been shown, when, and which is current.

A scenario's narration (``Scenario.story``) is a list of short texts, each tied to a moment:
the start or the end of the run, the first hit of a checkpoint, the first event that reaches
a simulated time, or the first event after which a condition holds (the expectations'
language, ``nr_writeback > 0``). ``StoryTracker`` watches a session and records a
``StoryHit`` for each text when its moment comes; the dashboard shows the latest as the
current text, ``vmlab run`` prints each as it comes, and a snapshot keeps the hits so an
opened snapshot shows the story as it stood.

Conditions without a moment are tested after every event until they first hold, so they must
be cheap: the metrics they name are read straight from the model (the full ``metrics()``
only for the few that need it), and the loader refuses the metrics only the data oracle or
the invariant checker computes there. Nothing here changes the model: the story is the same
however a run is sliced into steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from scenarios.expect import Check, holds
from scenarios.schema import STORY_END, STORY_START, StoryItem

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.session import Session

#: Metrics read from the model without building the whole ``metrics()`` map.
_DIRECT: Final[dict[str, Callable[[Kernel], int]]] = {
    "nr_free_pages": lambda k: k.pgdat.zone.free_pages,
    "nr_active": lambda k: k.pgdat.zone.nr_active,
    "nr_inactive": lambda k: k.pgdat.zone.nr_inactive,
    "fsync_done": lambda k: k.wb.fsync_done,
    "fsync_latency_ns": lambda k: k.wb.fsync_latency_max,
    "fsync_latency_last_ns": lambda k: k.wb.fsync_latency_last,
    "head_travel_sectors": lambda k: k.machine.disk.head_travel,
    "disk_requests": lambda k: k.machine.disk.requests,
    "sim_time_ns": lambda k: k.machine.clock.now,
    "events": lambda k: k.machine.events,
    "tasks": lambda k: len(k.tasks),
    "checkpoints": lambda k: len(k.checkpoints),
}
#: vmstat counters ``metrics()`` reports differently from the bare field.
_NOT_PLAIN: Final = frozenset({"fsync_pages_visited"})


@dataclass(frozen=True)
class StoryHit:
    """One story text shown: the entry's index in ``Scenario.story``, its text, and the
    event count and simulated time at which it came."""

    index: int
    text: str
    event: int
    time_ns: int


def direct_reader(check: Check, vmstat_names: frozenset[str]) -> bool:
    """Whether every metric ``check`` names is read straight from the model."""
    return all(n in _DIRECT or (n in vmstat_names and n not in _NOT_PLAIN)
               for n in check.metrics())


def _reader(check: Check, vmstat_names: frozenset[str]) -> Callable[[Kernel], dict[str, int]]:
    """A function that reads the metrics ``check`` names from a kernel, cheaply if it can."""
    names = check.metrics()
    if not direct_reader(check, vmstat_names):
        return lambda k: dict(k.metrics())
    direct = [(n, _DIRECT[n]) for n in names if n in _DIRECT]
    plain = [n for n in names if n not in _DIRECT]

    def read(k: Kernel) -> dict[str, int]:
        out = {n: int(getattr(k.vmstat, n)) for n in plain}
        for n, get in direct:
            out[n] = get(k)
        return out

    return read


class StoryTracker:
    """Records each story text of one session when its moment comes."""

    def __init__(self, items: tuple[StoryItem, ...], hits: list[StoryHit] | None = None) -> None:
        from kernelmodel.include.vmstat import VMSTAT_NAMES

        self.items = items
        #: The texts shown so far, in order.
        self.hits: list[StoryHit] = list(hits or [])
        #: Called with each new hit (``vmlab run`` prints it).
        self.listener: Callable[[StoryHit], None] | None = None
        fired = {h.index for h in self.hits}
        open_ = [i for i in range(len(items)) if i not in fired]
        plain = frozenset(VMSTAT_NAMES)
        self._watch: list[tuple[int, StoryItem, Callable[[Kernel], dict[str, int]]]] = []
        for i in open_:
            when = items[i].when
            if not items[i].point and items[i].time_ns < 0 and when is not None:
                self._watch.append((i, items[i], _reader(when, plain)))
        self._timed = sorted((items[i].time_ns, i) for i in open_ if items[i].time_ns >= 0)
        self._at: dict[str, list[int]] = {}
        for i in open_:
            if items[i].point:
                self._at.setdefault(items[i].point, []).append(i)

    @property
    def current(self) -> str:
        """The latest text shown ("" before the first)."""
        return self.hits[-1].text if self.hits else ""

    def _fire(self, session: Session, indices: list[int],
              verified: frozenset[int] = frozenset()) -> None:
        """Record the entries ``indices`` (in the file's order) whose condition holds now
        (``verified``: those already found to hold)."""
        full: dict[str, int] | None = None
        for i in sorted(indices):
            item = self.items[i]
            if item.when is not None and i not in verified:
                if full is None:
                    need = set(item.when.metrics())
                    full = session._metrics(oracle="data_verified" in need,
                                            checker="invariants_ok" in need,
                                            durable="acked_bytes_lost" in need)
                if not holds(item.when, full, session._at_map(len(session.checkpoints))):
                    continue
            hit = StoryHit(i, item.text, session.events, session.sim_time_ns)
            self.hits.append(hit)
            if self.listener is not None:
                self.listener(hit)

    def _take_point(self, point: str) -> list[int]:
        return self._at.pop(point, [])

    def at_start(self, session: Session) -> None:
        """The run begins (a fresh boot, before the first event)."""
        self._fire(session, self._take_point(STORY_START))

    def at_end(self, session: Session) -> None:
        """The run has ended (every task exited, nothing to do, the duration, a power cut)."""
        if STORY_END in self._at:
            self._fire(session, self._take_point(STORY_END))

    def after_event(self, session: Session, new_checkpoints: list[str]) -> None:
        """After each event: the checkpoints it recorded, the times it reached, and the
        conditions that now hold."""
        due: list[int] = []
        verified: set[int] = set()
        for name in new_checkpoints:
            if name in self._at and name not in (STORY_START, STORY_END):
                due += self._take_point(name)
        now = session.sim_time_ns
        while self._timed and self._timed[0][0] <= now:
            due.append(self._timed.pop(0)[1])
        if self._watch:
            k = session.kernel
            at: Mapping[str, Mapping[str, int]] | None = None
            keep = []
            for entry in self._watch:
                i, item, read = entry
                assert item.when is not None
                if at is None:
                    at = session._at_map(len(session.checkpoints))
                if holds(item.when, read(k), at):
                    due.append(i)
                    verified.add(i)
                else:
                    keep.append(entry)
            self._watch = keep
        if due:
            self._fire(session, due, frozenset(verified))
