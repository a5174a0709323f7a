"""The drive's timing model: its parameters (``DiskModel``) and its seek curve (``SeekCurve``).

The timing follows Ruemmler & Wilkes, "An introduction to disk drive modeling", IEEE Computer
27(3), 1994: a request costs controller overhead + positioning (seek, or a head switch) +
rotational latency + media transfer. ``Disk`` (disk.py) charges each request with these.

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
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt
from typing import Final, final

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
