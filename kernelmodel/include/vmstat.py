"""Page-state counters (/proc/vmstat, mm/page_alloc.c: struct page_state, 2.6.6) and the trace
ring (the model's).

The model is observed through counters and plain trace records, never through callbacks:
the runner, the dashboard and the tests read them after each event.

Invariants:
    * every counter is a non-negative int, except gauges that the checker recomputes
      (nr_dirty, nr_writeback, nr_pagecache, nr_mapped, nr_anon, nr_swapcache), which must
      equal their recount after every event;
    * trace records carry simulated time only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

from machine.state_read import read_list

#: Names of the counters, in the order /proc/vmstat and the reports print them. Gauges first.
VMSTAT_NAMES: Final = (
    "nr_dirty",
    "nr_writeback",
    "nr_unstable",
    "nr_pagecache",
    "nr_mapped",
    "nr_anon",
    "nr_swapcache",
    "nr_page_table_pages",
    "nr_slab",
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
    "pgalloc",
    "pgfree",
    "pgactivate",
    "pgdeactivate",
    "pgfault",
    "pgmajfault",
    "pgscan",
    "pgrefill",
    "pgsteal",
    "pgrotated",
    "nr_vmscan_write",
    "kswapd_wakeups",
    "kswapd_steal",
    "pageoutrun",
    "allocstall",
    "oom_kill",
    "cow_faults",
    "zero_page_maps",
    "rmap_add",
    "rmap_remove",
    "rmap_walk_steps",
    "try_to_unmap_calls",
    "try_to_unmap_steps",
    "page_referenced_steps",
    "rmap_bytes",
    "rmap_bytes_peak",
    "writeback_pages",
    "fsync_calls",
    "fsync_pages_visited",
    "balance_dirty_pages",
    "throttled_ns",
    "segfaults",
)


@final
class PageState:
    """struct page_state: the model's global vmstat counters (one CPU, so no per-CPU sum)."""

    def __init__(self) -> None:
        self.nr_dirty: int = 0  # state: optional
        self.nr_writeback: int = 0  # state: optional
        self.nr_unstable: int = 0  # state: optional
        self.nr_pagecache: int = 0  # state: optional
        self.nr_mapped: int = 0  # state: optional
        self.nr_anon: int = 0  # state: optional
        self.nr_swapcache: int = 0  # state: optional
        self.nr_page_table_pages: int = 0  # state: optional
        self.nr_slab: int = 0  # state: optional
        self.pgpgin: int = 0  # state: optional
        self.pgpgout: int = 0  # state: optional
        self.pswpin: int = 0  # state: optional
        self.pswpout: int = 0  # state: optional
        self.pgalloc: int = 0  # state: optional
        self.pgfree: int = 0  # state: optional
        self.pgactivate: int = 0  # state: optional
        self.pgdeactivate: int = 0  # state: optional
        self.pgfault: int = 0  # state: optional
        self.pgmajfault: int = 0  # state: optional
        self.pgscan: int = 0  # state: optional
        self.pgrefill: int = 0  # state: optional
        self.pgsteal: int = 0  # state: optional
        self.pgrotated: int = 0  # state: optional
        #: Pages reclaim handed to ->writepage (shrink_list's pageout). 2.6.6 and 2.6.7 have
        #: no such counter; the name is the one later kernels gave it.
        self.nr_vmscan_write: int = 0  # state: optional
        self.kswapd_wakeups: int = 0  # state: optional
        self.kswapd_steal: int = 0  # state: optional
        self.pageoutrun: int = 0  # state: optional
        self.allocstall: int = 0  # state: optional
        self.oom_kill: int = 0  # state: optional
        self.cow_faults: int = 0  # state: optional
        self.zero_page_maps: int = 0  # state: optional
        self.rmap_add: int = 0  # state: optional
        self.rmap_remove: int = 0  # state: optional
        self.rmap_walk_steps: int = 0  # state: optional
        self.try_to_unmap_calls: int = 0  # state: optional
        self.try_to_unmap_steps: int = 0  # state: optional
        self.page_referenced_steps: int = 0  # state: optional
        self.rmap_bytes: int = 0  # state: optional
        self.rmap_bytes_peak: int = 0  # state: optional
        self.writeback_pages: int = 0  # state: optional
        self.fsync_calls: int = 0  # state: optional
        self.fsync_pages_visited: int = 0  # state: optional
        self.balance_dirty_pages: int = 0  # state: optional
        self.throttled_ns: int = 0  # state: optional
        self.segfaults: int = 0  # state: optional

    def add_rmap_bytes(self, delta: int) -> None:
        """Account bytes held by reverse-mapping structures and keep the high-water mark."""
        self.rmap_bytes += delta
        if self.rmap_bytes > self.rmap_bytes_peak:
            self.rmap_bytes_peak = self.rmap_bytes

    def as_dict(self) -> dict[str, int]:
        """Every counter by its vmstat name, in VMSTAT_NAMES order."""
        return {
            "nr_dirty": self.nr_dirty,
            "nr_writeback": self.nr_writeback,
            "nr_unstable": self.nr_unstable,
            "nr_pagecache": self.nr_pagecache,
            "nr_mapped": self.nr_mapped,
            "nr_anon": self.nr_anon,
            "nr_swapcache": self.nr_swapcache,
            "nr_page_table_pages": self.nr_page_table_pages,
            "nr_slab": self.nr_slab,
            "pgpgin": self.pgpgin,
            "pgpgout": self.pgpgout,
            "pswpin": self.pswpin,
            "pswpout": self.pswpout,
            "pgalloc": self.pgalloc,
            "pgfree": self.pgfree,
            "pgactivate": self.pgactivate,
            "pgdeactivate": self.pgdeactivate,
            "pgfault": self.pgfault,
            "pgmajfault": self.pgmajfault,
            "pgscan": self.pgscan,
            "pgrefill": self.pgrefill,
            "pgsteal": self.pgsteal,
            "pgrotated": self.pgrotated,
            "nr_vmscan_write": self.nr_vmscan_write,
            "kswapd_wakeups": self.kswapd_wakeups,
            "kswapd_steal": self.kswapd_steal,
            "pageoutrun": self.pageoutrun,
            "allocstall": self.allocstall,
            "oom_kill": self.oom_kill,
            "cow_faults": self.cow_faults,
            "zero_page_maps": self.zero_page_maps,
            "rmap_add": self.rmap_add,
            "rmap_remove": self.rmap_remove,
            "rmap_walk_steps": self.rmap_walk_steps,
            "try_to_unmap_calls": self.try_to_unmap_calls,
            "try_to_unmap_steps": self.try_to_unmap_steps,
            "page_referenced_steps": self.page_referenced_steps,
            "rmap_bytes": self.rmap_bytes,
            "rmap_bytes_peak": self.rmap_bytes_peak,
            "writeback_pages": self.writeback_pages,
            "fsync_calls": self.fsync_calls,
            "fsync_pages_visited": self.fsync_pages_visited,
            "balance_dirty_pages": self.balance_dirty_pages,
            "throttled_ns": self.throttled_ns,
            "segfaults": self.segfaults,
        }


# Trace event kinds: short strings, stable, documented in the README's trace section.
TR_FAULT: Final = "fault"
TR_SEGV: Final = "segv"
TR_MAP: Final = "map"
TR_UNMAP: Final = "unmap"
TR_COW: Final = "cow"
TR_DIRTY: Final = "dirty"
TR_WB_START: Final = "writeback_start"
TR_WB_END: Final = "writeback_end"
TR_IO_SUBMIT: Final = "io_submit"
TR_IO_DONE: Final = "io_complete"
TR_RECLAIM: Final = "reclaim_scan"
TR_SWAP_OUT: Final = "swap_out"
TR_SWAP_IN: Final = "swap_in"
TR_FSYNC_BEGIN: Final = "fsync_begin"
TR_FSYNC_END: Final = "fsync_end"
TR_TASK: Final = "task"
TR_SYSCALL: Final = "syscall"
TR_CHECKPOINT: Final = "checkpoint"
TR_OOM: Final = "oom"
TR_THROTTLE: Final = "throttle"
TR_KSWAPD: Final = "kswapd"
TR_PDFLUSH: Final = "pdflush"
TR_RECLAIM_PAGE: Final = "reclaim_page"
TR_REFILL_PAGE: Final = "refill_page"
TR_ACTIVATE: Final = "activate"

#: ``fault`` records: b is handle_mm_fault's result (VM_FAULT_* of include/linux/mm.h).
#: ``reclaim_page`` records: b is shrink_list's decision for the page.
RECLAIM_FREED: Final = 0
RECLAIM_ACTIVATED: Final = 1
RECLAIM_KEPT: Final = 2
RECLAIM_WRITTEN: Final = 3
RECLAIM_FATE_NAMES: Final = ("freed", "activated", "kept", "written")
#: ``refill_page`` records: b is refill_inactive_zone's decision for the page.
REFILL_DEACTIVATED: Final = 0
REFILL_KEPT_ACTIVE: Final = 1
REFILL_FATE_NAMES: Final = ("deactivated", "kept active")


@final
class TraceEvent:
    """One typed trace record: simulated time, kind, task, two numbers and a text."""

    # state row
    # state generated: trace_generated
    def __init__(self, seq: int, time: int, kind: str, pid: int, a: int, b: int, s: str) -> None:
        self.seq: int = seq  # state
        self.time: int = time  # state
        self.kind: str = kind  # state
        self.pid: int = pid  # state
        self.a: int = a  # state
        self.b: int = b  # state
        self.s: str = s  # state

    def __repr__(self) -> str:
        where = f"t={self.time} {self.kind} pid={self.pid}"
        return f"<trace #{self.seq} {where} {self.a} {self.b} {self.s}>"


TRACE_RING_SIZE: Final = 65536
#: How many of the newest records a snapshot keeps.
TRACE_SAVED: Final = 1024


@final
class TraceRing:
    """A bounded ring of the most recent trace records, numbered by a global sequence.

    Consumers (the runner's --trace writer, the dashboard) remember the last sequence number
    they read and ask for newer records; if they fell more than the ring size behind, they
    are told how many were dropped.
    """

    # state generated: trace_generated
    def __init__(self, size: int = TRACE_RING_SIZE) -> None:
        self.size = size
        self.next_seq: int = 0  # state: optional
        # the last TRACE_SAVED records, oldest first
        self.ring: list[TraceEvent | None] = [None] * size  # state: custom, key=recent
        self.enabled = True
        #: Called with every record just appended, inside the event that made it (None:
        #: nobody watches). Not part of the state: an observer, such as a session stepping
        #: to the next record of a kind, which may suspend the event here and resume it
        #: later; it must not change the model.
        self.vl_hook: Callable[[TraceEvent], None] | None = None

    def emit(self, time: int, kind: str, pid: int, a: int, b: int, s: str) -> None:
        """Append one record (overwriting the oldest when the ring is full)."""
        if not self.enabled:
            return
        seq = self.next_seq
        ev = TraceEvent(seq, time, kind, pid, a, b, s)
        self.ring[seq % self.size] = ev
        self.next_seq = seq + 1
        hook = self.vl_hook
        if hook is not None:
            hook(ev)

    def since(self, seq: int) -> list[TraceEvent]:
        """Records with sequence number >= seq still in the ring, oldest first."""
        first = max(seq, self.next_seq - self.size, 0)
        out: list[TraceEvent] = []
        i = first
        while i < self.next_seq:
            ev = self.ring[i % self.size]
            if ev is not None:
                out.append(ev)
            i += 1
        return out

    def vl_save_ring(self, out: dict[str, object]) -> None:
        """The last ``TRACE_SAVED`` records, oldest first, as rows (``recent``)."""
        from kernelmodel.include.trace_generated import save_trace_event

        first = self.next_seq - min(self.next_seq, TRACE_SAVED)
        out["recent"] = [save_trace_event(ev) for ev in self.since(first)]

    def vl_load_ring(self, state: dict[str, object]) -> None:
        """The records of ``vl_save_ring`` back in their slots (an older state may have none)."""
        from kernelmodel.include.trace_generated import load_trace_event

        for item in read_list(state, "recent", "trace ring state") if "recent" in state else []:
            ev = load_trace_event(item)
            self.ring[ev.seq % self.size] = ev
