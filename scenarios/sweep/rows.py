"""One row per run: the columns of a sweep's results and how a run's outcome fills them.

Columns, in order:

* ``scenario``, ``scenario_sha`` (the first 16 hex digits of the SHA-256 of its TOML text);
* one column per ``--set`` key (its path: ``machine.memory``), holding the value as typed;
* ``seed``, ``kernel`` (the profile) and one column per design axis (``writeback``, ``rmap``);
* ``outcome``: ``pass`` (every expectation held), ``fail`` (one did not) or ``error`` (the run
  did not finish: an exception, a kernel BUG, a timeout; ``error`` says which);
* ``expectations_passed``, ``expectations_total``, ``failed_expectations`` (their names,
  separated by `` | ``), ``ended`` (why the run ended: exited, idle, duration, power_cut),
  ``state_hash`` (empty when the run did not finish), ``error``;
* every metric ``vmlab run --json`` reports (``scenarios.expect.KNOWN_METRICS``), then the
  derived ``writeback_throughput_bps`` of ``vmlab compare``; empty when the run did not get
  that far.

Nothing in a row depends on the wall clock or on which backend ran it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scenarios.expect import KNOWN_METRICS
from scenarios.profiles import DESIGNS

#: Metrics beside ``KNOWN_METRICS`` (``scenarios.compare.derived_metrics``).
DERIVED_METRICS: Final = ("writeback_throughput_bps",)
METRICS: Final[tuple[str, ...]] = KNOWN_METRICS + DERIVED_METRICS

OUTCOME_PASS: Final = "pass"
OUTCOME_FAIL: Final = "fail"
OUTCOME_ERROR: Final = "error"

#: Column types: text, whole numbers (64-bit) and nothing else.
TEXT: Final = "text"
INT: Final = "int"


@dataclass(frozen=True)
class Columns:
    """The column layout of one sweep (it depends on the ``--set`` keys)."""

    params: tuple[str, ...]

    def names(self) -> list[str]:
        """Every column, in file order."""
        return [*self.key(), *self.outcome(), *METRICS]

    def key(self) -> list[str]:
        """The columns that identify a run (a resumed sweep skips rows with a known key)."""
        return ["scenario", "scenario_sha", *self.params, "seed", "kernel",
                *(a.switch for a in DESIGNS)]

    @staticmethod
    def outcome() -> list[str]:
        return ["outcome", "expectations_passed", "expectations_total",
                "failed_expectations", "ended", "state_hash", "error"]

    def kind(self, name: str) -> str:
        """TEXT or INT."""
        if name in ("seed", "expectations_passed", "expectations_total") or name in METRICS:
            return INT
        return TEXT

    def row_key(self, row: Mapping[str, object]) -> tuple[str, ...]:
        """A run's identity as text (the same whether the row was read back or just made)."""
        return tuple(str(row.get(name, "")) for name in self.key())


def result_row(head: Mapping[str, object], metrics: Mapping[str, int],
               expectations: Sequence[tuple[str, bool]], ended: str, state_hash: str,
               error: str | None) -> dict[str, object]:
    """A complete row from a run's outcome.

    Args:
        head: the identifying columns (``RunSpec.head``).
        metrics: what the run measured (all of them, or those it reached before failing).
        expectations: (name, held) of every expectation evaluated.
        ended: why the run ended ("" when it did not).
        state_hash: the final state's hash ("" when the run did not finish).
        error: what went wrong, as one line; None when the run finished.
    """
    row = dict(head)
    failed = [name for name, ok in expectations if not ok]
    if error is not None:
        outcome = OUTCOME_ERROR
    else:
        outcome = OUTCOME_FAIL if failed else OUTCOME_PASS
    row["outcome"] = outcome
    row["expectations_passed"] = len(expectations) - len(failed)
    row["expectations_total"] = len(expectations)
    row["failed_expectations"] = " | ".join(failed)
    row["ended"] = ended
    row["state_hash"] = state_hash
    row["error"] = error or ""
    for name in METRICS:
        row[name] = metrics.get(name)
    return row


def one_line(text: str, limit: int = 300) -> str:
    """Whitespace folded to single spaces and the text cut at ``limit`` characters."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."
