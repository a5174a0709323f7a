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
        self.sync_mode = sync_mode
        self.older_than_this: int | None = older_than_this
        self.nr_to_write = nr_to_write
        self.pages_skipped = 0
        self.nonblocking = nonblocking
        self.encountered_congestion = False
        self.for_kupdate = for_kupdate
        self.for_reclaim = for_reclaim

    def to_state(self) -> dict[str, object]:
        return {
            "sync_mode": self.sync_mode,
            "has_older_than_this": self.older_than_this is not None,
            "older_than_this": self.older_than_this if self.older_than_this is not None else 0,
            "nr_to_write": self.nr_to_write,
            "pages_skipped": self.pages_skipped,
            "nonblocking": self.nonblocking,
            "encountered_congestion": self.encountered_congestion,
            "for_kupdate": self.for_kupdate,
            "for_reclaim": self.for_reclaim,
        }

    @staticmethod
    def from_state(state: dict[str, object]) -> WritebackControl:
        wbc = WritebackControl(
            vl_state_int(state, "sync_mode"),
            vl_state_int(state, "nr_to_write"),
            vl_state_bool(state, "nonblocking"),
            vl_state_bool(state, "for_reclaim"),
            vl_state_bool(state, "for_kupdate"),
            vl_state_int(state, "older_than_this")
            if vl_state_bool(state, "has_older_than_this")
            else None,
        )
        wbc.pages_skipped = vl_state_int(state, "pages_skipped")
        wbc.encountered_congestion = vl_state_bool(state, "encountered_congestion")
        return wbc

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
        self.total_pages = 0
        self.ratelimit_pages = RATELIMIT_PAGES_INIT
        self.dirty_exceeded = False
        #: The per-CPU ratelimits counter of balance_dirty_pages_ratelimited (one CPU).
        self.ratelimits = 0
        self.laptop_mode = 0
        #: BDI_pdflush of the disk's backing_dev_info: a pdflush is writing to the queue.
        self.bdi_pdflush = False
        #: The queue was seen congested and no one has cleared it yet.
        self.queue_congested = False
        #: Every pdflush thread, in creation order.
        self.pdflush_pids: list[int] = []
        #: pdflush_list: the idle threads, head first.
        self.pdflush_list: list[int] = []
        self.last_empty_jifs = 0
        #: Clock sequence of the pending TIMER_KUPDATE (wb_timer), -1 when not armed.
        self.wb_timer_seq = -1
        self.wb_timer_expires = -1
        #: fsync/fdatasync latency (call to return, simulated ns).
        self.fsync_latency_last = 0
        self.fsync_latency_max = 0
        self.fsync_latency_sum = 0
        self.fsync_done = 0
        self.fsync_latencies: list[int] = []

    def to_state(self) -> dict[str, object]:
        return {
            "total_pages": self.total_pages,
            "ratelimit_pages": self.ratelimit_pages,
            "dirty_exceeded": self.dirty_exceeded,
            "ratelimits": self.ratelimits,
            "laptop_mode": self.laptop_mode,
            "bdi_pdflush": self.bdi_pdflush,
            "queue_congested": self.queue_congested,
            "pdflush_pids": list(self.pdflush_pids),
            "pdflush_list": list(self.pdflush_list),
            "last_empty_jifs": self.last_empty_jifs,
            "wb_timer_seq": self.wb_timer_seq,
            "wb_timer_expires": self.wb_timer_expires,
            "fsync_latency_last": self.fsync_latency_last,
            "fsync_latency_max": self.fsync_latency_max,
            "fsync_latency_sum": self.fsync_latency_sum,
            "fsync_done": self.fsync_done,
            "fsync_latencies": list(self.fsync_latencies),
        }

    @staticmethod
    def from_state(state: dict[str, object]) -> WritebackState:
        wb = WritebackState()
        wb.total_pages = vl_state_int(state, "total_pages")
        wb.ratelimit_pages = vl_state_int(state, "ratelimit_pages")
        wb.dirty_exceeded = vl_state_bool(state, "dirty_exceeded")
        wb.ratelimits = vl_state_int(state, "ratelimits")
        wb.laptop_mode = vl_state_int(state, "laptop_mode")
        wb.bdi_pdflush = vl_state_bool(state, "bdi_pdflush")
        wb.queue_congested = vl_state_bool(state, "queue_congested")
        wb.pdflush_pids = vl_state_int_list(state, "pdflush_pids")
        wb.pdflush_list = vl_state_int_list(state, "pdflush_list")
        wb.last_empty_jifs = vl_state_int(state, "last_empty_jifs")
        wb.wb_timer_seq = vl_state_int(state, "wb_timer_seq")
        wb.wb_timer_expires = vl_state_int(state, "wb_timer_expires")
        wb.fsync_latency_last = vl_state_int(state, "fsync_latency_last")
        wb.fsync_latency_max = vl_state_int(state, "fsync_latency_max")
        wb.fsync_latency_sum = vl_state_int(state, "fsync_latency_sum")
        wb.fsync_done = vl_state_int(state, "fsync_done")
        wb.fsync_latencies = vl_state_int_list(state, "fsync_latencies")
        return wb

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


# ---- state helpers (plain-data validation) -----------------------------------------------------


def vl_state_int(state: dict[str, object], key: str) -> int:
    """``state[key]`` as an int (ValueError otherwise)."""
    v = state.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"writeback state: {key} must be an int")
    return v


def vl_state_bool(state: dict[str, object], key: str) -> bool:
    """``state[key]`` as a bool (ValueError otherwise)."""
    v = state.get(key)
    if not isinstance(v, bool):
        raise ValueError(f"writeback state: {key} must be a bool")
    return v


def vl_state_int_list(state: dict[str, object], key: str) -> list[int]:
    """``state[key]`` as a list of ints (ValueError otherwise)."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"writeback state: {key} must be a list")
    out: list[int] = []
    for x in v:
        if not isinstance(x, int) or isinstance(x, bool):
            raise ValueError(f"writeback state: {key} must hold ints")
        out.append(x)
    return out


def vl_state_dict(state: dict[str, object], key: str) -> dict[str, object] | None:
    """``state[key]`` as a dict, or None when it is None (ValueError otherwise)."""
    v = state.get(key)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError(f"writeback state: {key} must be a dict or None")
    out: dict[str, object] = {}
    for name, value in v.items():
        if not isinstance(name, str):
            raise ValueError(f"writeback state: {key} has a non-string key")
        out[name] = value
    return out
