"""The plain types of the session API: the error it refuses with and what it records.

``scenarios.session`` hands them on (``from scenarios.session import SessionError`` is the
documented way); they live here so that the modules a session is built from (booting,
expectations) and the snapshot reader use them without importing the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class SessionError(Exception):
    """The scenario cannot run with these settings (one line, for the user)."""


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one ``[[expect]]``."""

    name: str
    ok: bool
    detail: str


@dataclass
class CheckpointRecord:
    """One checkpoint hit: which, by whom, when, and the metrics then (if they were needed)."""

    name: str
    pid: int
    time_ns: int
    metrics: dict[str, int] | None = None
    notes: dict[str, str] = field(default_factory=dict)
