"""One scenario, several kernels, side by side: the logic behind ``vmlab compare``.

A *column* is one kernel configuration: a release profile (``2.6.5``, ``2.6.6``, ``2.6.7``)
with a writeback design (``lists`` or ``tags``), a reverse-mapping design (``pte_chain``,
``anonmm`` or ``anon_vma``), a reclaim design (``2.6.6`` or ``2.6.7``) and a swap-in fault
(do_swap_page of ``2.6.6`` or ``2.6.7``). By default a column uses its profile's own designs
(``scenarios.profiles.profile_spec``); ``--writeback``, ``--rmap``, ``--vmscan`` and
``--swapin`` override them (``scenarios.profiles.DESIGNS`` lists the switches).

How the command-line lists become columns (``plan_columns``): the columns are the cross
product *kernels x writeback x rmap x vmscan x swapin designs*, in that nesting order.
An omitted switch
means "each kernel's own design". An omitted ``--kernels`` means every profile when no switch is
given, and the scenario's own profile when one is (so ``--rmap pte_chain,anon_vma`` alone
compares two reverse maps on the scenario's kernel). Examples::

    --kernels 2.6.5,2.6.6,2.6.7               3 columns, each profile as released
    --kernels 2.6.7 --rmap pte_chain,anon_vma 2 columns: 2.6.7 with each rmap
    --kernels 2.6.6,2.6.7 --writeback lists   2 columns, both with page lists
    --kernels 2.6.7 --vmscan 2.6.6,2.6.7      2 columns: 2.6.7 with each release's reclaim
    --kernels 2.6.7 --swapin 2.6.6,2.6.7      2 columns: 2.6.7 with each do_swap_page

Every column runs the same scenario with the same seed in a fresh ``Session``; the runs are
independent and each is deterministic, so a comparison is reproducible to the state hash.
Nothing runs before every column has been checked (``check_columns``): an unknown name or a
design the model does not implement yet is refused first, as one line.

Metrics of a column: every metric ``vmlab run`` reports (``Session.metrics()``: the kernel's
counters, the disk's, the oracle's ``data_verified`` and the durability check's
``acked_bytes_lost``), plus the derived ``writeback_throughput_bps`` (see
``derived_metrics``). Expectation failures are results, not errors: a race scenario is meant
to fail on 2.6.5, and the table shows it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from kernelmodel.include.bug import KernelBug
from scenarios.expect import suggest
from scenarios.profiles import (
    DESIGNS,
    PROFILES,
    design_origins,
    overridden,
    profile_spec,
    unavailable_reason,
)
from scenarios.schema import KernelSpec, Scenario
from scenarios.session import ExpectationResult, Session, SessionError

#: At most this many columns in one comparison (a wider table stops being readable).
MAX_COLUMNS: Final = 12

#: Metrics a comparison always reports (the ``--json`` contract); ``vmlab run``'s metrics
#: hold all of them but the derived ones.
REQUIRED_METRICS: Final = (
    "struct_page_bytes", "rmap_bytes_peak", "head_travel_sectors", "fsync_latency_ns",
    "acked_bytes_lost", "try_to_unmap_steps", "sim_time_ns", "writeback_throughput_bps",
)


class CompareError(ValueError):
    """Bad input to a comparison (names, lists, an unavailable design); one line."""


@dataclass(frozen=True)
class Configuration:
    """One column: a release profile and the designs it runs with (``vmscan``, ``swapin``
    "": the profile's own)."""

    kernel: str
    writeback: str
    rmap: str
    vmscan: str = ""
    swapin: str = ""

    def __post_init__(self) -> None:
        if self.kernel in PROFILES:
            own = profile_spec(self.kernel)
            for switch in ("vmscan", "swapin"):
                if not getattr(self, switch):
                    object.__setattr__(self, switch, getattr(own, switch))

    def is_profile(self) -> bool:
        """True when the designs are the profile's own (nothing overridden)."""
        return self.kernel in PROFILES and not overridden(self.spec())

    def label(self) -> str:
        """``2.6.5``, or ``2.6.7 rmap=pte_chain`` when a design is overridden."""
        if self.kernel not in PROFILES:
            return self.kernel
        spec = self.spec()
        return " ".join([self.kernel, *(f"{d.switch}={getattr(spec, d.switch)}"
                                        for d in overridden(spec))])

    def spec(self) -> KernelSpec:
        """The scenario kernel section this column runs with."""
        return KernelSpec(profile=self.kernel, writeback=self.writeback, rmap=self.rmap,
                          vmscan=self.vmscan, swapin=self.swapin)


@dataclass
class ColumnResult:
    """What one column's run gave.

    ``error`` is set (and ``expectations`` empty) when the kernel hit a BUG; ``metrics`` then
    holds the counters as they stood, without the oracle and checker results.
    """

    config: Configuration
    metrics: dict[str, int]
    expectations: list[ExpectationResult]
    state_hash: str
    end_reason: str
    error: str | None = None

    def passed(self) -> int:
        """How many expectations held."""
        return sum(1 for r in self.expectations if r.ok)


@dataclass
class Comparison:
    """A whole comparison: the scenario, the seed and one result per column, in order."""

    scenario: Scenario
    seed: int
    columns: list[ColumnResult] = field(default_factory=list)


# ---- planning ----------------------------------------------------------------------------------


def split_list(text: str, option: str) -> list[str]:
    """``"2.6.5, 2.6.6"`` -> ``["2.6.5", "2.6.6"]``.

    Raises:
        CompareError: an empty item, or an item given twice.
    """
    items = [part.strip() for part in text.split(",")]
    if any(not item for item in items):
        raise CompareError(f'{option}: "{text}" has an empty item (expected a comma-separated '
                           f"list such as 2.6.5,2.6.6,2.6.7)")
    for i, item in enumerate(items):
        if item in items[:i]:
            raise CompareError(f'{option}: "{item}" is listed twice')
    return items


def _check_names(values: Sequence[str], known: Sequence[str], option: str, what: str) -> None:
    for v in values:
        if v not in known:
            raise CompareError(f'{option}: unknown {what} "{v}"{suggest(v, known)} '
                               f"(expected one of: {', '.join(known)})")


def plan_columns(scenario: Scenario, kernels: Sequence[str] | None,
                 writeback: Sequence[str] | None = None,
                 rmap: Sequence[str] | None = None,
                 vmscan: Sequence[str] | None = None,
                 swapin: Sequence[str] | None = None) -> list[Configuration]:
    """The columns of a comparison: kernels x writeback x rmap x vmscan x swapin designs.

    Args:
        scenario: the scenario (its profile is the default kernel when a switch is given).
        kernels: profile names; None: every profile, or the scenario's when a switch is set.
        writeback: writeback designs to run each kernel with; None: each kernel's own.
        rmap: reverse-mapping designs to run each kernel with; None: each kernel's own.
        vmscan: reclaim designs to run each kernel with; None: each kernel's own.
        swapin: do_swap_page releases to run each kernel with; None: each kernel's own.

    Raises:
        CompareError: an unknown name, an empty list or too many columns.
    """
    switches = {"writeback": writeback, "rmap": rmap, "vmscan": vmscan, "swapin": swapin}
    if kernels is None:
        switched = any(v is not None for v in switches.values())
        kernels = [scenario.kernel.profile] if switched else list(PROFILES)
    columns = plan_configurations(kernels, switches)
    if len(columns) > MAX_COLUMNS:
        sizes = "".join(f" x {len(chosen)} {switch}" for switch, chosen in switches.items()
                        if chosen is not None)
        raise CompareError(f"{len(columns)} columns ({len(kernels)} kernels{sizes}) is "
                           f"more than {MAX_COLUMNS}; compare fewer at a time")
    return columns


def plan_configurations(kernels: Sequence[str | KernelSpec],
                        designs: Mapping[str, Sequence[str] | None]) -> list[Configuration]:
    """Kernel configurations: each kernel x each design of every switch of
    ``scenarios.profiles.DESIGNS``.

    The cross product nests in the order kernels, then the switches in table order. This is
    the one planner behind ``vmlab compare``'s columns and ``vmlab sweep``'s configurations.

    Args:
        kernels: profile names (a profile with its own designs), or kernel sections (the
            designs a scenario chose stand for "its own").
        designs: switch -> the designs to run every kernel with; a missing switch or None:
            each kernel's own design.

    Raises:
        CompareError: an empty list, or an unknown profile or design (with a did-you-mean).
    """
    for values, option in ((kernels, "--kernels"),
                           *((designs.get(d.switch), d.option) for d in DESIGNS)):
        if values is not None and not values:
            raise CompareError(f"{option}: the list is empty")
    _check_names([k for k in kernels if isinstance(k, str)], list(PROFILES), "--kernels",
                 "kernel profile")
    for d in DESIGNS:
        chosen = designs.get(d.switch)
        if chosen is not None:
            _check_names(chosen, d.names, d.option, f"{d.what} design")
    columns: list[Configuration] = []
    for kernel in kernels:
        spec = profile_spec(kernel) if isinstance(kernel, str) else kernel
        lists = [designs.get(d.switch) or [str(getattr(spec, d.switch))] for d in DESIGNS]
        for combo in itertools.product(*lists):
            chosen_designs = {d.switch: v for d, v in zip(DESIGNS, combo, strict=True)}
            columns.append(Configuration(spec.profile, **chosen_designs))
    return columns


def check_columns(columns: Sequence[Configuration]) -> None:
    """Refuse the comparison if any column's design is not implemented yet.

    Raises:
        CompareError: one line naming the first column that cannot run and why.
    """
    def reason(c: Configuration) -> str | None:
        return unavailable_reason(c.kernel, c.writeback, c.rmap, c.vmscan, c.swapin)

    blocked = [c for c in columns if reason(c)]
    if not blocked:
        return
    more = f" ({len(blocked)} of {len(columns)} columns cannot run)" if len(blocked) > 1 else ""
    raise CompareError(f"{reason(blocked[0])}{more}")


# ---- running -----------------------------------------------------------------------------------


def derived_metrics(metrics: dict[str, int]) -> dict[str, int]:
    """Figures a comparison adds to the run metrics.

    ``writeback_throughput_bps``: bytes written to the disk per second of disk busy time
    (``disk_sectors_written * 512 / disk_busy_ns``; reads, if any, count in the busy time).
    Seeks and rotational waits lower it, so it shows the cost of the order in which
    writeback submits pages. 0 when the disk was never busy.
    """
    busy = metrics.get("disk_busy_ns", 0)
    written = metrics.get("disk_sectors_written", 0) * 512
    return {"writeback_throughput_bps": written * 1_000_000_000 // busy if busy > 0 else 0}


def column_session(scenario: Scenario, config: Configuration, seed: int) -> Session:
    """A booted session of ``scenario`` on the column's kernel.

    Raises:
        CompareError: the machine or kernel configuration is refused.
    """
    configured = dataclasses.replace(scenario, kernel=config.spec())
    try:
        return Session(configured, seed=seed)
    except SessionError as exc:
        raise CompareError(f"{config.label()}: {exc}") from None


def run_column(scenario: Scenario, config: Configuration, seed: int,
               progress: Callable[[int, int], None] | None = None,
               watch: Callable[[Session], bool] | None = None) -> ColumnResult:
    """Run the scenario to its end on one configuration and collect the results.

    Args:
        scenario: the scenario.
        config: the column.
        seed: the seed every column shares.
        progress: passed to ``Session.run`` (simulated ns, events).
        watch: called after every event (``Session.run``'s predicate); it may raise to
            abandon the run (``vmlab sweep``'s wall-clock limit) and should return False.

    Raises:
        CompareError: the configuration is refused at boot.
    """
    session = column_session(scenario, config, seed)
    try:
        session.run(progress=progress, predicate=watch)
    except KernelBug as exc:
        metrics = dict(session.kernel.metrics())
        metrics["sim_time_ns"] = session.sim_time_ns
        metrics["events"] = session.events
        metrics.update(derived_metrics(metrics))
        return ColumnResult(config, metrics, [], "", "bug", error=f"kernel BUG: {exc}")
    metrics = session.metrics()
    results = session.evaluate_expectations(metrics)
    metrics.update(derived_metrics(metrics))
    return ColumnResult(config, metrics, results, session.state_hash(), session.end_reason)


def compare(scenario: Scenario, columns: Sequence[Configuration], seed: int | None = None,
            progress: Sequence[Callable[[int, int], None] | None] | None = None) -> Comparison:
    """Run every column on the same seed, one after the other.

    Args:
        scenario: the scenario.
        columns: the configurations (``plan_columns``); checked before anything runs.
        seed: overrides the scenario's seed.
        progress: one ``Session.run`` progress callback per column (or None).

    Raises:
        CompareError: a column cannot run (checked first; nothing has run then).
    """
    check_columns(columns)
    run_seed = scenario.seed if seed is None else seed
    out = Comparison(scenario, run_seed)
    for i, config in enumerate(columns):
        callback = progress[i] if progress is not None else None
        out.columns.append(run_column(scenario, config, run_seed, callback))
    return out


# ---- reporting ---------------------------------------------------------------------------------


def comparison_doc(comparison: Comparison) -> dict[str, object]:
    """The ``--json`` document: ``{"scenario", "seed", "columns": [...]}``.

    Each column holds ``kernel``, ``writeback``, ``rmap``, ``vmscan``, ``swapin`` and
    ``metrics`` (every ``vmlab run`` metric plus the derived ones), and also ``designs`` (per
    switch, the release whose code the design follows), ``label``, ``ended``, ``state_hash``,
    ``expectations`` (``[{"name", "ok", "detail"}]``) and ``error`` (None unless the kernel hit
    a BUG). Nothing in it depends on the wall clock.
    """
    columns: list[dict[str, object]] = []
    for col in comparison.columns:
        c = col.config
        columns.append({
            "kernel": c.kernel,
            "writeback": c.writeback,
            "rmap": c.rmap,
            "vmscan": c.vmscan,
            "swapin": c.swapin,
            "designs": design_origins(c.spec()),
            "label": c.label(),
            "ended": col.end_reason,
            "state_hash": col.state_hash,
            "error": col.error,
            "expectations": [{"name": r.name, "ok": r.ok, "detail": r.detail}
                             for r in col.expectations],
            "metrics": dict(col.metrics),
        })
    return {"scenario": comparison.scenario.name, "seed": comparison.seed, "columns": columns}


#: Kinds of table row: how a value is shown.
KIND_BYTES: Final = "bytes"
KIND_COUNT: Final = "count"
KIND_NS: Final = "ns"
KIND_RATE: Final = "rate"


@dataclass(frozen=True)
class Row:
    """One row of the comparison table: a label, the metric it shows and how."""

    label: str
    metric: str
    kind: str


#: The side-by-side table, top to bottom (the CLI adds power-cut, outcome and hash rows).
ROWS: Final = (
    Row("struct page x frames (mem_map)", "struct_page_bytes", KIND_BYTES),
    Row("rmap memory, peak", "rmap_bytes_peak", KIND_BYTES),
    Row("writeback throughput", "writeback_throughput_bps", KIND_RATE),
    Row("head travel (sectors)", "head_travel_sectors", KIND_COUNT),
    Row("disk busy", "disk_busy_ns", KIND_NS),
    Row("fsync latency, max", "fsync_latency_ns", KIND_NS),
    Row("fsync pages visited", "fsync_pages_visited", KIND_COUNT),
    Row("try_to_unmap steps", "try_to_unmap_steps", KIND_COUNT),
    Row("pages scanned (pgscan)", "pgscan", KIND_COUNT),
    Row("active scanned (pgrefill)", "pgrefill", KIND_COUNT),
    Row("reclaim writes (nr_vmscan_write)", "nr_vmscan_write", KIND_COUNT),
    Row("simulated time", "sim_time_ns", KIND_NS),
)


def human_bytes(n: int) -> str:
    """``1310720`` -> ``"1,310,720 B (1.25 MiB)"``; below 1 KiB just the bytes."""
    if n < 1024:
        return f"{n:,} B"
    units = ("KiB", "MiB", "GiB")
    i = 0
    value = n / 1024
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return f"{n:,} B ({value:.3g} {units[i]})"


def format_value(kind: str, value: int) -> str:
    """A metric as the table shows it."""
    from scenarios.units import format_duration

    if kind == KIND_BYTES:
        return human_bytes(value)
    if kind == KIND_NS:
        return format_duration(value)
    if kind == KIND_RATE:
        return f"{value / (1 << 20):.2f} MiB/s"
    return f"{value:,}"


def ratio_text(value: int, first: int) -> str:
    """The ratio to the first column: ``"x1.25"``; ``"="`` when both are 0, ``"n/a"`` when
    only the first is 0."""
    if first == 0:
        return "=" if value == 0 else "n/a"
    return f"x{value / first:.2f}"


def power_cut_text(col: ColumnResult) -> str:
    """Whether what fsync acknowledged survived: the durability check at the end of the run.

    After a ``powercut`` the medium is what survived; without one, ``acked_bytes_lost`` is
    what a power cut at the end would lose (0 once everything acknowledged is on disk).
    """
    lost = col.metrics.get("acked_bytes_lost", 0)
    if col.end_reason == "power_cut":
        return "yes, nothing lost" if lost == 0 else f"NO: {lost:,} B lost"
    return "no power cut" if lost == 0 else f"no power cut; {lost:,} B not durable"
