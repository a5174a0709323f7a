"""What goes wrong with a snapshot: one line for the user."""

from __future__ import annotations


class SnapshotError(Exception):
    """A snapshot that cannot be written or read; ``str()`` is one line for the user."""


class SnapshotContradiction(SnapshotError):
    """A snapshot whose state restores but contradicts itself (the invariant checker, the
    struct page and filesystem field checks, the data oracle or the durable-data check found
    a problem); ``str()`` names the first contradiction, in one line."""


def exc_line(exc: BaseException) -> str:
    """An exception from unchecked data as one line: its type, then its text."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
