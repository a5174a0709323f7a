"""Steps finer than an event: stopping at one trace record inside the event that writes it.

One event can hold thousands of things a learner wants to see one at a time (a task's time
slice touching 4,096 pages takes 4,096 page faults). The kernel writes a trace record for
each of them (docs/trace.md), and ``TraceRing.vl_hook`` sees every record as it is
written. To stop there, the event runs in a greenlet: the hook switches back to the caller,
which sees the machine exactly as it is at that record, and the next step switches into
the greenlet again, which goes on from the same instruction. Nothing in the model runs
differently: the event is the same event, only suspended, so results, state hashes and the
order of events are those of a run that never stopped.

While an event is suspended the session is *inside* it: the kernel's structures (struct
pages, page tables, the radix trees, the counters) are as the record left them, but the
CPU's slice has not yet written back its position in the program, and the event's end
(the checkpoint records of the session) has not happened. ``Session.finish_event`` ends it;
``run``, ``step`` and snapshots do that first.

A place in a run is a ``Position``: events completed and trace records written. Positions
are totally ordered and deterministic, so the timeline (scenarios/timeline.py) can go back
to one by replay.

Granularities (``Session.step_until(kind)``):

=========  =================================================================================
event      to the end of the next event (or of the one suspended)
fault      the next ``fault`` record
syscall    the next ``syscall`` record
io         the next ``io_complete`` record (a disk request completed)
page       the next record (or event end) at which struct page ``pfn`` differs (any field
           or flag, its mapping, its LRU list)
tag        the next record (or event end) at which the radix-tree tags of file ``path``
           differ (which pages are tagged dirty or writeback)
=========  =================================================================================

``run_until(expr)`` stops at the first record or event end at which a check in the language
of expectations holds (``nr_dirty == 0``, ``pgmajfault > 100``).

The same greenlet bounds how long one call into the model takes (``Session.run(pause=...)``,
what the dashboard's frames call): the kernel's long loops pass through pause points
(``kernelmodel.kernel.task.vl_host_pause``: the kernel's ``cond_resched`` calls, each page
of reclaim's batches, each page fault, each kernel-op step), and there the event is
suspended when the caller's ``pause()`` says its time is up. Such a pause stops at no
record: ``suspended_at`` is None, ``in_event`` is True, and the position is the records
written so far. Going back in time (``seek``, ``step_back``) ends the paused event first;
stepping on (``step_until``, ``run_until``) goes on from the pause.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NamedTuple

from greenlet import GreenletExit, getcurrent, greenlet

from kernelmodel.include.vmstat import TR_FAULT, TR_IO_DONE, TR_SYSCALL, TraceEvent
from kernelmodel.lib.radix_tree import vl_radix_tree_tag_bits
from scenarios.expect import Check, evaluate, parse_check, suggest

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.session import Session

#: The granularities of ``step_until`` and ``step_back``, in the order the dashboard offers.
GRANULARITIES: Final = ("event", "fault", "syscall", "io", "page", "tag")
#: The trace kind each record granularity stops on.
RECORD_KINDS: Final = {"fault": TR_FAULT, "syscall": TR_SYSCALL, "io": TR_IO_DONE}

STOP_RECORD: Final = "record"
STOP_EVENT: Final = "event"
STOP_MATCH: Final = "predicate"


class Position(NamedTuple):
    """A place in a run: ``events`` completed and ``records`` trace records written.

    Between events ``records`` is the trace's ``next_seq``; inside a suspended event it is the
    record just written plus one (so that record is ``records - 1``).
    """

    events: int
    records: int


class StepError(ValueError):
    """A granularity or its target is wrong (one line, for the user)."""


class Matcher:
    """What a step stops on: a record, or a change seen at a record or at an event end."""

    #: True when the matcher looks at records (False: at event ends only).
    watches_records = True

    def reset(self, k: Kernel) -> None:
        """Remember the state the next change is measured from."""

    def at_record(self, ev: TraceEvent, k: Kernel) -> bool:
        return False

    def at_event_end(self, k: Kernel) -> bool:
        return False


class EventMatcher(Matcher):
    """Every event end."""

    watches_records = False

    def at_event_end(self, k: Kernel) -> bool:
        return True


class KindMatcher(Matcher):
    """Records of one trace kind (and, optionally, one exact record number)."""

    def __init__(self, kind: str | None, seq: int = -1) -> None:
        self.kind = kind
        self.seq = seq

    def at_record(self, ev: TraceEvent, k: Kernel) -> bool:
        if self.seq >= 0:
            return ev.seq == self.seq
        return ev.kind == self.kind


class _ChangeMatcher(Matcher, ABC):
    """A signature of part of the state, compared at every record and event end."""

    def __init__(self) -> None:
        self.last: object = None

    @abstractmethod
    def signature(self, k: Kernel) -> object:
        """The part of the state a change of which stops the step (the page's fields, the
        file's tags)."""

    def reset(self, k: Kernel) -> None:
        self.last = self.signature(k)

    def _changed(self, k: Kernel) -> bool:
        now = self.signature(k)
        if now != self.last:
            self.last = now
            return True
        return False

    def at_record(self, ev: TraceEvent, k: Kernel) -> bool:
        return self._changed(k)

    def at_event_end(self, k: Kernel) -> bool:
        return self._changed(k)


def page_signature(k: Kernel, pfn: int) -> tuple[object, ...]:
    """Every field of struct page ``pfn`` the model keeps, its mapping and its LRU list."""
    from kernelmodel.include.page import vl_describe_mapping

    p = k.mem_map.pages[pfn]
    return (p.flags, p._count, p._mapcount, p.private, p.index, p.lru, p.pte_direct,
            p.list_id, p.dirtied_when, vl_describe_mapping(p.mapping))


class PageMatcher(_ChangeMatcher):
    """Struct page ``pfn`` changed."""

    def __init__(self, k: Kernel, pfn: int) -> None:
        super().__init__()
        if not 0 <= pfn < k.mem_map.nframes:
            raise StepError(f"page: pfn {pfn} is outside mem_map (0 to {k.mem_map.nframes - 1})")
        self.pfn = pfn

    def signature(self, k: Kernel) -> object:
        return page_signature(k, self.pfn)


def file_tags(k: Kernel, path: str) -> list[tuple[int, int]]:
    """(index, tag mask) of every tagged page of ``path``'s page cache ([] once it is gone)."""
    ino = k.sb.s_names.get(path)
    inode = k.sb.s_inodes.get(ino) if ino is not None else None
    if inode is None:
        return []
    return vl_radix_tree_tag_bits(inode.i_mapping.page_tree)


class TagMatcher(_ChangeMatcher):
    """The radix-tree tags of file ``path`` changed."""

    def __init__(self, k: Kernel, path: str) -> None:
        super().__init__()
        if path not in k.sb.s_names:
            raise StepError(f'tag: no file "{path}"{suggest(path, list(k.sb.s_names))}')
        self.path = path

    def signature(self, k: Kernel) -> object:
        return file_tags(k, self.path)


class CheckMatcher(Matcher):
    """A check in the expectations' language holds (evaluated on the live counters)."""

    def __init__(self, session: Session, text: str) -> None:
        from scenarios.expect import ExpectError

        try:
            self.check: Check = parse_check(text)
        except ExpectError as exc:
            raise StepError(f"run_until: {exc}") from None
        if any(o is not None and o.at for t in self.check.terms for o in (t.left, t.right)):
            raise StepError("run_until: METRIC@CHECKPOINT is not available here; name a "
                            "metric now")
        self.session = session

    def holds(self) -> bool:
        return check_holds(self.session, self.check)

    def at_record(self, ev: TraceEvent, k: Kernel) -> bool:
        return self.holds()

    def at_event_end(self, k: Kernel) -> bool:
        return self.holds()


def check_holds(session: Session, check: Check) -> bool:
    """Whether ``check`` holds on the session's counters now; the costly oracle, checker and
    durability check run only when it names their metrics."""
    needed = set(check.metrics())
    metrics = session._metrics(oracle="data_verified" in needed,
                               checker="invariants_ok" in needed,
                               durable="acked_bytes_lost" in needed)
    return evaluate(check, metrics)[0]


def matcher_for(session: Session, kind: str, pfn: int | None = None,
                path: str | None = None) -> Matcher:
    """The matcher of granularity ``kind`` (``GRANULARITIES``).

    Raises:
        StepError: an unknown granularity, or page without ``pfn`` / tag without ``path``.
    """
    k = session.kernel
    if kind == "event":
        return EventMatcher()
    if kind in RECORD_KINDS:
        return KindMatcher(RECORD_KINDS[kind])
    if kind == "page":
        if pfn is None:
            raise StepError("page: say which page (pfn)")
        return PageMatcher(k, pfn)
    if kind == "tag":
        if path is None:
            raise StepError("tag: say which file (path)")
        return TagMatcher(k, path)
    raise StepError(f'no granularity "{kind}"{suggest(kind, GRANULARITIES)} '
                    f"(one of {', '.join(GRANULARITIES)})")


class Suspender:
    """Runs events in a greenlet that a matching record suspends (one per session)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.g: greenlet | None = None
        #: The record the suspended event stopped at (None between events, and when the
        #: host paused it between two records).
        self.record: TraceEvent | None = None
        self._match: Matcher = Matcher()
        self._pause: Callable[[], bool] | None = None

    @property
    def suspended(self) -> bool:
        """An event is in progress: stopped at a record, or paused for the host."""
        return self.g is not None

    @property
    def paused(self) -> bool:
        """The event in progress was paused for the host (at no record)."""
        return self.g is not None and self.record is None

    def _one_event(self) -> None:
        self.session.kernel.machine.step()

    def _hook(self, ev: TraceEvent) -> None:
        if self._match.at_record(ev, self.session.kernel):
            parent = getcurrent().parent
            assert parent is not None
            parent.switch(ev)

    def _pause_hook(self) -> None:
        pause = self._pause
        if pause is not None and pause():
            parent = getcurrent().parent
            assert parent is not None
            parent.switch(None)

    def _resume(self, match: Matcher, pause: Callable[[], bool] | None = None) -> bool:
        """Run the current (or a new) event until ``match`` stops it at a record, or
        ``pause`` says to stop at a pause point (True), or the event ends (False; the
        session's end-of-event work is done)."""
        s = self.session
        k = s.kernel
        trace = k.trace
        if self.g is None:
            self.g = greenlet(self._one_event)
        self._match = match
        self._pause = pause
        trace.vl_hook = self._hook if match.watches_records else None
        k.vl_pause_hook = self._pause_hook if pause is not None else None
        try:
            got = self.g.switch()
        except BaseException:
            self.g = None
            self.record = None
            raise
        finally:
            trace.vl_hook = None
            k.vl_pause_hook = None
            self._pause = None
        if self.g.dead:
            self.g = None
            self.record = None
            s._after_event()
            return False
        assert got is None or isinstance(got, TraceEvent)
        self.record = got
        return True

    def run_paused(self, pause: Callable[[], bool]) -> bool:
        """Run the event in progress (or the next one) until it ends (False) or ``pause``,
        asked at each pause point, returns True (True: suspended there, at no record)."""
        return self._resume(Matcher(), pause)

    def finish(self) -> None:
        """End the suspended event, if any (nothing stops it)."""
        while self.g is not None:
            self._resume(Matcher())

    def drop(self) -> None:
        """Abandon the suspended event (the kernel it ran in is being replaced)."""
        g = self.g
        self.g = None
        self.record = None
        if g is not None and not g.dead:
            g.throw(GreenletExit)  # unwinds the event's stack; the greenlet ends

    def advance(self, match: Matcher, n: int = 1,
                before: Callable[[], str] | None = None) -> str:
        """Go on until ``match`` has matched ``n`` times, or the scenario ends.

        Returns:
            "record" (suspended at the matching record), "event" (an event end matched),
            or the session's stop reason when it ended first ("end").
        """
        s = self.session
        match.reset(s.kernel)
        got = 0
        while got < n:
            if self.g is None:
                reason = s._stop_before(None, None) if before is None else before()
                if reason:
                    return reason
            if self._resume(match):
                got += 1
                if got == n:
                    return STOP_RECORD
            elif match.at_event_end(s.kernel):
                got += 1
                if got == n:
                    return STOP_EVENT
        return STOP_EVENT  # pragma: no cover - n >= 1 returns inside the loop
