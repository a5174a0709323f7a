"""The disk: a block device of 512-byte sectors with a request queue and a service-time model.

The drive is a whole 2004-era 7200 rpm ATA disk (write cache off) scaled to ``nsectors``. The
timing follows Ruemmler & Wilkes, "An introduction to disk drive modeling", IEEE Computer 27(3),
1994: a request costs controller overhead + positioning (seek, or a head switch) + rotational
latency + media transfer. Completion is an ``EV_DISK_DONE`` event on the machine clock; the board
calls ``Disk.complete()`` when it pops and then raises the disk interrupt into the kernel.

Default parameters (``DiskModel``; all times are integer nanoseconds):

* spindle 7200 rpm, one revolution ``ROTATION = 60e9 / 7200 = 8_333_333`` ns;
* average seek 8.5 ms (the usual datasheet figure of the period's 7200 rpm desktop drives);
  track-to-track 0.8 ms and full stroke 17 ms (assumed typical values); seek boundary at 20 %
  of the stroke (see below);
* media transfer 50 MB/s (50_000_000 bytes/s), charged as ``nsect * 512 / rate``;
* fixed geometry, no zones: 814 sectors per track (~ rate * revolution / 512, so one
  revolution passes one track under the head) and 4 heads, so a cylinder is 3256 sectors
  (~1.6 MiB) and a 1 GiB disk has 645 cylinders;
* controller overhead 0.1 ms per request and head switch 0.5 ms when the target is on the
  same cylinder but another surface (assumed small values).

Seek curve (Ruemmler & Wilkes, section "Seeking"): for a distance of ``d`` cylinders,
``seek(0) = 0``, ``seek(d) = a + b*sqrt(d)`` for ``1 <= d < B`` (the arm accelerates, then
decelerates, for the whole short seek) and ``seek(d) = c + e*d`` for ``d >= B`` (the arm coasts at
top speed). The paper's HP 97560 has its boundary at 383 of 1962 cylinders; this model puts ``B``
at ``seek_boundary_pct`` (20 %) of the cylinder count. With ``D = ncyl - 1`` the longest
distance, four linear equations fix the four coefficients:

1. ``seek(1) = track_to_track``:               ``a + b = t1``
2. ``seek(D) = full_stroke``:                  ``c + e*D = tf``
3. continuity at the boundary:                 ``a + b*sqrt(B) = c + e*B``
4. the mean over random seeks is ``avg_seek``: two independent uniform cylinders are ``d >= 1``
   apart with weight ``w(d) = 2*(ncyl - d)``, so
   ``sum_{1<=d<B} w(d)*(a + b*sqrt(d)) + sum_{B<=d<=D} w(d)*(c + e*d) = tavg * sum_{d>=1} w(d)``.

Substituting ``a = t1 - b``, ``c = tf - e*D`` and ``b = (tf - t1 - e*(D - B)) / (sqrt(B) - 1)``
(from 3) into 4 leaves one linear equation in ``e``. It is solved once per disk with exact
rationals, where ``sqrt(d)`` is the 16-bit fixed-point ``isqrt(d << 32) / 65536`` that the run
time uses too, so the curve is bit-identical on every platform. The coefficients are then
rounded to integers (``a = t1 - b`` and ``c = tf - e*D`` after rounding, so the two end points
are exact). For the defaults on a 1 GiB disk: a ~ 0.17 ms, b ~ 0.63 ms, c ~ 4.9 ms,
e ~ 18.8 us/cylinder. ``b`` and ``e`` must come out non-negative, so the curve is monotone (a
guard also keeps the long part at or above the last short value); a ``ValueError`` says when
the parameters cannot give that. Disks under ``MIN_CURVE_CYLINDERS`` cylinders have too few
distances for the fit and get a straight line from ``t1`` at one cylinder to ``tf`` at ``D``.

Rotation: the platter angle at time ``t`` is ``(t mod ROTATION) / ROTATION`` and sector ``s``
starts at angle ``(s mod spt) / spt`` of its track (no track or cylinder skew). After the seek
the drive waits until the target passes under the head: ``rot = (target - phase) mod
ROTATION``, always below one revolution. Transfer is charged as one continuous stream; a
request that crosses a track boundary pays no extra head switch (track skew would hide it).

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

Simplified away: the drive's cache (no read-ahead buffer, write cache off, so back-to-back
small sequential requests each wait most of a revolution, as on a real drive without command
queueing), zoned recording, bad-sector remapping, torn writes at a power cut, command queueing.

Invariants:

* A write reaches the medium only when it completes; a power cut loses every queued and
  in-flight request and keeps everything completed.
* At most one request is in service; ``done_seq`` is its pending clock event (-1 when idle).
* ``queue_depth == len(queue) + (in_service is not None)``.
* ``0 <= head < nsectors``; the head rests after the last sector of the last completed request.
* The store holds only 4 KiB chunks ever written with non-zero bytes; absent sectors read as
  zeros.
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt
from typing import Final, final

from machine.borrowed import BorrowedBytes
from machine.clock import EV_DISK_DONE, Clock
from machine.i386 import SECTOR_SHIFT, SECTOR_SIZE

#: Bytes of one storage chunk (a page: 8 sectors).
CHUNK_SIZE: Final = 4096
CHUNK_SHIFT: Final = 12
_ZERO_CHUNK: Final = bytes(CHUNK_SIZE)

#: Deadline-scheduler expiry times (2.6 deadline-iosched.c read_expire / write_expire).
READ_EXPIRE_NS: Final = 500_000_000
WRITE_EXPIRE_NS: Final = 5_000_000_000

#: Largest merged request in sectors (q->max_sectors of a 2.6 IDE disk).
MAX_SECTORS: Final = 256

ELEVATOR_NOOP: Final = 0
ELEVATOR_DEADLINE: Final = 1
ELEVATOR_NAMES: Final = ("noop", "deadline")

NS_PER_SEC: Final = 1_000_000_000
#: Fixed-point fraction bits of the seek curve (sqrt and the linear slope).
SEEK_FX_SHIFT: Final = 16
#: Below this many cylinders the seek curve is a straight line (see the module docstring).
MIN_CURVE_CYLINDERS: Final = 16


def isqrt_fx(d: int) -> int:
    """Return ``sqrt(d)`` in 16-bit fixed point (``floor(sqrt(d) * 65536)``), exact integers."""
    return isqrt(d << (2 * SEEK_FX_SHIFT))


def _round_fraction(x: Fraction) -> int:
    """Round a rational to the nearest integer, halves away from zero (deterministic)."""
    num = x.numerator
    den = x.denominator
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((-2 * num + den) // (2 * den))


@final
class DiskModel:
    """Drive parameters; the defaults are a 2004 7200 rpm desktop disk (see module docstring)."""

    def __init__(
        self,
        rpm: int = 7200,
        sectors_per_track: int = 814,
        heads: int = 4,
        avg_seek_ns: int = 8_500_000,
        track_to_track_ns: int = 800_000,
        full_stroke_ns: int = 17_000_000,
        media_rate: int = 50_000_000,
        controller_overhead_ns: int = 100_000,
        head_switch_ns: int = 500_000,
        seek_boundary_pct: int = 20,
    ) -> None:
        self.rpm: int = rpm  # state
        self.sectors_per_track: int = sectors_per_track  # state
        self.heads: int = heads  # state
        self.avg_seek_ns: int = avg_seek_ns  # state
        self.track_to_track_ns: int = track_to_track_ns  # state
        self.full_stroke_ns: int = full_stroke_ns  # state
        #: Media transfer rate in bytes per second.
        self.media_rate: int = media_rate  # state
        self.controller_overhead_ns: int = controller_overhead_ns  # state
        self.head_switch_ns: int = head_switch_ns  # state
        self.seek_boundary_pct: int = seek_boundary_pct  # state
        self.vl_validate()

    def vl_validate(self) -> None:
        """Raise ``ValueError`` with a one-line message on parameters no drive could have."""
        if self.rpm <= 0 or self.sectors_per_track <= 0 or self.heads <= 0:
            raise ValueError("disk model: rpm, sectors_per_track and heads must be positive")
        if self.media_rate <= 0:
            raise ValueError("disk model: media_rate must be positive")
        if self.controller_overhead_ns < 0 or self.head_switch_ns < 0:
            raise ValueError("disk model: overhead and head switch times must be >= 0")
        if not 0 < self.track_to_track_ns < self.avg_seek_ns < self.full_stroke_ns:
            raise ValueError("disk model: need 0 < track_to_track < avg_seek < full_stroke")
        if not 1 <= self.seek_boundary_pct <= 90:
            raise ValueError("disk model: seek_boundary_pct must be within 1..90")

    @property
    def rotation_ns(self) -> int:
        """Nanoseconds of one revolution."""
        return 60 * NS_PER_SEC // self.rpm

    def to_state(self) -> dict[str, object]:
        """Plain-data form (generated from the ``# state`` fields)."""
        from machine.state_generated import save_disk_model

        return save_disk_model(self)

    @staticmethod
    def from_state(state: dict[str, object]) -> DiskModel:
        """Rebuild from ``to_state`` output (ValueError names a bad field)."""
        from machine.state_generated import load_disk_model

        return load_disk_model(state)

    def __repr__(self) -> str:
        return (
            f"<disk model {self.rpm} rpm seek {self.track_to_track_ns}/{self.avg_seek_ns}/"
            f"{self.full_stroke_ns} ns spt={self.sectors_per_track} heads={self.heads} "
            f"rate={self.media_rate} B/s>"
        )


@final
class SeekCurve:
    """The two-piece seek curve of one disk, fitted to its cylinder count (module docstring).

    Derived data: rebuilt from the model and the cylinder count, never saved.
    """

    def __init__(self, model: DiskModel, ncyl: int) -> None:
        self.ncyl = ncyl
        #: First distance on the linear piece.
        self.boundary = 1
        self.a_ns = 0
        #: ns per sqrt(cylinder).
        self.b_ns = 0
        self.c_ns = 0
        #: ns per cylinder, SEEK_FX_SHIFT fixed point.
        self.e_fx = 0
        #: seek(boundary - 1): the floor of the linear piece (keeps the curve monotone).
        self.short_max_ns = 0
        if ncyl < MIN_CURVE_CYLINDERS:
            self._fit_line(model)
        else:
            self._fit_curve(model)

    def _fit_line(self, model: DiskModel) -> None:
        """Small disk: a straight line from track-to-track at 1 to full stroke at D."""
        t1 = model.track_to_track_ns
        dmax = self.ncyl - 1
        if dmax >= 2:
            slope = Fraction(model.full_stroke_ns - t1, dmax - 1)
            self.e_fx = _round_fraction(slope * (1 << SEEK_FX_SHIFT))
        self.c_ns = t1 - (self.e_fx >> SEEK_FX_SHIFT)

    def _fit_curve(self, model: DiskModel) -> None:
        """Solve the four equations of the module docstring and round the coefficients."""
        n = self.ncyl
        dmax = n - 1
        bnd = max(2, n * model.seek_boundary_pct // 100)
        t1 = model.track_to_track_ns
        tf = model.full_stroke_ns
        s1 = 0  # sum of w(d), d < B
        sq_fx = 0  # sum of w(d) * sqrt_fx(d), d < B
        for d in range(1, bnd):
            w = 2 * (n - d)
            s1 += w
            sq_fx += w * isqrt_fx(d)
        total = n * (n - 1)  # sum of 2*(n - d) for d = 1 .. n-1
        s2 = total - s1
        # sum of w(d) * (D - d) over d >= B, in closed form: m = D - B + 1 terms, w = 2*(k + 1)
        # with k = D - d running 0 .. m-1.
        m = dmax - bnd + 1
        s_tail = 2 * ((m - 1) * m * (2 * m - 1) // 6 + (m - 1) * m // 2)
        sq = Fraction(sq_fx, 1 << SEEK_FX_SHIFT)
        big_m = Fraction(isqrt_fx(bnd), 1 << SEEK_FX_SHIFT) - 1
        big_k = tf - t1
        big_l = dmax - bnd
        coef = -s_tail - (sq - s1) * big_l / big_m
        rhs = model.avg_seek_ns * total - t1 * s1 - tf * s2 - (sq - s1) * big_k / big_m
        e = rhs / coef
        b = (big_k - e * big_l) / big_m
        if e < 0 or b < 0:
            raise ValueError(
                f"disk model: seek times {t1}/{model.avg_seek_ns}/{tf} ns give a non-monotone "
                f"seek curve on {n} cylinders"
            )
        self.boundary = bnd
        self.b_ns = _round_fraction(b)
        self.a_ns = t1 - self.b_ns
        self.e_fx = _round_fraction(e * (1 << SEEK_FX_SHIFT))
        self.c_ns = tf - ((self.e_fx * dmax) >> SEEK_FX_SHIFT)
        self.short_max_ns = self.a_ns + ((self.b_ns * isqrt_fx(bnd - 1)) >> SEEK_FX_SHIFT)

    def seek_ns(self, d: int) -> int:
        """Seek time in ns for a move of ``d >= 0`` cylinders."""
        if d <= 0:
            return 0
        if d < self.boundary:
            return self.a_ns + ((self.b_ns * isqrt_fx(d)) >> SEEK_FX_SHIFT)
        t = self.c_ns + ((self.e_fx * d) >> SEEK_FX_SHIFT)
        return t if t >= self.short_max_ns else self.short_max_ns


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

    def to_state(self) -> dict[str, object]:
        """Plain-data form (generated from the ``# state`` fields)."""
        from machine.state_generated import save_disk_request

        self.vl_join()
        return save_disk_request(self)

    @staticmethod
    def from_state(state: dict[str, object]) -> DiskRequest:
        """Rebuild from ``to_state`` output (ValueError names a bad field)."""
        from machine.state_generated import load_disk_request

        return load_disk_request(state)

    def __repr__(self) -> str:
        rw = "W" if self.write else "R"
        return (
            f"<disk req {self.req_id} {rw} sector={self.sector} nsect={self.nsect} "
            f"cookie={self.cookie} submit={self.submit_ns} done={self.done_ns}>"
        )


@final
class Disk:
    """The drive: sparse sector store, request queue, elevator and service-time model.

    Args:
        clock: the machine clock; completions are ``EV_DISK_DONE`` events with ``a = req_id``.
        nsectors: capacity in 512-byte sectors.
        elevator: ``"deadline"`` or ``"noop"``.
        model: drive parameters (default ``DiskModel()``).
    """

    def __init__(
        self,
        clock: Clock,
        nsectors: int,
        elevator: str = "deadline",
        model: DiskModel | None = None,
    ) -> None:
        if nsectors <= 0:
            raise ValueError(f"disk: nsectors must be positive, got {nsectors}")
        if elevator not in ELEVATOR_NAMES:
            raise ValueError(f"disk: unknown elevator {elevator!r} (use 'deadline' or 'noop')")
        self.clock = clock
        self.nsectors = nsectors
        self.elevator = elevator
        self._elv = ELEVATOR_NAMES.index(elevator)
        self.model = model if model is not None else DiskModel()
        self.spt = self.model.sectors_per_track
        self.cyl_sectors = self.spt * self.model.heads
        self.ncyl = (nsectors + self.cyl_sectors - 1) // self.cyl_sectors
        self.rotation_ns = self.model.rotation_ns
        self.curve = SeekCurve(self.model, self.ncyl)
        #: chunk number (sector >> 3) -> 4096 bytes; absent chunks are zeros.
        self._chunks: dict[int, bytearray] = {}
        #: Waiting requests in arrival order (the in-service one is not here).
        self.queue: list[DiskRequest] = []
        self.in_service: DiskRequest | None = None
        #: Clock seq of the pending EV_DISK_DONE, -1 when idle.
        self.done_seq = -1
        #: Sector under the head.
        self.head = 0
        self.next_id = 1
        self.requests = 0
        self.reads = 0
        self.writes = 0
        self.sectors_read = 0
        self.sectors_written = 0
        #: Sectors of head movement to the start of each completed request, summed.
        self.head_travel = 0
        self.busy_ns = 0
        #: Requests outstanding: queued plus in service.
        self.queue_depth = 0
        self.max_queue_depth = 0
        #: Completed requests that moved the arm to another cylinder.
        self.seeks = 0
        #: Submissions merged into a queued request (back and front merges).
        self.merges = 0

    # ----- geometry and timing -----

    def cylinder(self, sector: int) -> int:
        """Cylinder that holds ``sector``."""
        return sector // self.cyl_sectors

    def seek_ns(self, distance: int) -> int:
        """Seek time in ns for an arm move of ``distance`` cylinders."""
        return self.curve.seek_ns(distance)

    def position_ns(self, from_sector: int, to_sector: int) -> int:
        """Positioning time from the head at ``from_sector`` to ``to_sector``: a seek to
        another cylinder, a head switch to another surface of the same one, else nothing."""
        d = abs(self.cylinder(to_sector) - self.cylinder(from_sector))
        if d > 0:
            return self.curve.seek_ns(d)
        if from_sector // self.spt != to_sector // self.spt:
            return self.model.head_switch_ns
        return 0

    def rotational_wait_ns(self, sector: int, t: int) -> int:
        """Nanoseconds from time ``t`` until the start of ``sector`` passes under the head."""
        rot = self.rotation_ns
        target = (sector % self.spt) * rot // self.spt
        return (target - t % rot) % rot

    def transfer_ns(self, nsect: int) -> int:
        """Media transfer time of ``nsect`` sectors, rounded up to whole ns."""
        nbytes = nsect << SECTOR_SHIFT
        rate = self.model.media_rate
        return (nbytes * NS_PER_SEC + rate - 1) // rate

    # ----- the request path -----

    def submit(self, sector: int, nsect: int, write: bool, data: bytes, cookie: int) -> int:
        """Queue a request; start it at once if the drive is idle.

        Args:
            sector: first sector.
            nsect: sector count, > 0.
            write: True for a write.
            data: a write's payload of ``nsect * 512`` bytes; ignored for a read.
            cookie: the kernel's tag, handed back in the completed request.

        Returns:
            The submission's tag: the id of a new request (the ``a`` argument of its
            ``EV_DISK_DONE`` event), or a fresh tag added to the queued request it was merged
            into (see the module docstring); the completed request lists it in ``tags``.

        Raises:
            ValueError: bad range, count or payload length.
        """
        self._check_range("disk submit", sector, nsect)
        if write and len(data) != nsect * SECTOR_SIZE:
            raise ValueError(
                f"disk submit: write payload is {len(data)} bytes, expected {nsect * SECTOR_SIZE}"
                f" ({nsect} sectors)"
            )
        now = self.clock.now
        payload = bytes(data) if write else b""
        if self.queue:
            tag = self._try_merge(sector, nsect, write, payload)
            if tag >= 0:
                return tag
        expire = WRITE_EXPIRE_NS if write else READ_EXPIRE_NS
        req = DiskRequest(self.next_id, sector, nsect, write, payload, cookie, now, now + expire)
        self.next_id += 1
        self.queue_depth += 1
        if self.queue_depth > self.max_queue_depth:
            self.max_queue_depth = self.queue_depth
        if self.in_service is None:
            self._start(req)
        else:
            self.queue.append(req)
        return req.req_id

    def _try_merge(self, sector: int, nsect: int, write: bool, payload: bytes) -> int:
        """elv_merge + attempt_back_merge/attempt_front_merge: join a queued request.

        The most recent queued requests are tried first (the kernel's ``last_merge`` hint).

        Returns:
            The new submission's tag, or -1 when no queued request can take it.
        """
        queue = self.queue
        end = sector + nsect
        for i in range(len(queue) - 1, -1, -1):
            req = queue[i]
            if req.write != write or req.nsect + nsect > MAX_SECTORS:
                continue
            if req.sector + req.nsect == sector:
                tag = self._merged(req)
                req.tags.append(tag)
                if write:
                    if not req.vl_parts:
                        req.vl_parts = [req.data]
                    req.vl_parts.append(payload)
            elif end == req.sector:
                tag = self._merged(req)
                req.tags.insert(0, tag)
                req.sector = sector
                if write:
                    if not req.vl_parts:
                        req.vl_parts = [req.data]
                    req.vl_parts.insert(0, payload)
            else:
                continue
            req.nsect += nsect
            return tag
        return -1

    def _merged(self, req: DiskRequest) -> int:
        """A fresh tag for a submission merged into ``req``; counts the merge."""
        tag = self.next_id
        self.next_id += 1
        self.merges += 1
        return tag

    def complete(self) -> DiskRequest:
        """Finish the request in service and start the next one (the drive's interrupt).

        A write's data reaches the medium now; a read's data is taken from it now.

        Caller: the board, when this disk's ``EV_DISK_DONE`` pops (``clock.now == done_ns``).

        Returns:
            The completed request.
        """
        req = self.in_service
        if req is None:
            raise RuntimeError("disk complete: no request in service")
        if self.clock.now != req.done_ns:
            raise RuntimeError(
                f"disk complete: clock at {self.clock.now} ns but request {req.req_id} "
                f"completes at {req.done_ns} ns"
            )
        if req.write:
            self._store(req.sector, req.vl_join())
            self.writes += 1
            self.sectors_written += req.nsect
        else:
            req.data = self._load(req.sector, req.nsect)
            self.reads += 1
            self.sectors_read += req.nsect
        self.requests += 1
        self.busy_ns += req.done_ns - req.start_ns
        self.head_travel += abs(req.sector - self.head)
        if self.cylinder(req.sector) != self.cylinder(self.head):
            self.seeks += 1
        self.head = min(req.sector + req.nsect, self.nsectors - 1)
        self.in_service = None
        self.done_seq = -1
        self.queue_depth -= 1
        if self.queue:
            self._start(self.queue.pop(self._elv_next_index()))
        return req

    def _start(self, req: DiskRequest) -> None:
        """Begin servicing ``req`` now: time it and schedule its completion.

        Caller: the drive is idle and ``req`` is no longer in ``queue``.
        """
        now = self.clock.now
        req.start_ns = now
        req.ctl_ns = self.model.controller_overhead_ns
        req.seek_ns = self.position_ns(self.head, req.sector)
        req.rot_ns = self.rotational_wait_ns(req.sector, now + req.ctl_ns + req.seek_ns)
        req.xfer_ns = self.transfer_ns(req.nsect)
        req.done_ns = now + req.ctl_ns + req.seek_ns + req.rot_ns + req.xfer_ns
        self.in_service = req
        self.done_seq = self.clock.schedule(req.done_ns, EV_DISK_DONE, req.req_id, 0)

    def _elv_next_index(self) -> int:
        """Index in ``queue`` of the request the elevator serves next (elv_next_request).

        Caller: ``queue`` is not empty.
        """
        if self._elv == ELEVATOR_NOOP:
            return 0
        return self._deadline_next_index()

    def _deadline_next_index(self) -> int:
        """deadline_dispatch_requests, simplified: the earliest expired deadline, else C-SCAN."""
        queue = self.queue
        now = self.clock.now
        best = -1
        best_deadline = 0
        for i in range(len(queue)):
            dl = queue[i].deadline_ns
            if dl <= now and (best < 0 or dl < best_deadline):
                best = i
                best_deadline = dl
        if best >= 0:
            return best
        return self._cscan_next_index()

    def _cscan_next_index(self) -> int:
        """The lowest sector at or above the head; when none is, the lowest sector (wrap).

        Equal sectors go in arrival order.
        """
        queue = self.queue
        head = self.head
        ahead = -1
        lowest = 0
        for i in range(len(queue)):
            s = queue[i].sector
            if s >= head and (ahead < 0 or s < queue[ahead].sector):
                ahead = i
            if s < queue[lowest].sector:
                lowest = i
        return ahead if ahead >= 0 else lowest

    def power_cut(self) -> int:
        """Lose power: drop the queued and in-flight requests and their pending completion.

        Completed writes stay on the medium; the in-flight one never reaches it.

        Returns:
            The number of requests lost.
        """
        lost = len(self.queue)
        if self.in_service is not None:
            lost += 1
            self.clock.cancel(self.done_seq)
        self.in_service = None
        self.done_seq = -1
        self.queue = []
        self.queue_depth = 0
        return lost

    # ----- untimed access and the store -----

    def read_sectors(self, sector: int, n: int) -> bytes:
        """Read ``n`` sectors at once, bypassing the queue (checkers, power-cut verification)."""
        self._check_range("disk read_sectors", sector, n)
        return self._load(sector, n)

    def write_sectors(self, sector: int, data: bytes) -> None:
        """Write whole sectors at once, bypassing the queue (boot-time formatting)."""
        if len(data) == 0 or len(data) % SECTOR_SIZE != 0:
            raise ValueError(
                f"disk write_sectors: data is {len(data)} bytes, not a positive multiple of 512"
            )
        self._check_range("disk write_sectors", sector, len(data) >> SECTOR_SHIFT)
        self._store(sector, bytes(data))

    def _check_range(self, what: str, sector: int, nsect: int) -> None:
        if nsect <= 0:
            raise ValueError(f"{what}: sector count must be positive, got {nsect}")
        if sector < 0 or sector + nsect > self.nsectors:
            raise ValueError(
                f"{what}: sectors {sector}..{sector + nsect - 1} outside the disk "
                f"(0..{self.nsectors - 1})"
            )

    def _store(self, sector: int, data: bytes) -> None:
        """Copy ``data`` onto the medium at ``sector``; chunks of zeros are not allocated."""
        pos = sector << SECTOR_SHIFT
        end = pos + len(data)
        src = 0
        while pos < end:
            chunk = pos >> CHUNK_SHIFT
            off = pos & (CHUNK_SIZE - 1)
            n = min(CHUNK_SIZE - off, end - pos)
            piece = data[src : src + n]
            buf = self._chunks.get(chunk)
            if buf is None and piece != _ZERO_CHUNK[:n]:
                buf = bytearray(CHUNK_SIZE)
                self._chunks[chunk] = buf
            if buf is not None:
                buf[off : off + n] = piece
            pos += n
            src += n

    def _load(self, sector: int, nsect: int) -> bytes:
        """The bytes of ``nsect`` sectors at ``sector`` (zeros where never written)."""
        pos = sector << SECTOR_SHIFT
        end = pos + (nsect << SECTOR_SHIFT)
        out = bytearray(end - pos)
        dst = 0
        while pos < end:
            chunk = pos >> CHUNK_SHIFT
            off = pos & (CHUNK_SIZE - 1)
            n = min(CHUNK_SIZE - off, end - pos)
            buf = self._chunks.get(chunk)
            if buf is not None:
                out[dst : dst + n] = buf[off : off + n]
            pos += n
            dst += n
        return bytes(out)

    def vl_chunks_allocated(self) -> int:
        """Number of 4 KiB chunks the store holds (the sparse store's footprint)."""
        return len(self._chunks)

    # ----- snapshot -----

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        """Plain-data form: parameters, medium (non-zero chunks), queue, in-flight, counters.

        ``borrow`` lends the chunks instead of copying them (machine/borrowed.py).
        """
        chunk_nos: list[object] = []
        parts: list[memoryview | bytearray | bytes] = []
        for chunk in sorted(self._chunks):
            buf = self._chunks[chunk]
            if buf != _ZERO_CHUNK:
                chunk_nos.append(chunk)
                parts.append(buf)
        in_service: list[object] = []
        if self.in_service is not None:
            in_service.append(self.in_service.to_state())
        queue: list[object] = []
        for req in self.queue:
            queue.append(req.to_state())
        return {
            "nsectors": self.nsectors,
            "elevator": self.elevator,
            "model": self.model.to_state(),
            "chunks": chunk_nos,
            "chunk_data": BorrowedBytes(parts) if borrow else b"".join(parts),
            "queue": queue,
            "in_service": in_service,
            "done_seq": self.done_seq,
            "head": self.head,
            "next_id": self.next_id,
            "counters": self._counters_state(),
        }

    def _counters_state(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "reads": self.reads,
            "writes": self.writes,
            "sectors_read": self.sectors_read,
            "sectors_written": self.sectors_written,
            "head_travel": self.head_travel,
            "busy_ns": self.busy_ns,
            "max_queue_depth": self.max_queue_depth,
            "seeks": self.seeks,
            "merges": self.merges,
        }

    @staticmethod
    def from_state(state: dict[str, object], clock: Clock) -> Disk:
        """Rebuild a disk saved by ``to_state`` on ``clock``.

        Caller: ``clock`` is restored first and so already holds the pending ``EV_DISK_DONE``
        (its seq is ``done_seq``); this does not schedule it again.
        """
        elevator = state["elevator"]
        if not isinstance(elevator, str):
            raise ValueError("disk state: 'elevator' must be a str")
        model = DiskModel.from_state(_dict(state, "model"))
        disk = Disk(clock, _int(state, "nsectors"), elevator, model)
        disk._load_chunks(_list(state, "chunks"), state["chunk_data"])
        for item in _list(state, "queue"):
            disk.queue.append(DiskRequest.from_state(_as_dict(item)))
        for item in _list(state, "in_service"):
            disk.in_service = DiskRequest.from_state(_as_dict(item))
        disk.done_seq = _int(state, "done_seq")
        disk.head = _int(state, "head")
        disk.next_id = _int(state, "next_id")
        disk.queue_depth = len(disk.queue) + (1 if disk.in_service is not None else 0)
        counters = _dict(state, "counters")
        disk.requests = _int(counters, "requests")
        disk.reads = _int(counters, "reads")
        disk.writes = _int(counters, "writes")
        disk.sectors_read = _int(counters, "sectors_read")
        disk.sectors_written = _int(counters, "sectors_written")
        disk.head_travel = _int(counters, "head_travel")
        disk.busy_ns = _int(counters, "busy_ns")
        disk.max_queue_depth = _int(counters, "max_queue_depth")
        disk.seeks = _int(counters, "seeks")
        disk.merges = _int(counters, "merges")
        return disk

    def _load_chunks(self, chunk_nos: list[object], data: object) -> None:
        if not isinstance(data, bytes) or len(data) != len(chunk_nos) * CHUNK_SIZE:
            raise ValueError("disk state: 'chunk_data' must be bytes of 4096 per chunk")
        for i in range(len(chunk_nos)):
            chunk = chunk_nos[i]
            if not isinstance(chunk, int):
                raise ValueError("disk state: chunk numbers must be ints")
            self._chunks[chunk] = bytearray(data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE])

    def __repr__(self) -> str:
        busy = "idle" if self.in_service is None else f"busy req {self.in_service.req_id}"
        return (
            f"<disk {self.nsectors} sectors {self.ncyl} cyl {self.elevator} {busy} "
            f"queued={len(self.queue)} head={self.head} requests={self.requests}>"
        )


def _int(state: dict[str, object], key: str) -> int:
    value = state[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"disk state: {key!r} must be an int")
    return value


def _list(state: dict[str, object], key: str) -> list[object]:
    value = state[key]
    if not isinstance(value, list):
        raise ValueError(f"disk state: {key!r} must be a list")
    return value


def _dict(state: dict[str, object], key: str) -> dict[str, object]:
    return _as_dict(state[key])


def _as_dict(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError("disk state: expected a dict")
    return value
