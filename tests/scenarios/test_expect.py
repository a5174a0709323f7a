"""Expectations: parsing and evaluation (scenarios/expect.py)."""

from __future__ import annotations

import pytest

from kernelmodel.include.vmstat import VMSTAT_NAMES
from scenarios.expect import KNOWN_METRICS, ExpectError, evaluate, parse_check


def ok(text: str, metrics: dict[str, int], at: dict[str, dict[str, int]] | None = None
       ) -> tuple[bool, str]:
    return evaluate(parse_check(text), metrics, at)


def test_parse_structure() -> None:
    c = parse_check("nr_dirty == 0 and  pswpout > 0 and data_verified")
    assert c.text == "nr_dirty == 0 and pswpout > 0 and data_verified"
    assert [t.text for t in c.terms] == ["nr_dirty == 0", "pswpout > 0", "data_verified"]
    assert c.terms[2].cmp == "" and c.terms[2].right is None
    assert c.metrics() == ["nr_dirty", "pswpout", "data_verified"]
    assert c.checkpoints() == []


def test_units_and_checkpoint_references() -> None:
    c = parse_check("fsync_latency_ns <= 50ms and pgpgin == pgpgin@cold and "
                    "head_travel_sectors < 1e6")
    assert c.terms[0].right is not None and c.terms[0].right.value == 50_000_000
    assert c.terms[1].right is not None and c.terms[1].right.at == "cold"
    assert c.terms[2].right is not None and c.terms[2].right.value == 1_000_000
    assert c.checkpoints() == ["cold"]


@pytest.mark.parametrize(
    ("text", "metrics", "want"),
    [
        ("nr_dirty == 0", {"nr_dirty": 0}, True),
        ("nr_dirty == 0", {"nr_dirty": 3}, False),
        ("nr_dirty != 0", {"nr_dirty": 3}, True),
        ("pswpout > 0", {"pswpout": 1}, True),
        ("pswpout > 0", {"pswpout": 0}, False),
        ("pswpout >= 1", {"pswpout": 1}, True),
        ("pgfault < 10", {"pgfault": 10}, False),
        ("pgfault <= 10", {"pgfault": 10}, True),
        ("rmap_bytes <= 4KiB", {"rmap_bytes": 4096}, True),
        ("head_travel_sectors < 1e6", {"head_travel_sectors": 999_999}, True),
        ("fsync_latency_ns <= 50ms", {"fsync_latency_ns": 50_000_001}, False),
        ("0 < nr_dirty", {"nr_dirty": 1}, True),
        ("pgpgin <= pgpgout", {"pgpgin": 1, "pgpgout": 2}, True),
        ("data_verified", {"data_verified": 1}, True),
        ("data_verified and invariants_ok", {"data_verified": 1, "invariants_ok": 0}, False),
    ],
)
def test_evaluate(text: str, metrics: dict[str, int], want: bool) -> None:
    assert ok(text, metrics)[0] is want


def test_details() -> None:
    assert ok("nr_dirty == 0", {"nr_dirty": 0}) == (True, "nr_dirty is 0")
    assert ok("nr_dirty == 0", {"nr_dirty": 12}) == (False, "nr_dirty is 12 (want == 0)")
    assert ok("fsync_latency_ns <= 50ms", {"fsync_latency_ns": 62_000_000}) == (
        False, "fsync_latency_ns is 62000000 (62ms) (want <= 50ms)")
    assert ok("data_verified", {"data_verified": 0}) == (False, "data_verified is 0 (want true)")
    assert ok("pgpgin == pgpgin@cold", {"pgpgin": 9}, {"cold": {"pgpgin": 5}}) == (
        False, "pgpgin is 9, pgpgin@cold is 5 (want pgpgin == pgpgin@cold)")
    assert ok("nr_dirty == 0 and pswpout > 0", {"nr_dirty": 0, "pswpout": 0}) == (
        False, "nr_dirty is 0; pswpout is 0 (want > 0)")


def test_missing_metric_and_checkpoint_fail_with_a_note() -> None:
    assert ok("nr_dirty == 0", {}) == (False, 'metric "nr_dirty" is not reported by this kernel')
    assert ok("pgpgin == pgpgin@cold", {"pgpgin": 1}) == (
        False, 'checkpoint "cold" had not been reached')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the check is empty"),
        ("nr_dirtty == 0", 'unknown metric "nr_dirtty" (did you mean "nr_dirty"?)'),
        ("bogus > 1", 'unknown metric "bogus"'),
        ("nr_dirty = 0", '"=" is not a comparison; write "==" after "nr_dirty"'),
        ("nr_dirty 0", 'expected a comparison (==, !=, <, <=, >, >=) after "nr_dirty", got "0"'),
        ("nr_dirty ==", 'nothing to compare with after "nr_dirty =="'),
        ("nr_dirty == 0 1", 'unexpected "1" after "nr_dirty == 0" (join comparisons with "and")'),
        ("nr_dirty == 0 and", 'empty comparison (nothing between two "and")'),
        ("1 == 1", '"1 == 1" compares two numbers; name a metric'),
        ("5", '"5" alone is not a check; compare it with a metric'),
        ("nr_dirty == 5kb", '"5kb": unknown unit "kb" (did you mean "KiB"? sizes use B, KiB, '
                            "MiB, GiB, TiB; durations use ns, us, ms, s, min)"),
        ("nr_dirty@ == 0", '"nr_dirty@": name the checkpoint after "@"'),
        ("nr_dirty == $x", 'cannot read "$x"'),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ExpectError) as exc:
        parse_check(text)
    assert str(exc.value) == message


def test_known_metrics_include_vmstat_and_session() -> None:
    for name in VMSTAT_NAMES:
        assert name in KNOWN_METRICS
    for name in ("data_verified", "invariants_ok", "sim_time_ns", "events"):
        assert name in KNOWN_METRICS
    assert len(set(KNOWN_METRICS)) == len(KNOWN_METRICS)


def test_any_name_when_unchecked() -> None:
    c = parse_check("whatever > 2", known=None)
    assert evaluate(c, {"whatever": 3}) == (True, "whatever is 3")
