"""One run of a sweep as plain data: what a worker process or a Ray task receives.

Only strings, numbers and tuples: the scenario travels as its TOML text with the ``--set``
edits to apply, so a worker on another machine needs vmlab installed but not the file, and
unpickling a ``RunSpec`` imports nothing of the model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSpec:
    """One configuration of one scenario variant with one seed."""

    #: position in the sweep's plan (rows are written back in this order)
    index: int
    #: the scenario's TOML text and the names the loader reports it under
    text: str
    source: str
    default_name: str
    #: the scenario's name and a digest of its text (a resumed sweep of an edited file
    #: does not take the old rows for the new ones)
    scenario: str
    scenario_sha: str
    #: (--set key, value as typed), in the order of the --set options
    overrides: tuple[tuple[str, str], ...]
    seed: int
    #: ("kernel", profile) then (design switch, design) for every ``DESIGNS`` entry
    kernel: tuple[tuple[str, str], ...]
    #: wall-clock seconds after which the run is stopped and recorded as failed (None: never)
    timeout_s: float | None = None

    def head(self) -> dict[str, object]:
        """The identifying columns of this run's row: scenario, parameters, seed, kernel."""
        row: dict[str, object] = {"scenario": self.scenario, "scenario_sha": self.scenario_sha}
        row.update(self.overrides)
        row["seed"] = self.seed
        row.update(self.kernel)
        return row
