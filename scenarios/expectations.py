"""Judging a session's ``[[expect]]``: which checkpoints must record metrics, and each
expectation against the metrics recorded at every hit of its checkpoint.

A checkpoint expectation passes only if it holds at every hit; ``METRIC@CHECKPOINT`` terms
read the latest metrics recorded at that checkpoint up to the hit being judged. A failing
check carries the notes recorded with its metrics (the first oracle problem, the first
invariant violation).
"""

from __future__ import annotations

from collections.abc import Mapping

from scenarios.expect import Check, evaluate
from scenarios.schema import Expectation, StoryItem
from scenarios.session_types import CheckpointRecord, ExpectationResult
from scenarios.units import format_duration


def watched_checkpoints(expectations: tuple[Expectation, ...],
                        story: tuple[StoryItem, ...] = ()) -> dict[str, set[str]]:
    """Checkpoint -> metric names some expectation (or story condition) needs from it."""
    needed: dict[str, set[str]] = {}
    checks = [e.check for e in expectations]
    checks += [item.when for item in story if item.when is not None]
    for e in expectations:
        if e.at != "end":
            needed.setdefault(e.at, set()).update(e.check.metrics())
    for check in checks:
        for term in check.terms:
            for o in (term.left, term.right):
                if o is not None and o.at:
                    needed.setdefault(o.at, set()).add(o.metric)
    return needed


def at_map(checkpoints: list[CheckpointRecord], upto: int) -> dict[str, Mapping[str, int]]:
    """Latest recorded metrics of each checkpoint among the first ``upto`` hits."""
    out: dict[str, Mapping[str, int]] = {}
    for rec in checkpoints[:upto]:
        if rec.metrics is not None:
            out[rec.name] = rec.metrics
    return out


def with_notes(check: Check, ok: bool, detail: str, notes: Mapping[str, str]) -> str:
    """A failed check's detail, followed by the notes of the metrics it reads."""
    if ok:
        return detail
    extra = [notes[m] for m in check.metrics() if m in notes]
    return "; ".join([detail, *extra])


def evaluate_at_checkpoint(e: Expectation,
                           checkpoints: list[CheckpointRecord]) -> ExpectationResult:
    """A checkpoint expectation against every hit of its checkpoint so far."""
    hits = [i for i, r in enumerate(checkpoints) if r.name == e.at]
    if not hits:
        return ExpectationResult(e.name, False, f'checkpoint "{e.at}" was not reached')
    for n, i in enumerate(hits):
        rec = checkpoints[i]
        if rec.metrics is None:  # pragma: no cover - watched checkpoints always record
            return ExpectationResult(e.name, False, f'no metrics recorded at "{e.at}"')
        ok, detail = evaluate(e.check, rec.metrics, at_map(checkpoints, i + 1))
        if not ok:
            detail = with_notes(e.check, ok, detail, rec.notes)
            where = f" (hit {n + 1} of {len(hits)}, pid {rec.pid}, at " \
                    f"{format_duration(rec.time_ns)})" if len(hits) > 1 else ""
            return ExpectationResult(e.name, False, detail + where)
    last = checkpoints[hits[-1]]
    assert last.metrics is not None
    _, detail = evaluate(e.check, last.metrics, at_map(checkpoints, hits[-1] + 1))
    suffix = f" (all {len(hits)} hits)" if len(hits) > 1 else ""
    return ExpectationResult(e.name, True, detail + suffix)


def evaluate_at_end(e: Expectation, metrics: dict[str, int],
                    checkpoints: list[CheckpointRecord],
                    notes: Mapping[str, str]) -> ExpectationResult:
    """An "end" expectation against ``metrics`` (taken now, with their ``notes``)."""
    ok, detail = evaluate(e.check, metrics, at_map(checkpoints, len(checkpoints)))
    return ExpectationResult(e.name, ok, with_notes(e.check, ok, detail, notes))
