"""struct writeback_control and the writeback globals (include/linux/writeback.h, 2.6.6).

``WritebackControl`` is the kernel's ``struct writeback_control``: what a writeback caller
asks for (sync mode, page budget, age limit, nonblocking) and what it gets back (pages
skipped, congestion seen). ``WritebackState`` gathers the globals of mm/page-writeback.c and
mm/pdflush.c (ratelimits, dirty_exceeded, the pdflush thread list, the wb_timer) plus the
model's fsync statistics; the kernel keeps one as ``k.wb``.

This module imports nothing of the model, so kernel.py can build ``k.wb`` without an import
cycle. It also holds the plain-data validation helpers the writeback modules share.

Invariants:
    * ``pdflush_list`` is a subset of ``pdflush_pids`` with no repeats;
    * ``wb_timer_seq`` is -1 exactly when no TIMER_KUPDATE event is pending.
"""

from __future__ import annotations

from typing import Final, final

#: Don't wait on anything (memory-cleansing writeback).
WB_SYNC_NONE: Final = 0
#: Wait on every mapping (data integrity).
WB_SYNC_ALL: Final = 1
#: Hold the inode on sb->s_dirty (sys_sync's first passes).
WB_SYNC_HOLD: Final = 2

#: Bounded history of fsync latencies kept for reports.
FSYNC_LATENCY_HISTORY: Final = 1024
#: ratelimit_pages before page_writeback_init runs set_ratelimit.
RATELIMIT_PAGES_INIT: Final = 32


@final
class WritebackControl:
    """struct writeback_control (include/linux/writeback.h, 2.6.6).

    ``older_than_this`` is the value the kernel's pointer points to, in simulated ns (it may
    be negative early in a run), or None for a NULL pointer. The ``bdi`` field is left out
    (one request queue).
    """

    def __init__(
        self,
        sync_mode: int = WB_SYNC_NONE,
        nr_to_write: int = 0,
        nonblocking: bool = False,
        for_reclaim: bool = False,
        for_kupdate: bool = False,
        older_than_this: int | None = None,
    ) -> None:
        self.sync_mode: int = sync_mode  # state
        self.older_than_this: int | None = older_than_this  # state: has
        self.nr_to_write: int = nr_to_write  # state
        self.pages_skipped: int = 0  # state
        self.nonblocking: bool = nonblocking  # state
        self.encountered_congestion: bool = False  # state
        self.for_kupdate: bool = for_kupdate  # state
        self.for_reclaim: bool = for_reclaim  # state

    def __repr__(self) -> str:
        return (
            f"<wbc sync_mode={self.sync_mode} nr_to_write={self.nr_to_write} "
            f"skipped={self.pages_skipped} nonblocking={int(self.nonblocking)} "
            f"kupdate={int(self.for_kupdate)} reclaim={int(self.for_reclaim)}>"
        )


@final
class WritebackState:
    """The globals of mm/page-writeback.c and mm/pdflush.c, and fsync statistics (``k.wb``)."""

    def __init__(self) -> None:
        #: nr_free_pagecache_pages() at page_writeback_init.
        self.total_pages: int = 0  # state
        self.ratelimit_pages: int = RATELIMIT_PAGES_INIT  # state
        self.dirty_exceeded: bool = False  # state
        #: The per-CPU ratelimits counter of balance_dirty_pages_ratelimited (one CPU).
        self.ratelimits: int = 0  # state
        self.laptop_mode: int = 0  # state
        #: BDI_pdflush of the disk's backing_dev_info: a pdflush is writing to the queue.
        self.bdi_pdflush: bool = False  # state
        #: The queue was seen congested and no one has cleared it yet.
        self.queue_congested: bool = False  # state
        #: Every pdflush thread, in creation order.
        self.pdflush_pids: list[int] = []  # state
        #: pdflush_list: the idle threads, head first.
        self.pdflush_list: list[int] = []  # state
        self.last_empty_jifs: int = 0  # state
        #: Clock sequence of the pending TIMER_KUPDATE (wb_timer), -1 when not armed.
        self.wb_timer_seq: int = -1  # state
        self.wb_timer_expires: int = -1  # state
        #: fsync/fdatasync latency (call to return, simulated ns).
        self.fsync_latency_last: int = 0  # state
        self.fsync_latency_max: int = 0  # state
        self.fsync_latency_sum: int = 0  # state
        self.fsync_done: int = 0  # state
        self.fsync_latencies: list[int] = []  # state

    def vl_note_fsync_latency(self, ns: int) -> None:
        """Record one completed fsync's latency (last, max, sum and a bounded history)."""
        self.fsync_latency_last = ns
        if ns > self.fsync_latency_max:
            self.fsync_latency_max = ns
        self.fsync_latency_sum += ns
        self.fsync_done += 1
        self.fsync_latencies.append(ns)
        if len(self.fsync_latencies) > FSYNC_LATENCY_HISTORY:
            del self.fsync_latencies[0]

    def vl_metrics(self) -> dict[str, int]:
        """Figures for a run report: ``fsync_latency_ns`` is the maximum latency seen."""
        return {
            "fsync_latency_ns": self.fsync_latency_max,
            "fsync_latency_last_ns": self.fsync_latency_last,
            "fsync_latency_sum_ns": self.fsync_latency_sum,
            "fsync_completed": self.fsync_done,
        }
