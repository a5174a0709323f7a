"""Where a session stands: each expectation as it stands now, without running anything.

A checkpoint expectation whose checkpoint has been hit is decided (the metrics were recorded
at the hit); one whose checkpoint has not been hit yet, and every "end" expectation, is still
open. The dashboard shows this when it opens a snapshot, and ``vmlab snapshot report`` prints
it, so both say what a snapshot's run had established at the moment it was saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from scenarios.session import Session

PASS: Final = "pass"
FAIL: Final = "FAIL"
OPEN: Final = "open"


@dataclass(frozen=True)
class Standing:
    """One expectation now: ``outcome`` is PASS, FAIL or OPEN (not decided yet)."""

    name: str
    at: str
    outcome: str
    detail: str


def expectations_so_far(session: Session) -> list[Standing]:
    """Every ``[[expect]]`` of the session's scenario, in order, as it stands now.

    Decided ones are evaluated from the metrics recorded at their checkpoint (cheap: the
    oracle and the checker do not run); the open ones say what they wait for.
    """
    hit = {rec.name for rec in session.checkpoints}
    out: list[Standing] = []
    for e in session.scenario.expectations:
        # an unnamed expectation is named by its check (and a checkpoint one by "at: check"):
        # say the check only where the name does not
        check = "" if e.check.text in e.name else f"{e.check.text}: "
        if e.at == "end":
            out.append(Standing(e.name, e.at, OPEN, f"{check}decided at the end of the run"))
        elif e.at not in hit:
            out.append(Standing(e.name, e.at, OPEN,
                                f'{check}decided at checkpoint "{e.at}", not reached yet'))
        else:
            r = session._evaluate_at_checkpoint(e)
            out.append(Standing(e.name, e.at, PASS if r.ok else FAIL, r.detail))
    return out


def summary(standing: list[Standing]) -> str:
    """"2 passed, 1 failed, 3 open" (only the non-zero parts; "no expectations")."""
    counts = [(sum(1 for s in standing if s.outcome == kind), word)
              for kind, word in ((PASS, "passed"), (FAIL, "failed"), (OPEN, "open"))]
    parts = [f"{n} {word}" for n, word in counts if n]
    return ", ".join(parts) if parts else "no expectations"


def expectations_at_end(session: Session, metrics: dict[str, int]) -> list[Standing]:
    """Every ``[[expect]]`` decided, as ``vmlab run`` decides them when the run stops
    (``metrics``: ``session.metrics()`` just taken, so the oracle and the checker run once)."""
    results = session.evaluate_expectations(metrics)
    return [Standing(r.name, e.at, PASS if r.ok else FAIL, r.detail)
            for r, e in zip(results, session.scenario.expectations, strict=True)]


#: Metrics every results view shows first: what a power cut now would lose (after a
#: ``powercut``, what it lost), which the race scenarios are about.
HEADLINE_FIRST: Final = ("acked_bytes_lost",)


def headline_figures(session: Session, metrics: dict[str, int]) -> list[tuple[str, str]]:
    """The figures of ``vmlab run``'s summary, as (name, value shown): where the run
    stopped, simulated time, events, then the key counters the kernel reports."""
    from scenarios.cli.running import KEY_COUNTERS
    from scenarios.units import format_duration

    stopped = f"end ({session.end_reason})" if session.end_reason else "not ended"
    out = [("stopped", stopped), ("simulated time", format_duration(session.sim_time_ns)),
           ("events", f"{session.events:,}")]
    for name in (*HEADLINE_FIRST, *KEY_COUNTERS):
        if name in metrics:
            value = metrics[name]
            extra = f" ({format_duration(value)})" if name.endswith("_ns") else ""
            out.append((name, f"{value:,}{extra}"))
    return out
