"""Simulated time and the machine's single event queue.

Time is an integer count of nanoseconds since power-on; nothing reads the wall clock. Devices
and the kernel schedule events ``(time, seq, kind, a, b)``; ``seq`` is a sequence number drawn
from one counter, so two events at the same time pop in the order they were scheduled and the
whole run is deterministic.

The queue is a binary heap (``heapq``) of ``(time, seq)`` keys plus a dict from ``seq`` to the
event's payload. Cancelling removes the payload only; the stale key is dropped when it reaches
the top of the heap.

Invariants:
    * ``now`` never decreases; ``pop`` sets it to the popped event's time.
    * every pending event has ``time >= now``;
    * ``seq`` values are unique and increase in scheduling order;
    * ``pending()`` counts scheduled events that are neither popped nor cancelled.
"""

from __future__ import annotations

import heapq
from typing import Final, final

from machine.state_read import read_int_list

#: A disk request completed (the disk schedules it; the board calls ``Disk.complete``).
EV_DISK_DONE: Final = 1
#: A kernel timer fired: ``a`` is the timer id and ``b`` its argument.
EV_TIMER: Final = 2


@final
class Event:
    """One event popped from the queue (plain data)."""

    def __init__(self, time: int, seq: int, kind: int, a: int, b: int) -> None:
        self.time = time
        self.seq = seq
        self.kind = kind
        self.a = a
        self.b = b

    def __repr__(self) -> str:
        return f"<event t={self.time} seq={self.seq} kind={self.kind} a={self.a} b={self.b}>"


@final
class Clock:
    """Simulated time (``now``, in ns) and the event queue ordered by (time, seq)."""

    def __init__(self) -> None:
        self.now: int = 0  # state
        self.next_seq: int = 0  # state
        self.events_dispatched: int = 0  # state
        self._heap: list[tuple[int, int]] = []
        #: The queue (with ``_heap``), saved as ``events``: (time, seq, kind, a, b) in order.
        self._payload: dict[int, tuple[int, int, int, int]] = {}  # state: custom, key=events

    def schedule(self, time: int, kind: int, a: int = 0, b: int = 0) -> int:
        """Queue an event of ``kind`` with arguments ``a``, ``b`` at absolute ``time`` ns.

        Args:
            time: absolute simulated time in ns; must not be in the past.
            kind: EV_* kind.
            a: first argument (timer id for EV_TIMER).
            b: second argument.

        Returns:
            The event's sequence number, which ``cancel`` takes.

        Raises:
            ValueError: ``time`` is before ``now``.
        """
        if time < self.now:
            raise ValueError(f"clock: event at {time} ns scheduled in the past (now {self.now})")
        seq = self.next_seq
        self.next_seq = seq + 1
        self._payload[seq] = (time, kind, a, b)
        heapq.heappush(self._heap, (time, seq))
        return seq

    def cancel(self, seq: int) -> bool:
        """Cancel the pending event ``seq``.

        Returns:
            True if it was pending; False if it already fired, was cancelled or never existed.
        """
        if seq in self._payload:
            del self._payload[seq]
            return True
        return False

    def _drop_cancelled(self) -> None:
        """Pop cancelled keys off the top of the heap so that the top is live (or empty)."""
        heap = self._heap
        payload = self._payload
        while heap and heap[0][1] not in payload:
            heapq.heappop(heap)

    def pop(self) -> Event | None:
        """Remove the earliest pending event, advance ``now`` to its time and return it.

        Returns:
            The event, or None when nothing is pending (``now`` is unchanged).
        """
        self._drop_cancelled()
        if not self._heap:
            return None
        time, seq = heapq.heappop(self._heap)
        _, kind, a, b = self._payload.pop(seq)
        self.now = time
        self.events_dispatched += 1
        return Event(time, seq, kind, a, b)

    def peek_time(self) -> int:
        """Time of the earliest pending event, or -1 when nothing is pending."""
        self._drop_cancelled()
        if not self._heap:
            return -1
        return self._heap[0][0]

    def pending(self) -> int:
        """Number of pending (scheduled, not popped, not cancelled) events."""
        return len(self._payload)

    def pending_events(self) -> list[Event]:
        """The pending events in dispatch order (a copy, for inspection and the UI)."""
        keys = sorted((t, s) for s, (t, _k, _a, _b) in self._payload.items())
        out: list[Event] = []
        for time, seq in keys:
            _, kind, a, b = self._payload[seq]
            out.append(Event(time, seq, kind, a, b))
        return out

    def vl_save__payload(self, out: dict[str, object]) -> None:
        """The pending events as one flat list of (time, seq, kind, a, b), in order."""
        flat: list[int] = []
        for ev in self.pending_events():
            flat.extend((ev.time, ev.seq, ev.kind, ev.a, ev.b))
        out["events"] = flat

    def vl_load__payload(self, state: dict[str, object]) -> None:
        """The queue back from ``vl_save__payload`` output (``now`` and ``next_seq`` are
        loaded first: no event may lie before now or carry an unissued seq)."""
        flat = read_int_list(state, "events", "clock state")
        if len(flat) % 5:
            raise ValueError("clock state: bad events_dispatched or events list")
        i = 0
        while i < len(flat):
            time, seq, kind, a, b = flat[i], flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]
            if time < self.now or seq >= self.next_seq or seq in self._payload:
                raise ValueError(f"clock state: inconsistent event seq {seq} at {time} ns")
            self._payload[seq] = (time, kind, a, b)
            self._heap.append((time, seq))
            i += 5
        heapq.heapify(self._heap)

    def __repr__(self) -> str:
        return f"<clock now={self.now} pending={self.pending()}>"
