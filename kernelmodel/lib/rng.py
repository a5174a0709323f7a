"""The model's one source of randomness: a seeded SplitMix64 generator whose state is an int
(model only, no kernel counterpart or release).

Python's ``random`` is avoided so the state is a single integer in every snapshot and the
stream is identical compiled and interpreted, on every machine.
"""

from __future__ import annotations

from typing import Final, final

_MASK64: Final = 0xFFFFFFFFFFFFFFFF


@final
class Rng:
    """SplitMix64 (Steele, Lea and Flood, 2014)."""

    def __init__(self, seed: int = 0) -> None:
        self.state: int = seed & _MASK64  # state: range=0..0xFFFFFFFFFFFFFFFF

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """A uniform-enough integer in [0, n) (n > 0); modulo bias is irrelevant here."""
        if n <= 0:
            raise ValueError("Rng.below: n must be positive")
        return self.next_u64() % n


def vl_pattern_bytes(seed: int, length: int) -> bytes:
    """Deterministic payload bytes for a write: a function of ``seed`` and position only.

    Used by write(2) in scenarios so that the data oracle knows what each byte must be.
    """
    out = bytearray(length)
    r = Rng(seed)
    i = 0
    while i < length:
        v = r.next_u64()
        j = 0
        while j < 8 and i < length:
            out[i] = (v >> (8 * j)) & 0xFF
            i += 1
            j += 1
    return bytes(out)
