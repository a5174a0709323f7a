"""Bytes of the live machine lent to one state walk, not copied (no kernel counterpart).

``to_state(borrow=True)`` gives RAM's frames and the disk's medium as a ``BorrowedBytes``:
the buffers as they are, one after the other, where ``to_state()`` gives one ``bytes`` copy
of them. Copying 256 MiB of RAM costs a sixth of a second (most of it faulting in the fresh
copy), as much as compressing it; a writer that hashes and compresses the state at once
(the snapshot writer, the state hash) needs no copy, because the machine does not run until
it is done.

Invariants:
    * the value is ``b"".join(parts)`` (``to_bytes``): a state walk must treat it exactly as
      that ``bytes`` object (the state hash and the file are the same either way);
    * it is valid until the machine next runs; nothing may keep it longer.
"""

from __future__ import annotations

from typing import final


@final
class BorrowedBytes:
    """A byte string lent as its pieces (views of live buffers)."""

    def __init__(self, parts: list[memoryview | bytearray | bytes]) -> None:
        self.parts: list[memoryview | bytearray | bytes] = parts
        n = 0
        for part in parts:
            n += memoryview(part).nbytes
        self.nbytes: int = n

    def to_bytes(self) -> bytes:
        """The bytes themselves (a copy)."""
        return b"".join(self.parts)

    def __repr__(self) -> str:
        return f"<borrowed {self.nbytes} bytes in {len(self.parts)} parts>"
