"""Run one configuration of a sweep and turn whatever happens into a row.

``run_one`` is what a worker process or a Ray task executes. It never raises for a failed
run: an exception, a kernel BUG or the wall-clock timeout becomes a row whose ``outcome`` is
``error`` and whose ``error`` says what happened, so one bad configuration never loses a
sweep. The run itself is ``scenarios.compare.run_column``, exactly what ``vmlab compare``
runs for a column.

The timeout is checked after every event (``Session.run``'s predicate), so it needs no
signals or threads and works the same in any process; a run stops at most one event (one
scheduler slice or one interrupt) after its limit.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from scenarios.flavour import install_source_only_finder
from scenarios.sweep.spec import RunSpec

if TYPE_CHECKING:
    from scenarios.session import Session

# A worker is a fresh interpreter: before anything imports machine/ or kernelmodel/, honour
# the parent's choice of the Python sources (the model's modules are imported lazily below).
if os.environ.get("VMLAB_INTERPRETED") == "1":
    install_source_only_finder()


def ignore_interrupts() -> None:
    """Pool worker initializer: Ctrl-C is the parent's to handle (it stops the workers), so a
    worker does not print its own KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class RunTimeout(Exception):
    """The run went past its wall-clock limit."""

    def __init__(self, limit_s: float, sim_ns: int, events: int) -> None:
        super().__init__(f"timeout: stopped after {limit_s:g}s of wall time")
        self.limit_s = limit_s
        self.sim_ns = sim_ns
        self.events = events


class _Deadline:
    """A ``Session.run`` predicate that raises ``RunTimeout`` once the limit has passed."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.end = time.monotonic() + limit_s

    def __call__(self, session: Session) -> bool:
        if time.monotonic() > self.end:
            raise RunTimeout(self.limit_s, session.sim_time_ns, session.events)
        return False


def run_one(spec: RunSpec) -> dict[str, object]:
    """Run ``spec`` to the end of its scenario; returns its row (``rows.result_row``)."""
    try:
        from scenarios.sweep.rows import one_line, result_row
    except Exception as exc:  # the model itself does not import here: still a row, not a crash
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        return {**spec.head(), "outcome": "error", "error": f"cannot import vmlab: {text}"}
    head = spec.head()
    try:
        from scenarios.compare import Configuration, run_column
        from scenarios.library import ScenarioText
        from scenarios.sweep.params import load_variant

        # the clock starts once the model is imported (a fresh worker's first run imports it)
        deadline = _Deadline(spec.timeout_s) if spec.timeout_s is not None else None
        scenario = load_variant(ScenarioText(spec.text, spec.source, spec.default_name),
                                spec.overrides)
        config = Configuration(**dict(spec.kernel))
        result = run_column(scenario, config, spec.seed, watch=deadline)
    except RunTimeout as exc:
        from scenarios.units import format_duration

        error = (f"{exc} (simulated {format_duration(exc.sim_ns)}, "
                 f"event {exc.events:,})")
        return result_row(head, {}, [], "", "", error)
    except Exception as exc:  # any failure of one run is that run's result, not the sweep's
        return result_row(head, {}, [], "", "", one_line(f"{type(exc).__name__}: {exc}"))
    expectations = [(r.name, r.ok) for r in result.expectations]
    return result_row(head, result.metrics, expectations, result.end_reason, result.state_hash,
                      result.error)
