"""Expectations: small checks over the run's metrics, such as ``nr_dirty == 0``.

Grammar (one line)::

    check   := term ("and" term)*
    term    := operand [cmp operand]          a bare operand holds when it is non-zero
    cmp     := "==" | "!=" | "<" | "<=" | ">" | ">="
    operand := METRIC | METRIC@CHECKPOINT | NUMBER[UNIT]

``METRIC`` is a metric name (``nr_dirty``, ``pswpout``, ``fsync_latency_ns``, ...);
``METRIC@CHECKPOINT`` is its value when the checkpoint was last recorded, which makes deltas
expressible (``pgpgin == pgpgin@cold``: nothing was read from disk since "cold"). Numbers may
carry a size unit (bytes) or a duration unit (nanoseconds): ``fsync_latency_ns <= 50ms``,
``head_travel_sectors < 1e6``.

Parsing is separate from evaluation so that a scenario with a misspelt metric is rejected
when it is loaded, not after it has run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from kernelmodel.include.vmstat import VMSTAT_NAMES
from scenarios.units import UnitError, format_duration, parse_quantity

#: Metrics the session adds to the kernel's own: 1/0 results of the oracle and the checker,
#: simulated time, the number of events dispatched, and the acknowledged bytes a power cut
#: loses (or would lose now).
SESSION_METRICS: Final = ("data_verified", "invariants_ok", "sim_time_ns", "events",
                          "acked_bytes_lost")

#: Metrics ``Kernel.metrics()`` reports beside the vmstat counters: zone, disk, MMU, CPU,
#: fsync timing, swap and bookkeeping (a test checks this list against a running kernel).
KERNEL_EXTRA_METRICS: Final = (
    "nr_free_pages",
    "nr_active",
    "nr_inactive",
    "pages_min",
    "pages_low",
    "pages_high",
    "total_pages",
    "head_travel_sectors",
    "disk_busy_ns",
    "disk_requests",
    "disk_reads",
    "disk_writes",
    "disk_sectors_read",
    "disk_sectors_written",
    "disk_seeks",
    "disk_max_queue_depth",
    "disk_merges",
    "tlb_hits",
    "tlb_misses",
    "page_walks",
    "tlb_flushes",
    "invlpgs",
    "cpu_accesses",
    "fsync_latency_ns",
    "fsync_latency_last_ns",
    "fsync_done",
    "fsync_pending",
    "nr_swap_pages",
    "swap_used_pages",
    "struct_page_bytes",
    "oracle_read_mismatches",
    "verify_failures",
    "tasks",
    "checkpoints",
)

#: Every metric name an expectation may use.
KNOWN_METRICS: Final[tuple[str, ...]] = VMSTAT_NAMES + KERNEL_EXTRA_METRICS + SESSION_METRICS

COMPARATORS: Final = ("==", "!=", "<=", ">=", "<", ">")

_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<cmp>==|!=|<=|>=|<|>|=)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:@[A-Za-z0-9_.\-]*)?)"
    r"|(?P<num>-?[0-9][0-9A-Za-z_.µ+\-]*)"
    r"|(?P<bad>\S+))"
)


class ExpectError(ValueError):
    """An expectation that does not parse or names an unknown metric (one-line message)."""


@dataclass(frozen=True)
class Operand:
    """A metric (optionally at a checkpoint) or a literal number."""

    text: str
    metric: str = ""
    at: str = ""
    value: int | float = 0


@dataclass(frozen=True)
class Term:
    """``left cmp right``, or a bare ``left`` (``cmp`` empty) that holds when non-zero."""

    text: str
    left: Operand
    cmp: str = ""
    right: Operand | None = None


@dataclass(frozen=True)
class Check:
    """A parsed check: terms joined by ``and``."""

    text: str
    terms: tuple[Term, ...]

    def metrics(self) -> list[str]:
        """Metric names used, in order of appearance."""
        out: list[str] = []
        for t in self.terms:
            for o in (t.left, t.right):
                if o is not None and o.metric and o.metric not in out:
                    out.append(o.metric)
        return out

    def checkpoints(self) -> list[str]:
        """Checkpoints referred to with ``METRIC@CHECKPOINT``, in order of appearance."""
        out: list[str] = []
        for t in self.terms:
            for o in (t.left, t.right):
                if o is not None and o.at and o.at not in out:
                    out.append(o.at)
        return out


def suggest(word: str, choices: Collection[str]) -> str:
    """``' (did you mean "x"?)'`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # pragma: no cover - the "bad" group matches anything non-blank
            raise ExpectError(f'cannot read "{text[pos:]}"')
        kind = m.lastgroup or "bad"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _operand(kind: str, tok: str, known: Collection[str] | None) -> Operand:
    if kind == "num":
        try:
            return Operand(text=tok, value=parse_quantity(tok))
        except UnitError as exc:
            raise ExpectError(str(exc)) from None
    if kind != "name" or tok == "and":
        raise ExpectError(f'expected a metric or a number, got "{tok}"')
    metric, _, at = tok.partition("@")
    if "@" in tok and not at:
        raise ExpectError(f'"{tok}": name the checkpoint after "@"')
    if known is not None and metric not in known:
        raise ExpectError(f'unknown metric "{metric}"{suggest(metric, known)}')
    return Operand(text=tok, metric=metric, at=at)


def _term(toks: list[tuple[str, str]], known: Collection[str] | None) -> Term:
    if not toks:
        raise ExpectError("empty comparison (nothing between two \"and\")")
    left = _operand(*toks[0], known)
    if len(toks) == 1:
        if not left.metric:
            raise ExpectError(f'"{left.text}" alone is not a check; compare it with a metric')
        return Term(text=left.text, left=left)
    kind, cmp = toks[1]
    if kind != "cmp":
        raise ExpectError(f'expected a comparison (==, !=, <, <=, >, >=) after "{left.text}", '
                          f'got "{cmp}"')
    if cmp == "=":
        raise ExpectError(f'"=" is not a comparison; write "==" after "{left.text}"')
    if len(toks) == 2:
        raise ExpectError(f'nothing to compare with after "{left.text} {cmp}"')
    if len(toks) > 3:
        raise ExpectError(f'unexpected "{toks[3][1]}" after "{left.text} {cmp} {toks[2][1]}" '
                          f'(join comparisons with "and")')
    right = _operand(*toks[2], known)
    if not left.metric and not right.metric:
        raise ExpectError(f'"{left.text} {cmp} {right.text}" compares two numbers; '
                          f"name a metric")
    return Term(text=f"{left.text} {cmp} {right.text}", left=left, cmp=cmp, right=right)


def parse_check(text: str, known: Collection[str] | None = KNOWN_METRICS) -> Check:
    """Parse a check such as ``"nr_dirty == 0 and data_verified"``.

    Args:
        text: the check as written.
        known: the metric names allowed, or None to accept any name.

    Raises:
        ExpectError: a syntax error or an unknown metric (with a did-you-mean).
    """
    toks = _tokens(text)
    if not toks:
        raise ExpectError("the check is empty")
    for kind, tok in toks:
        if kind == "bad":
            raise ExpectError(f'cannot read "{tok}"')
    groups: list[list[tuple[str, str]]] = [[]]
    for kind, tok in toks:
        if kind == "name" and tok == "and":
            groups.append([])
        else:
            groups[-1].append((kind, tok))
    terms = tuple(_term(g, known) for g in groups)
    return Check(text=" ".join(text.split()), terms=terms)


# --------------------------------------------------------------------------- evaluation


def _show(name: str, value: int | float) -> str:
    if name.endswith("_ns") and isinstance(value, int):
        return f"{value} ({format_duration(value)})"
    return str(value)


def _compare(left: int | float, cmp: str, right: int | float) -> bool:
    if cmp == "==":
        return left == right
    if cmp == "!=":
        return left != right
    if cmp == "<":
        return left < right
    if cmp == "<=":
        return left <= right
    if cmp == ">":
        return left > right
    return left >= right


class _Missing(Exception):
    """A metric the run did not report (detail text in args[0])."""


def _value(
    o: Operand, metrics: Mapping[str, int], at: Mapping[str, Mapping[str, int]]
) -> int | float:
    if not o.metric:
        return o.value
    source = metrics
    if o.at:
        recorded = at.get(o.at)
        if recorded is None:
            raise _Missing(f'checkpoint "{o.at}" had not been reached')
        source = recorded
    if o.metric not in source:
        raise _Missing(f'metric "{o.metric}" is not reported by this kernel')
    return source[o.metric]


def _eval_term(
    t: Term, metrics: Mapping[str, int], at: Mapping[str, Mapping[str, int]]
) -> tuple[bool, str]:
    try:
        left = _value(t.left, metrics, at)
        right = _value(t.right, metrics, at) if t.right is not None else 0
    except _Missing as exc:
        return False, str(exc.args[0])
    if t.right is None:
        ok = left != 0
        return ok, f"{t.left.text} is {_show(t.left.metric, left)}" + ("" if ok else " (want true)")
    ok = _compare(left, t.cmp, right)
    shown = [f"{o.text} is {_show(o.metric, v)}"
             for o, v in ((t.left, left), (t.right, right)) if o.metric]
    text = ", ".join(shown)
    if not ok:
        simple = t.left.metric and not t.right.metric
        text += f" (want {t.cmp} {t.right.text})" if simple else f" (want {t.text})"
    return ok, text


def evaluate(
    check: Check,
    metrics: Mapping[str, int],
    at_checkpoints: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[bool, str]:
    """Evaluate a parsed check.

    Args:
        check: from ``parse_check``.
        metrics: the metric values at the evaluation point.
        at_checkpoints: metrics recorded at each checkpoint, for ``METRIC@CHECKPOINT``.

    Returns:
        (ok, detail): detail shows every metric's value, and what was wanted where a term
        failed; a metric the run did not report fails its term with a note saying so.
    """
    at = at_checkpoints if at_checkpoints is not None else {}
    ok = True
    details: list[str] = []
    for t in check.terms:
        term_ok, detail = _eval_term(t, metrics, at)
        ok = ok and term_ok
        details.append(detail)
    return ok, "; ".join(details)


def holds(
    check: Check,
    metrics: Mapping[str, int],
    at_checkpoints: Mapping[str, Mapping[str, int]] | None = None,
) -> bool:
    """Whether ``check`` holds, without the detail text ``evaluate`` builds (for conditions
    watched after every event, such as a story's ``when``). A missing metric fails."""
    at = at_checkpoints if at_checkpoints is not None else {}
    try:
        for t in check.terms:
            left = _value(t.left, metrics, at)
            if t.right is None:
                if left == 0:
                    return False
            elif not _compare(left, t.cmp, _value(t.right, metrics, at)):
                return False
    except _Missing:
        return False
    return True
