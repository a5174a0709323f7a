"""The request queue of the disk: ``DiskRequest`` and the elevators that pick the next one.

Queue and elevators (the kernel's block layer, drivers/block/{noop,deadline}-iosched.c):

* ``"noop"``: FIFO.
* ``"deadline"``: like 2.6's deadline scheduler: requests carry a deadline of submit +
  ``READ_EXPIRE_NS`` (500 ms, ``read_expire``) or + ``WRITE_EXPIRE_NS`` (5 s,
  ``write_expire``); if a request has expired, the one with the earliest deadline goes first;
  otherwise the requests are served in one-way ascending sweeps by sector (C-SCAN) from the head
  position, wrapping to the lowest sector at the end. Simplified: no ``fifo_batch`` batching,
  no ``writes_starved`` read preference.
* Both merge, as 2.6's ``__make_request`` does through ``elv_merge``: a new request whose
  sectors directly follow a queued (not yet started) request of the same direction is appended
  to it (back merge), one that directly precedes it is prepended (front merge, which
  deadline-iosched allows by default), while the result stays within ``MAX_SECTORS`` (256
  sectors = 128 KiB, the 2.6 IDE ``max_sectors``). A merged request keeps its id, position in
  the queue and deadline; it lists the tag of every submission it carries (``tags``, in
  sector order), and ``submit`` returns the new submission's tag, so the kernel can find each
  of its bios at completion. Queue plugging (``unplug_delay`` 3 ms, ``unplug_thresh`` 4) is
  not modelled: merges happen only while the drive is busy, which is when requests queue up.
  The caller guarantees no two queued writes overlap (the page cache keeps a page under
  writeback out of a second write), so merging never reorders writes to one sector.
"""

from __future__ import annotations

from typing import Final, final

#: Deadline-scheduler expiry times (2.6 deadline-iosched.c read_expire / write_expire).
READ_EXPIRE_NS: Final = 500_000_000
WRITE_EXPIRE_NS: Final = 5_000_000_000

#: Largest merged request in sectors (q->max_sectors of a 2.6 IDE disk).
MAX_SECTORS: Final = 256

ELEVATOR_NOOP: Final = 0
ELEVATOR_DEADLINE: Final = 1
ELEVATOR_NAMES: Final = ("noop", "deadline")


@final
class DiskRequest:
    """One block request as the drive sees it (a ``struct request`` reduced to the hardware).

    ``data`` is the payload of a write, and for a read is filled at completion. The timing
    fields are -1 until the request starts; ``done_ns = start_ns + ctl_ns + seek_ns + rot_ns +
    xfer_ns``.

    A write's payload is kept as the list of its merged submissions' payloads
    (``vl_parts``, in sector order) and joined once (``vl_join``) at completion or when the
    state is saved: joining on every merge copied the whole request again each time (a
    request of 32 pages merged one page at a time copied 2 MiB).
    """

    def __init__(
        self,
        req_id: int,
        sector: int,
        nsect: int,
        write: bool,
        data: bytes,
        cookie: int,
        submit_ns: int,
        deadline_ns: int,
    ) -> None:
        self.req_id: int = req_id  # state
        self.sector: int = sector  # state
        self.nsect: int = nsect  # state
        self.write: bool = write  # state
        self.data: bytes = data  # state
        #: The kernel's tag (for example the bio's first page), returned untouched.
        self.cookie: int = cookie  # state
        self.submit_ns: int = submit_ns  # state
        self.deadline_ns: int = deadline_ns  # state
        self.start_ns: int = -1  # state
        self.done_ns: int = -1  # state
        #: Controller overhead.
        self.ctl_ns: int = -1  # state
        #: Positioning: the seek, or a head switch on the same cylinder.
        self.seek_ns: int = -1  # state
        self.rot_ns: int = -1  # state
        self.xfer_ns: int = -1  # state
        #: The tags of the submissions this request carries, in sector order (merges).
        self.tags: list[int] = [req_id]  # state
        #: While a write merges, its payload in pieces in sector order (``data`` is stale
        #: then); ``vl_join`` joins them once.
        self.vl_parts: list[bytes] = []

    def vl_check_state(self) -> None:
        """The loader's check across fields: the tags include the request's own id."""
        if not self.tags or self.req_id not in self.tags:
            raise ValueError("disk request state: 'tags' must include the request id")

    def vl_join(self) -> bytes:
        """The request's payload: the merged submissions' payloads joined (once)."""
        if self.vl_parts:
            self.data = b"".join(self.vl_parts)
            self.vl_parts = []
        return self.data

    def __repr__(self) -> str:
        rw = "W" if self.write else "R"
        return (
            f"<disk req {self.req_id} {rw} sector={self.sector} nsect={self.nsect} "
            f"cookie={self.cookie} submit={self.submit_ns} done={self.done_ns}>"
        )


def elv_next_index(queue: list[DiskRequest], elevator: int, now: int, head: int) -> int:
    """Index in ``queue`` of the request the elevator serves next (elv_next_request).

    ``elevator`` is ELEVATOR_NOOP or ELEVATOR_DEADLINE, ``now`` the clock, ``head`` the sector
    under the head. Caller: ``queue`` is not empty.
    """
    if elevator == ELEVATOR_NOOP:
        return 0
    return _deadline_next_index(queue, now, head)


def _deadline_next_index(queue: list[DiskRequest], now: int, head: int) -> int:
    """deadline_dispatch_requests, simplified: the earliest expired deadline, else C-SCAN."""
    best = -1
    best_deadline = 0
    for i in range(len(queue)):
        dl = queue[i].deadline_ns
        if dl <= now and (best < 0 or dl < best_deadline):
            best = i
            best_deadline = dl
    if best >= 0:
        return best
    return _cscan_next_index(queue, head)


def _cscan_next_index(queue: list[DiskRequest], head: int) -> int:
    """The lowest sector at or above the head; when none is, the lowest sector (wrap).

    Equal sectors go in arrival order.
    """
    ahead = -1
    lowest = 0
    for i in range(len(queue)):
        s = queue[i].sector
        if s >= head and (ahead < 0 or s < queue[ahead].sector):
            ahead = i
        if s < queue[lowest].sector:
            lowest = i
    return ahead if ahead >= 0 else lowest
