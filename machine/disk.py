"""The disk: a block device of 512-byte sectors with a request queue and a service-time model.

The drive is a whole 2004-era 7200 rpm ATA disk (write cache off) scaled to ``nsectors``. The
timing follows Ruemmler & Wilkes, "An introduction to disk drive modeling", IEEE Computer 27(3),
1994: a request costs controller overhead + positioning (seek, or a head switch) + rotational
latency + media transfer. Completion is an ``EV_DISK_DONE`` event on the machine clock; the board
calls ``Disk.complete()`` when it pops and then raises the disk interrupt into the kernel.

The drive's parameters and seek curve are in disk_model.py, its request queue and elevators in
disk_queue.py, its saved form in disk_state.py; their docstrings describe each. This module is
the drive itself: geometry and service time of one request, the request path (submit, merge,
complete), and the medium (a sparse store of 4 KiB chunks).

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
  zeros. A chunk is in at most one of its two forms: whole (``_chunks``), or *sparse*
  (``_sparse``): the chunk written last as a whole 4 KiB whose non-zero bytes all lie in a
  span of at most ``SPARSE_MAX`` bytes, kept as that span and its offset. A swapped-out page
  a program touched once per page is one such word, so a swap area that is written over and
  over costs the host tens of bytes per slot instead of 4 KiB. The forms are the store's
  business only: reads and the saved state give the same bytes either way.
"""

from __future__ import annotations

from typing import Final, final

from machine.clock import EV_DISK_DONE, Clock
from machine.disk_model import (
    MIN_CURVE_CYLINDERS,
    NS_PER_SEC,
    SEEK_FX_SHIFT,
    DiskModel,
    SeekCurve,
    isqrt_fx,
)
from machine.disk_queue import (
    ELEVATOR_DEADLINE,
    ELEVATOR_NAMES,
    ELEVATOR_NOOP,
    MAX_SECTORS,
    READ_EXPIRE_NS,
    WRITE_EXPIRE_NS,
    DiskRequest,
    elv_next_index,
)
from machine.i386 import SECTOR_SHIFT, SECTOR_SIZE

__all__ = [
    "CHUNK_SHIFT",
    "CHUNK_SIZE",
    "ELEVATOR_DEADLINE",
    "ELEVATOR_NAMES",
    "ELEVATOR_NOOP",
    "MAX_SECTORS",
    "MIN_CURVE_CYLINDERS",
    "NS_PER_SEC",
    "READ_EXPIRE_NS",
    "SEEK_FX_SHIFT",
    "WRITE_EXPIRE_NS",
    "Disk",
    "DiskModel",
    "DiskRequest",
    "SeekCurve",
    "isqrt_fx",
]

#: Bytes of one storage chunk (a page: 8 sectors).
CHUNK_SIZE: Final = 4096
CHUNK_SHIFT: Final = 12
_ZERO_CHUNK: Final = bytes(CHUNK_SIZE)
#: Widest span of non-zero bytes a chunk is kept sparse with (a whole chunk costs the host
#: about 4.2 KiB; a sparse one about 150 bytes plus the span).
SPARSE_MAX: Final = 256



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
        #: chunk number -> (offset, bytes): the chunk is zeros but for those bytes there
        #: (at most SPARSE_MAX of them; never a chunk that is also in ``_chunks``).
        self._sparse: dict[int, tuple[int, bytes]] = {}
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
            nxt = elv_next_index(self.queue, self._elv, self.clock.now, self.head)
            self._start(self.queue.pop(nxt))
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
            if n == CHUNK_SIZE:
                self._put_chunk(chunk, data[src : src + n] if len(data) != n else data)
            else:
                self._store_piece(chunk, off, data[src : src + n])
            pos += n
            src += n

    def _put_chunk(self, chunk: int, piece: bytes) -> None:
        """A whole chunk written: drop it (zeros), keep it sparse, or keep it whole."""
        # A payload page has non-zero bytes at both ends and is whole. Otherwise the first
        # and last non-zero bytes come from the chunk read as one integer (its lowest and
        # highest set bits): bytes.lstrip(b"\0") calls memchr once per byte, and cost a
        # fifth of a swap storm's CPU time on mostly-zero pages.
        if piece[0] == 0 or piece[-1] == 0:
            v = int.from_bytes(piece, "little")
            if v == 0:
                self._chunks.pop(chunk, None)
                self._sparse.pop(chunk, None)
                return
            first = ((v & -v).bit_length() - 1) >> 3
            last = (v.bit_length() - 1) >> 3
            if last - first < SPARSE_MAX:
                self._chunks.pop(chunk, None)
                self._sparse[chunk] = (first, bytes(piece[first : last + 1]))
                return
        self._sparse.pop(chunk, None)
        buf = self._chunks.get(chunk)
        if buf is None:
            self._chunks[chunk] = bytearray(piece)
        else:
            buf[:] = piece

    def _store_piece(self, chunk: int, off: int, piece: bytes) -> None:
        """Part of a chunk written: the chunk is (made) whole and the piece copied in."""
        buf = self._chunks.get(chunk)
        if buf is None:
            sparse = self._sparse.pop(chunk, None)
            if sparse is None and piece == _ZERO_CHUNK[: len(piece)]:
                return
            buf = bytearray(CHUNK_SIZE)
            if sparse is not None:
                at = sparse[0]
                buf[at : at + len(sparse[1])] = sparse[1]
            self._chunks[chunk] = buf
        buf[off : off + len(piece)] = piece

    def _chunk_bytes(self, chunk: int) -> bytes | bytearray | None:
        """The 4096 bytes of ``chunk`` (the live buffer when whole), None when zeros."""
        buf = self._chunks.get(chunk)
        if buf is not None:
            return buf
        sparse = self._sparse.get(chunk)
        if sparse is None:
            return None
        at = sparse[0]
        span = sparse[1]
        return _ZERO_CHUNK[:at] + span + _ZERO_CHUNK[at + len(span) :]

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
            else:
                sparse = self._sparse.get(chunk)
                if sparse is not None:
                    self._load_sparse(out, dst - off, off, n, sparse[0], sparse[1])
            pos += n
            dst += n
        return bytes(out)

    @staticmethod
    def _load_sparse(out: bytearray, base: int, off: int, n: int, at: int, span: bytes) -> None:
        """Copy the part of a sparse chunk's span inside ``[off, off + n)`` of the chunk into
        ``out`` (the chunk's byte 0 is ``out[base]``; ``out`` is zeros there)."""
        lo = max(off, at)
        hi = min(off + n, at + len(span))
        if lo < hi:
            out[base + lo : base + hi] = span[lo - at : hi - at]

    def vl_chunks_allocated(self) -> int:
        """Number of 4 KiB chunks the store holds, whole or sparse."""
        return len(self._chunks) + len(self._sparse)

    def vl_chunks_whole(self) -> int:
        """Number of chunks the store holds whole (4 KiB of host memory each)."""
        return len(self._chunks)

    def vl_nonzero_chunks(self) -> tuple[list[object], list[memoryview | bytearray | bytes]]:
        """The chunk numbers holding a non-zero byte, ascending, and their bytes as parts to
        join (not copies): a whole chunk is its buffer; a sparse one is up to three parts,
        zeros, its span, zeros (the zeros are views of one constant, shared by length)."""
        chunk_nos: list[object] = []
        parts: list[memoryview | bytearray | bytes] = []
        zeros: dict[int, memoryview] = {}
        numbers = list(self._chunks)
        numbers.extend(self._sparse)
        numbers.sort()
        for chunk in numbers:
            buf = self._chunks.get(chunk)
            if buf is not None:
                if buf != _ZERO_CHUNK:
                    chunk_nos.append(chunk)
                    parts.append(buf)
                continue
            at, span = self._sparse[chunk]
            chunk_nos.append(chunk)
            rest = CHUNK_SIZE - at - len(span)
            if at > 0:
                parts.append(_zero_view(zeros, at))
            parts.append(span)
            if rest > 0:
                parts.append(_zero_view(zeros, rest))
        return chunk_nos, parts

    def vl_load_chunks(self, chunk_nos: list[object], data: bytes) -> None:
        """Fill the empty store from saved chunk numbers and their bytes joined."""
        if len(data) != len(chunk_nos) * CHUNK_SIZE:
            raise ValueError("disk state: 'chunk_data' must be bytes of 4096 per chunk")
        for i in range(len(chunk_nos)):
            chunk = chunk_nos[i]
            if not isinstance(chunk, int):
                raise ValueError("disk state: chunk numbers must be ints")
            self._put_chunk(chunk, data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE])

    # ----- snapshot -----

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        """Plain-data form: parameters, medium (non-zero chunks), queue, in-flight, counters.

        ``borrow`` lends the chunks instead of copying them (machine/borrowed.py). The code is
        in disk_state.py (imported when called: that module builds on this one).
        """
        from machine.disk_state import vl_disk_save

        return vl_disk_save(self, borrow)

    @staticmethod
    def from_state(state: dict[str, object], clock: Clock) -> Disk:
        """Rebuild a disk saved by ``to_state`` on ``clock``.

        Caller: ``clock`` is restored first and so already holds the pending ``EV_DISK_DONE``
        (its seq is ``done_seq``); this does not schedule it again.
        """
        from machine.disk_state import vl_disk_load

        return vl_disk_load(state, clock)

    def __repr__(self) -> str:
        busy = "idle" if self.in_service is None else f"busy req {self.in_service.req_id}"
        return (
            f"<disk {self.nsectors} sectors {self.ncyl} cyl {self.elevator} {busy} "
            f"queued={len(self.queue)} head={self.head} requests={self.requests}>"
        )


def _zero_view(cache: dict[int, memoryview], n: int) -> memoryview:
    """A view of ``n`` zero bytes (one per length in ``cache``)."""
    view = cache.get(n)
    if view is None:
        view = memoryview(_ZERO_CHUNK)[:n]
        cache[n] = view
    return view
