"""The Python API: boot a scenario, run it in steps or to a stopping point, read the results.

::

    from scenarios.session import Session

    s = Session.load("fsync-under-writeback", seed=7)
    s.run(until_checkpoint="synced")       # -> "checkpoint"
    print(s.metrics()["nr_dirty"])
    s.run()                                # to the end -> "end"
    for r in s.evaluate_expectations():
        print(r.name, r.ok, r.detail)
    print(s.state_hash())
    s.series.write_csv(open("counters.csv", "w"))   # every counter, one row per 10 ms

A session owns one ``Machine`` and one ``Kernel``. It counts nothing itself that the model
does not count: time is ``machine.clock.now``, events are ``machine.events``. It records the
metrics at each checkpoint an expectation refers to (at the end of the event in which the
checkpoint was recorded), so checkpoint expectations and ``METRIC@CHECKPOINT`` values are
evaluated against the moment the checkpoint was hit. The data oracle and the invariant
checker, which are costly, run at a checkpoint only when an expectation there uses
``data_verified`` or ``invariants_ok``.

Nothing here reads the wall clock; the command line measures wall time around ``run``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final, TextIO

from kernelmodel.include.vmstat import TraceEvent
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.vl_scenario import POWER_CUT_CHECKPOINT
from scenarios.assembler import Assembly, assemble
from scenarios.behaviour import BEHAVIOUR_VERSION
from scenarios.boot import attach_traces, boot
from scenarios.expect import suggest
from scenarios.expectations import (
    at_map,
    evaluate_at_checkpoint,
    evaluate_at_end,
    watched_checkpoints,
)
from scenarios.finestep import (
    CheckMatcher,
    KindMatcher,
    Position,
    StepError,
    Suspender,
    matcher_for,
)
from scenarios.gc_pause import collector_relaxed
from scenarios.library import load_scenario
from scenarios.profiles import ProfileError, check_runnable, resolve_kernel
from scenarios.schema import Expectation, KernelSpec, Scenario
from scenarios.series import DEFAULT_INTERVAL_NS, CounterSeries, Sampler, SeriesError
from scenarios.session_types import CheckpointRecord, ExpectationResult, SessionError
from scenarios.state_codec import state_digest
from scenarios.story import StoryHit, StoryTracker
from scenarios.timeline import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_SPACING_S,
    Checkpoint,
    History,
    collect,
)
from scenarios.trace.format import TraceError

__all__ = ["PROGRESS_EVERY", "STOP_CHECKPOINT", "STOP_END", "STOP_EVENTS", "STOP_PAUSED",
           "STOP_PREDICATE", "STOP_TIME", "CheckpointRecord", "ExpectationResult", "Session",
           "SessionError"]

#: ``run`` calls ``progress`` after this many events (and once when it returns).
PROGRESS_EVERY: Final = 32

STOP_END: Final = "end"
STOP_TIME: Final = "time"
STOP_EVENTS: Final = "events"
STOP_CHECKPOINT: Final = "checkpoint"
STOP_PREDICATE: Final = "predicate"
#: ``run(pause=...)``: the event in progress was paused for the caller (``in_event``).
STOP_PAUSED: Final = "paused"


def _trace_line(seq: int, time: int, kind: str, pid: int, a: int, b: int, s: str) -> str:
    rec = {"seq": seq, "time_ns": time, "kind": kind, "pid": pid, "a": a, "b": b, "s": s}
    return json.dumps(rec, separators=(",", ":")) + "\n"


class Session:
    """A booted scenario: the kernel, the run loop and the results."""

    def __init__(self, scenario: Scenario, seed: int | None = None,
                 kernel: str | KernelSpec | None = None, *,
                 booted: Kernel | None = None,
                 series_interval_ns: int = DEFAULT_INTERVAL_NS) -> None:
        """Assemble the programs, boot the machine and kernel, create the files, spawn tasks.

        Args:
            scenario: a validated scenario.
            seed: overrides the scenario's seed.
            kernel: a profile name (with that profile's own designs) or a whole
                ``KernelSpec`` overriding the scenario's kernel.
            booted: a kernel already running this scenario (a restored snapshot); used
                instead of booting a new one.
            series_interval_ns: the step of simulated time at which ``series`` samples
                every counter (``scenarios.series``).

        Raises:
            SessionError: the kernel profile is unknown or not available yet, or the machine
                or kernel configuration is refused.
        """
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        try:
            self.kernel_spec = resolve_kernel(scenario.kernel, kernel)
            check_runnable(self.kernel_spec)
        except ProfileError as exc:
            raise SessionError(str(exc)) from None
        try:
            self.assembly: Assembly = assemble(scenario, self.seed)
        except TraceError as exc:
            raise SessionError(f"replay: {exc}") from None
        self.kernel: Kernel = self._boot() if booted is None else booted
        if booted is not None:
            attach_traces(self.kernel, self.assembly)
        #: Checkpoints hit so far, in order.
        self.checkpoints: list[CheckpointRecord] = []
        #: Why the scenario ended, once it has: "exited", "idle", "duration" or "power_cut".
        self.end_reason = ""
        #: A ``powercut`` op ran: the machine is off and no further event is dispatched.
        self.powered_off = any(name == POWER_CUT_CHECKPOINT
                               for name, _, _ in self.kernel.checkpoints)
        self._watched = watched_checkpoints(scenario.expectations, scenario.story)
        self._notes: dict[str, str] = {}
        self._trace_out: TextIO | None = None
        self._trace_seq = 0
        try:
            #: Every counter sampled at fixed steps of simulated time (``scenarios.series``).
            self.series = CounterSeries(series_interval_ns, self.sim_time_ns)
        except SeriesError as exc:
            raise SessionError(str(exc)) from None
        self._samplers: list[Sampler] = [self.series]
        self._next_sample_ns = self.series.next_ns
        #: The time of the next event, as the run loop last saw it (-1: none pending).
        self._peeked = -1
        #: Every checkpoint some program of the scenario records.
        self.checkpoint_names = scenario.checkpoint_names()
        #: The model behaviour version the state was produced under
        #: (``scenarios.behaviour``): this vmlab's for a fresh boot, the snapshot's for a
        #: restored session (also when it runs on here, since its past came from there).
        self.behaviour_version = BEHAVIOUR_VERSION
        #: The scenario's narration: which ``[[story]]`` texts have come, and when.
        self.storyteller = StoryTracker(scenario.story)
        if booted is None:
            self.storyteller.at_start(self)
        self._suspender = Suspender(self)
        #: In-memory checkpoints for ``seek`` and ``step_back`` (``keep_history``), or None.
        self.history: History | None = None

    @classmethod
    def load(cls, name_or_path: str, seed: int | None = None,
             kernel: str | KernelSpec | None = None,
             series_interval_ns: int = DEFAULT_INTERVAL_NS) -> Session:
        """Load a built-in by name or a scenario file, and boot it.

        Raises:
            ScenarioError: the scenario does not load.
            SessionError: it cannot run with these settings.
        """
        return cls(load_scenario(name_or_path), seed=seed, kernel=kernel,
                   series_interval_ns=series_interval_ns)

    def _boot(self) -> Kernel:
        """A new kernel running the scenario (scenarios/boot.py); the one seam through which
        tests drive the session with a scripted kernel."""
        return boot(self.scenario, self.kernel_spec, self.seed, self.assembly)

    # ----------------------------------------------------------------- observation

    @property
    def sim_time_ns(self) -> int:
        """Simulated time now (ns)."""
        return self.kernel.machine.clock.now

    @property
    def events(self) -> int:
        """Events dispatched since boot."""
        return self.kernel.machine.events

    def metrics(self) -> dict[str, int]:
        """The kernel's metrics plus the session's (``expect.SESSION_METRICS``).

        Runs the data oracle (data_verified, acked_bytes_lost) and the invariant checker now.
        """
        return self._metrics(oracle=True, checker=True)

    def _metrics(self, oracle: bool, checker: bool, durable: bool = True) -> dict[str, int]:
        """Metrics, running the (costly) oracle, checker and durability check only when asked.

        ``acked_bytes_lost``: bytes that a returned fsync, fdatasync, sync or msync(MS_SYNC)
        acknowledged and that the disk's medium does not hold. The medium holds completed
        writes only, so this is what a power cut now would lose, and after a ``powercut``
        what it lost.
        """
        k = self.kernel
        out = dict(k.metrics())
        self._notes = {}
        if durable:
            lost, problems = k.verify_durable()
            out["acked_bytes_lost"] = lost
            if problems:
                self._notes["acked_bytes_lost"] = (f"{len(problems)} page(s), first: "
                                                   f"{problems[0]}")
        if oracle:
            problems = k.verify_data()
            out["data_verified"] = 0 if problems else 1
            if problems:
                self._notes["data_verified"] = (f"{len(problems)} problem(s), first: "
                                                f"{problems[0]}")
        if checker:
            broken = k.check_invariants()
            out["invariants_ok"] = 0 if broken else 1
            if broken:
                self._notes["invariants_ok"] = (f"{len(broken)} violation(s), first: "
                                                f"{broken[0]}")
        out["sim_time_ns"] = self.sim_time_ns
        out["events"] = self.events
        return out

    @property
    def story(self) -> list[StoryHit]:
        """The story texts shown so far, in order (``StoryHit``: index, text, event,
        time_ns)."""
        return self.storyteller.hits

    @property
    def story_text(self) -> str:
        """The current story text: the latest shown ("" before the first)."""
        return self.storyteller.current

    def on_story(self, listener: Callable[[StoryHit], None] | None) -> None:
        """Call ``listener`` with each story text as it comes (None: stop)."""
        self.storyteller.listener = listener

    def restore_story(self, hits: list[StoryHit]) -> None:
        """Take the story as it stood when a snapshot was saved (texts already shown)."""
        listener = self.storyteller.listener
        self.storyteller = StoryTracker(self.scenario.story, hits)
        self.storyteller.listener = listener

    def state_hash(self) -> str:
        """SHA-256 of the kernel's whole state: ``scenarios.state.state_hash`` of
        ``to_state()``, computed in one walk over the state with RAM and the disk lent by the
        machine rather than copied (``scenarios.state_codec.state_digest``)."""
        return state_digest(self.kernel.to_state(borrow=True))

    def trace_to(self, out: TextIO | None, from_start: bool = True) -> None:
        """Write trace events as JSON lines to ``out`` after every event (None: stop).

        Args:
            out: a text stream, or None to stop tracing.
            from_start: include the events already in the ring (boot included); otherwise
                only those from now on.
        """
        self._trace_out = out
        self._trace_seq = 0 if from_start else self.kernel.trace.next_seq
        self._drain_trace()

    # ----------------------------------------------------------------- counters over time

    def set_series(self, series: CounterSeries) -> None:
        """Sample into ``series`` from now on (a restored snapshot's series)."""
        self._samplers[0] = series
        self.series = series
        self._next_sample_ns = min(s.next_ns for s in self._samplers)

    def add_sampler(self, sampler: Sampler) -> None:
        """Feed ``sampler`` the counters at its sample times as the session runs (what
        ``vmlab run --vmstat`` prints from), as the series is fed."""
        self._samplers.append(sampler)
        self._next_sample_ns = min(s.next_ns for s in self._samplers)

    def sample_values(self) -> dict[str, int]:
        """What a sample records: the kernel's metrics and the event count (no oracle, no
        checker: a sample must be cheap and must not touch the model)."""
        out = self.kernel.metrics()
        out["events"] = self.kernel.machine.events
        return out

    def _sample_upto(self, upto_ns: int) -> None:
        """Give every sampler its samples up to ``upto_ns``: the state now stands for every
        time from the last event up to ``upto_ns``."""
        values = self.sample_values()
        for s in self._samplers:
            if s.next_ns <= upto_ns:
                s.take(values, upto_ns)
        self._next_sample_ns = min(s.next_ns for s in self._samplers)

    def _settle_samples(self, until_ns: int | None = None) -> None:
        """At a stop: the samples up to now, or up to ``until_ns`` when the run stopped
        there because the next event is later (``power_cut`` drops any after its time)."""
        now = self.sim_time_ns
        nxt = self.kernel.machine.clock.peek_time()
        limit = now if until_ns is None else max(now, until_ns)
        upto = limit if nxt < 0 else min(limit, nxt - 1)
        if upto >= self._next_sample_ns:
            self._sample_upto(upto)

    @property
    def position(self) -> Position:
        """Where the run is: events completed and trace records written
        (scenarios/finestep.py). Inside a suspended event, the record it stopped at plus one."""
        k = self.kernel
        rec = self._suspender.record
        if rec is not None:
            return Position(k.machine.events - 1, rec.seq + 1)
        if self._suspender.paused:
            return Position(k.machine.events - 1, k.trace.next_seq)
        return Position(k.machine.events, k.trace.next_seq)

    @property
    def suspended_at(self) -> TraceEvent | None:
        """The trace record the event in progress stopped at (``step_until``), or None
        between events. While suspended, the model's structures are as that record left
        them; ``events`` counts the suspended event."""
        return self._suspender.record

    @property
    def in_event(self) -> bool:
        """An event is in progress: suspended at a record (``suspended_at``), or paused
        between two by ``run(pause=...)``. ``events`` counts it; ``run`` and ``step`` end
        it before anything else."""
        return self._suspender.suspended

    # ----------------------------------------------------------------- running

    def finish_event(self) -> None:
        """End the event a fine step suspended, if any; nothing else runs."""
        self._suspender.finish()

    def step_until(self, kind: str = "event", n: int = 1, *, pfn: int | None = None,
                   path: str | None = None) -> str:
        """Go on by ``n`` units of granularity ``kind`` (scenarios/finestep.py):
        "event", "fault", "syscall", "io" (an I/O completion), "page" (the next change of
        struct page ``pfn``) or "tag" (the next change of the radix-tree tags of file
        ``path``).

        Returns:
            "record" (suspended inside an event at the record: ``suspended_at``), "event"
            (between events), or "end" when the scenario ended first.

        Raises:
            ValueError: an unknown granularity, or a page or file that does not exist.
        """
        if n < 1:
            raise StepError("step_until: n must be at least 1")
        match = matcher_for(self, kind, pfn, path)
        if self.powered_off:
            self.end_reason = "power_cut"
            return STOP_END
        self._resume_history()
        return self._suspender.advance(match, n)

    def run_until(self, expr: str) -> str:
        """Run until ``expr`` (a check in the language of expectations: ``nr_dirty == 0``,
        ``pgmajfault > 100 and nr_writeback == 0``) holds at a trace record or an event end.

        Returns:
            "predicate" (it holds: suspended at a record, or between events), or "end".

        Raises:
            ValueError: the expression does not parse or names an unknown metric.
        """
        match = CheckMatcher(self, expr)
        if self.powered_off:
            self.end_reason = "power_cut"
            return STOP_END
        self._resume_history()
        reason = self._suspender.advance(match, 1)
        return STOP_PREDICATE if reason in ("record", "event") else reason

    # ----------------------------------------------------------------- time travel

    def keep_history(self, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                     spacing_s: float = DEFAULT_SPACING_S) -> History:
        """Keep in-memory checkpoints from now on, so that ``seek`` and ``step_back`` can go
        back to any moment from here (scenarios/timeline.py). ``budget_bytes`` bounds their
        memory (default 64 MiB); ``spacing_s`` is the running time between two (a seek
        replays about that long). Takes the first checkpoint now (finishing a suspended
        event first)."""
        self.finish_event()
        self.history = History(budget_bytes, spacing_s)
        self.history.take(self)
        return self.history

    def _end_pause(self) -> None:
        """End an event paused for the host (it has no position of its own to go back
        from); an event suspended at a record stays there."""
        if self._suspender.paused:
            self.finish_event()

    def _resume_history(self) -> None:
        if self.history is not None:
            self.history.resume()

    def _need_history(self, what: str) -> History:
        if self.history is None:
            raise SessionError(f"{what}: this session keeps no history; call keep_history() "
                               f"before running")
        return self.history

    def _restore(self, cp: Checkpoint) -> None:
        """Replace the kernel by the checkpoint's (the suspended event, if any, is dropped)."""
        from kernelmodel.kernel.kernel import Kernel
        from scenarios.timeline import decode_kernel

        self._suspender.drop()
        k = decode_kernel(cp.data)
        assert isinstance(k, Kernel)
        self.kernel = k
        attach_traces(k, self.assembly)
        self.checkpoints = list(cp.records)
        self.end_reason = cp.end_reason
        self.powered_off = any(name == POWER_CUT_CHECKPOINT
                               for name, _, _ in k.checkpoints)
        # the story and the counters as they stood there: a sample at or after this time is
        # taken before the next event, as in a straight run
        self.restore_story(list(cp.story))
        self.series.forget_after(self.sim_time_ns - 1)
        self._next_sample_ns = min(s.next_ns for s in self._samplers)

    def seek_position(self, pos: Position) -> Position:
        """Go to the first place at or after ``pos`` where a run can stop: the end of event
        ``pos.events`` (``Position(E, 0)``), or the record ``pos.records - 1`` inside the next
        event (suspended there). Earlier places restore a checkpoint and replay. Returns
        where it got to (earlier than asked only when the scenario ends first). A later
        place with a checkpoint on the way starts from that checkpoint.

        Raises:
            SessionError: ``pos`` is before the first checkpoint, or in the past and no
                history is kept.
        """
        self._end_pause()
        here = self.position
        at_boundary = self.suspended_at is None
        # an earlier event, or an earlier record of the event suspended now
        if pos.events < here.events or (pos.events == here.events and not at_boundary
                                         and pos.records < here.records):
            history = self._need_history("seek")
            cp = history.at_or_before(pos)
            if cp is None:
                raise SessionError(f"seek: event {pos.events} is before the history's first "
                                   f"checkpoint (event {history.earliest.events})")
            self._restore(cp)
        elif self.history is not None:
            # a later place: jump to the latest checkpoint on the way, if there is one,
            # rather than replay every event from here
            cp = self.history.at_or_before(pos)
            if cp is not None and cp.position.events > here.events:
                self._restore(cp)
        if self.position.events < pos.events:
            self.run(until_events=pos.events)
        here = self.position
        if here.events == pos.events and pos.records > here.records and \
                (self.suspended_at is not None or not self._stop_before(None, None)):
            self._suspender.advance(KindMatcher(None, pos.records - 1), 1)
        return self.position

    def seek(self, event: int) -> int:
        """Go to the moment after ``event`` events (earlier or later than now); the state
        is bit-identical to a straight run's there (same ``state_hash``). Returns the events
        run (fewer than asked only when the scenario ends first).

        Raises:
            ValueError: ``event`` is negative.
            SessionError: it is before the history's first checkpoint.
        """
        if event < 0:
            raise StepError("seek: the event number must be 0 or more")
        self.seek_position(Position(event, 0))
        return self.position.events

    def step_back(self, n: int = 1, kind: str = "event", *, pfn: int | None = None,
                  path: str | None = None) -> str:
        """Go back ``n`` units of granularity ``kind`` (as ``step_until``): to the n-th
        position before now where such a step would have stopped. "event": n events back
        (from inside a suspended event, its start is one back).

        Returns:
            "record" or "event" (where it stopped, as ``step_until``), or "start" when there
            were fewer than ``n`` such places since the first checkpoint (it goes there).

        Raises:
            ValueError: an unknown granularity or target. SessionError: no history is kept.
        """
        if n < 1:
            raise StepError("step_back: n must be at least 1")
        history = self._need_history("step_back")
        match = matcher_for(self, kind, pfn, path)
        self._end_pause()
        here = self.position
        if kind == "event":
            back = n - 1 if self.suspended_at is not None else n
            target = here.events - back
            if target < history.earliest.events:
                self.seek_position(history.earliest)
                return "start"
            self.seek(target)
            return "event"
        found: list[Position] = []
        cp = history.at_or_before(here)
        hi = here
        while cp is not None:
            if cp.position == hi:
                cp = history.before(cp)
                continue
            found = collect(self, cp, match, hi) + found
            if len(found) >= n:
                break
            hi = cp.position
            cp = history.before(cp)
        if len(found) < n:
            self.seek_position(history.earliest)
            return "start"
        self.seek_position(found[-n])
        return "record" if self.suspended_at is not None else "event"

    def power_cut(self) -> int:
        """Cut the power now, between two events, as the ``powercut`` op does from a program:
        the disk loses its queued and in-flight writes (completed writes stay on the medium),
        the ``power_cut`` checkpoint is recorded and the run is over (``run`` returns "end"
        with ``end_reason`` "power_cut"; ``step`` dispatches nothing).

        Returns:
            ``acked_bytes_lost``: bytes that a returned fsync, fdatasync, sync or
            msync(MS_SYNC) acknowledged and that the disk does not hold.

        Raises:
            SessionError: the power is already off.
        """
        if self.powered_off:
            raise SessionError("power_cut: the power is already off")
        self.finish_event()
        self.series.forget_after(self.sim_time_ns)
        self._next_sample_ns = min(s.next_ns for s in self._samplers)
        self.kernel.vl_power_cut_at(0)
        self._after_event()
        self.end_reason = "power_cut"
        lost, _ = self.kernel.verify_durable()
        return lost

    def step(self, n: int = 1) -> int:
        """Dispatch up to ``n`` events (fewer only when none is left); returns how many ran."""
        ran = 0
        self._resume_history()
        if self.in_event and n > 0:
            self.finish_event()
            ran = 1
        machine = self.kernel.machine
        clock = machine.clock
        while ran < n and not self.powered_off:
            nxt = clock.peek_time()
            if nxt > self._next_sample_ns:
                self._sample_upto(nxt - 1)
            if not machine.step():
                break
            ran += 1
            self._after_event()
        self._settle_samples()
        return ran

    def run(
        self,
        until_ns: int | None = None,
        until_events: int | None = None,
        until_checkpoint: str | None = None,
        predicate: Callable[[Session], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
        pause: Callable[[], bool] | None = None,
    ) -> str:
        """Run until the scenario ends or a stopping condition holds.

        Args:
            until_ns: stop before the first event later than this simulated time.
            until_events: stop once this many events have run since boot.
            until_checkpoint: stop after the event in which this checkpoint is next recorded.
            predicate: stop when it returns True (checked after every event).
            progress: called with (sim_time_ns, events) every PROGRESS_EVERY events.
            pause: asked at the model's pause points inside an event (scenarios/finestep.py)
                and between events; when it returns True, ``run`` returns "paused" at once,
                leaving an event it was inside suspended (``in_event``), and the next
                ``run`` goes on from there. The caller's clock decides when (the
                dashboard's frame budget); the model runs the same either way.

        Returns:
            Why it stopped: "end" (every task exited, nothing left to do, the scenario's
            duration was reached or the power was cut; ``end_reason`` says which), "time",
            "events", "checkpoint", "predicate" or "paused".
        """
        if until_checkpoint is not None and until_checkpoint not in self.checkpoint_names:
            hint = suggest(until_checkpoint, self.checkpoint_names)
            raise ValueError(f'run: no checkpoint named "{until_checkpoint}" in '
                             f"{self.scenario.name}{hint}")
        self._resume_history()
        if pause is None:
            self.finish_event()
        machine = self.kernel.machine
        clock = machine.clock
        with collector_relaxed():
            reason = self._run_events(until_ns, until_events, until_checkpoint, predicate,
                                      progress, pause)
        if reason == STOP_PAUSED:
            return reason  # mid-run: samples and progress are settled when the run goes on
        self._settle_samples(until_ns if reason == STOP_TIME else None)
        if progress is not None:
            progress(clock.now, machine.events)
        return reason

    def _run_events(
        self,
        until_ns: int | None,
        until_events: int | None,
        until_checkpoint: str | None,
        predicate: Callable[[Session], bool] | None,
        progress: Callable[[int, int], None] | None,
        pause: Callable[[], bool] | None,
    ) -> str:
        """``run``'s event loop: dispatch until a stopping condition holds; the reason."""
        machine = self.kernel.machine
        clock = machine.clock
        since_progress = 0
        reason = ""
        moved = False  # a pause between events comes only after some progress
        while not reason:
            seen = len(self.checkpoints)
            if self.in_event:
                assert pause is not None
                moved = True
                if self._suspender.run_paused(pause):
                    return STOP_PAUSED
            else:
                reason = self._stop_before(until_ns, until_events)
                if reason:
                    break
                if pause is not None and moved and pause():
                    self._settle_samples()
                    return STOP_PAUSED
                moved = True
                if self._peeked > self._next_sample_ns:
                    self._sample_upto(self._peeked - 1)
                if pause is None:
                    machine.step()
                    self._after_event()
                elif self._suspender.run_paused(pause):
                    return STOP_PAUSED
            if until_checkpoint is not None and any(
                    r.name == until_checkpoint for r in self.checkpoints[seen:]):
                reason = STOP_CHECKPOINT
            elif predicate is not None and predicate(self):
                reason = STOP_PREDICATE
            since_progress += 1
            if progress is not None and since_progress >= PROGRESS_EVERY:
                since_progress = 0
                progress(clock.now, machine.events)
        return reason

    def _stop_before(self, until_ns: int | None, until_events: int | None) -> str:
        """The reason to stop before dispatching the next event, or ""."""
        k = self.kernel
        next_time = k.machine.clock.peek_time()
        self._peeked = next_time
        if self.powered_off:
            return self._ended("power_cut")
        if k.all_user_tasks_exited():
            return self._ended("exited")
        if next_time < 0:
            return self._ended("idle")
        if next_time > self.scenario.duration_ns:
            return self._ended("duration")
        if until_events is not None and k.machine.events >= until_events:
            return STOP_EVENTS
        if until_ns is not None and next_time > until_ns:
            return STOP_TIME
        return ""

    def _ended(self, why: str) -> str:
        """The run is over (``why``: the end reason): the story's "end" texts come now."""
        self.end_reason = why
        self.storyteller.at_end(self)
        return STOP_END

    def _after_event(self) -> None:
        k = self.kernel
        hits = k.checkpoints
        seen = len(self.checkpoints)
        if len(hits) > len(self.checkpoints):
            new = hits[len(self.checkpoints):]
            needed: set[str] = set()
            for name, _, _ in new:
                needed |= self._watched.get(name, set())
                if name == POWER_CUT_CHECKPOINT:
                    self.powered_off = True
            snapshot: dict[str, int] | None = None
            for name, pid, time_ns in new:
                rec = CheckpointRecord(name, pid, time_ns)
                if name in self._watched:
                    if snapshot is None:
                        snapshot = self._metrics(oracle="data_verified" in needed,
                                                 checker="invariants_ok" in needed,
                                                 durable="acked_bytes_lost" in needed)
                    rec.metrics = snapshot
                    rec.notes = dict(self._notes)
                self.checkpoints.append(rec)
        self.storyteller.after_event(self, [r.name for r in self.checkpoints[seen:]])
        if self._trace_out is not None:
            self._drain_trace()
        if self.history is not None:
            self.history.after_event(self)

    def _drain_trace(self) -> None:
        out = self._trace_out
        if out is None:
            return
        trace = self.kernel.trace
        events = trace.since(self._trace_seq)
        if events and events[0].seq > self._trace_seq:
            lost = events[0].seq - self._trace_seq
            out.write(_trace_line(self._trace_seq, events[0].time, "trace_dropped", 0, lost, 0,
                                  "the trace ring overflowed"))
        for ev in events:
            out.write(_trace_line(ev.seq, ev.time, ev.kind, ev.pid, ev.a, ev.b, ev.s))
        self._trace_seq = trace.next_seq

    # ----------------------------------------------------------------- expectations

    def _at_map(self, upto: int) -> dict[str, Mapping[str, int]]:
        """Latest recorded metrics of each checkpoint among the first ``upto`` hits."""
        return at_map(self.checkpoints, upto)

    def _evaluate_at_checkpoint(self, e: Expectation) -> ExpectationResult:
        """A checkpoint expectation against every hit of its checkpoint so far."""
        return evaluate_at_checkpoint(e, self.checkpoints)

    def evaluate_expectations(
        self, metrics: dict[str, int] | None = None
    ) -> list[ExpectationResult]:
        """Evaluate every ``[[expect]]`` (scenarios/expectations.py).

        "end" expectations are evaluated against the metrics now, checkpoint ones against the
        metrics recorded at each hit of their checkpoint (every hit must pass).

        Args:
            metrics: the result of ``metrics()`` just called, to avoid running the oracle and
                the checker again; None to compute them.
        """
        results: list[ExpectationResult] = []
        end_metrics = metrics
        for e in self.scenario.expectations:
            if e.at != "end":
                results.append(self._evaluate_at_checkpoint(e))
                continue
            if end_metrics is None:
                end_metrics = self.metrics()
            results.append(evaluate_at_end(e, end_metrics, self.checkpoints, self._notes))
        return results
