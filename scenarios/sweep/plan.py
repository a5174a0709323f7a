"""Plan a sweep: check every input, then list the runs of the cross product.

The runs are *scenario variants x kernel configurations x seeds*, nesting in that order; the
variants are the cross product of the ``--set`` values in the order the options were given.
Every variant is loaded and validated here, and every kernel configuration is checked
(``scenarios.compare.check_columns``), so a bad key, value or design stops the sweep with one
line before anything runs.

Without ``--kernels`` the sweep runs on the scenario's own kernel section (its profile with
the designs it chose); a design switch (``--rmap pte_chain,anon_vma``) then varies that
design on the scenario's profile, as in ``vmlab compare``.
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scenarios.compare import CompareError, Configuration, check_columns, plan_configurations
from scenarios.library import ScenarioText
from scenarios.loader import ScenarioError
from scenarios.profiles import DESIGNS
from scenarios.schema import Scenario
from scenarios.sweep.params import SetAxis, SweepError, check_key, load_variant
from scenarios.sweep.rows import Columns
from scenarios.sweep.spec import RunSpec


@dataclass(frozen=True)
class Plan:
    """A checked sweep: the base scenario, its axes and every run."""

    scenario: Scenario
    sets: tuple[SetAxis, ...]
    configurations: tuple[Configuration, ...]
    seeds: tuple[int, ...]
    runs: tuple[RunSpec, ...]

    @property
    def columns(self) -> Columns:
        return Columns(tuple(s.key for s in self.sets))


def _variant(text: ScenarioText, overrides: Sequence[tuple[str, str]]) -> Scenario:
    try:
        return load_variant(text, overrides)
    except ScenarioError as exc:
        shown = " ".join(f"{k}={v}" for k, v in overrides)
        raise SweepError(f"--set {shown}: {exc}") from None


def plan_sweep(text: ScenarioText, kernels: Sequence[str] | None,
               designs: Mapping[str, Sequence[str] | None], sets: Sequence[SetAxis],
               seeds: Sequence[int] | None, timeout_s: float | None = None) -> Plan:
    """Check a sweep's inputs and list its runs.

    Args:
        text: the scenario's TOML text.
        kernels: profile names; None: the scenario's own kernel section.
        designs: design switch -> designs to run each kernel with (None: its own).
        sets: the ``--set`` axes, in order.
        seeds: the seeds; None: the scenario's own.
        timeout_s: each run's wall-clock limit (None: none).

    Raises:
        SweepError: one line naming the first bad input; nothing has run.
    """
    try:
        base = text.load()
    except ScenarioError as exc:
        raise SweepError(str(exc)) from None
    doc = tomllib.loads(text.text)
    seen: set[str] = set()
    for axis in sets:
        if axis.key in seen:
            raise SweepError(f"--set {axis.key}: given twice (list every value in one --set)")
        seen.add(axis.key)
        check_key(doc, axis.key)
        for value in axis.values:  # each value alone first: the message names one value
            _variant(text, [(axis.key, value)])
    variants = [tuple(zip((a.key for a in sets), combo, strict=True))
                for combo in itertools.product(*(a.values for a in sets))]
    for overrides in variants:
        if len(overrides) > 1:
            _variant(text, overrides)
    try:
        configs = plan_configurations(kernels if kernels is not None else [base.kernel],
                                      designs)
        check_columns(configs)
    except CompareError as exc:
        raise SweepError(str(exc)) from None
    run_seeds = tuple(seeds) if seeds is not None else (base.seed,)
    sha = hashlib.sha256(text.text.encode()).hexdigest()[:16]
    runs: list[RunSpec] = []
    for overrides in variants:
        for config in configs:
            kernel = (("kernel", config.kernel),
                      *((a.switch, str(getattr(config, a.switch))) for a in DESIGNS))
            for seed in run_seeds:
                runs.append(RunSpec(len(runs), text.text, text.source, text.default_name,
                                    base.name, sha, overrides, seed, kernel, timeout_s))
    return Plan(base, tuple(sets), tuple(configs), run_seeds, tuple(runs))
