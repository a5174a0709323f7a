"""Sizes, durations and numbers as scenario files write them (scenarios/units.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenarios.units import (
    UnitError,
    format_duration,
    format_size,
    parse_duration,
    parse_int,
    parse_quantity,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (4096, 4096),
        ("4096", 4096),
        ("4KiB", 4096),
        ("16MiB", 16 << 20),
        ("1GiB", 1 << 30),
        ("1TiB", 1 << 40),
        ("512B", 512),
        ("1.5MiB", 3 << 19),
        ("0x4000_0000", 0x40000000),
        ("0X1000", 0x1000),
        ("1_000", 1000),
        (0, 0),
    ],
)
def test_parse_size(text: object, want: int) -> None:
    assert parse_size(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("4KB", '"4KB": unknown size unit "KB" (did you mean "KiB"? sizes use B, KiB, MiB, '
                "GiB, TiB)"),
        ("4k", '"4k": unknown size unit "k" (did you mean "KiB"? sizes use B, KiB, MiB, GiB, '
               "TiB)"),
        ("4 parsecs", 'expected a size such as "4KiB" or 4096, got "4 parsecs"'),
        ("3zz", '"3zz": unknown size unit "zz" (sizes use B, KiB, MiB, GiB, TiB)'),
        ("-4KiB", 'size "-4KiB" must not be negative'),
        (-1, "size -1 must not be negative"),
        ("0.3KiB", '"0.3KiB" is not a whole number of bytes'),
        (True, 'expected a size such as "4KiB" or 4096, not a boolean'),
        (1.5, 'expected a size such as "4KiB" or 4096, not a float'),
        ("", 'expected a size such as "4KiB" or 4096, got ""'),
        (" 8KiB ", 'size " 8KiB " has spaces around it; write it without them'),
        ("1" * 5000, "a number of 5,000 characters is too long (at most 64; numbers stay "
                     "below 2^64)"),
        ("1e99999999KiB", '"1e99999999KiB": the exponent is out of range (at most e40; '
                          "numbers stay below 2^64)"),
        ("16777216TiB", "a size of 65 bits is out of range (numbers "
         "stay below 2^64)"),
        (1 << 64, "a size of 65 bits is out of range (numbers stay below 2^64)"),
    ],
)
def test_parse_size_errors(text: object, message: str) -> None:
    with pytest.raises(UnitError) as exc:
        parse_size(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("300ms", 300_000_000),
        ("2.5s", 2_500_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("500ns", 500),
        ("1min", 60_000_000_000),
        ("1_000ms", 1_000_000_000),
        (0, 0),
        ("0", 0),
    ],
)
def test_parse_duration(text: object, want: int) -> None:
    assert parse_duration(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (30, 'duration 30 needs a unit: write it as a string such as "30ms" (ns, us, ms, s, '
             "min)"),
        ("30", 'duration "30" needs a unit (ns, us, ms, s, min)'),
        ("5sec", '"5sec": unknown duration unit "sec" (did you mean "s"? durations use ns, us, '
                 "ms, s, min)"),
        ("5 s", 'expected a duration such as "300ms" or "2.5s", got "5 s"'),
        ("1.5ns", '"1.5ns" is not a whole number of nanoseconds'),
        ("-1s", 'duration "-1s" must not be negative'),
        (["1s"], 'expected a duration such as "300ms", not a list'),
        ("1e400s", '"1e400s": the exponent is out of range (at most e40; numbers stay below '
                   "2^64)"),
        ("4611686019s", 'duration "4611686019s" is longer than the longest simulated time, '
                        "4611686018.427s (2^62 ns)"),
        (" 2s", 'duration " 2s" has spaces around it; write it without them'),
    ],
)
def test_parse_duration_errors(text: object, message: str) -> None:
    with pytest.raises(UnitError) as exc:
        parse_duration(text)
    assert str(exc.value) == message


def test_parse_int() -> None:
    assert parse_int("0x10") == 16
    assert parse_int(7) == 7
    assert parse_int("1_024") == 1024
    with pytest.raises(UnitError, match='expected a count \\(an integer such as 16 or 0x1000\\), '
                                        'got "4KiB"'):
        parse_int("4KiB", "count")
    with pytest.raises(UnitError, match="count -3 must not be negative"):
        parse_int(-3, "count")
    assert parse_int((1 << 64) - 1) == (1 << 64) - 1
    for big in (1 << 64, "99999999999999999999", "0x1" + "0" * 16):
        with pytest.raises(UnitError, match="out of range \\(numbers stay below 2\\^64\\)"):
            parse_int(big, "seed")
    with pytest.raises(UnitError, match="too long"):
        parse_int("0x" + "f" * 5000, "seed")


@pytest.mark.parametrize(
    ("text", "want"),
    [("0", 0), ("1e6", 1_000_000), ("50ms", 50_000_000), ("4KiB", 4096), ("0x10", 16),
     ("0.5", 0.5), ("-2", -2), ("2.5s", 2_500_000_000)],
)
def test_parse_quantity(text: str, want: float) -> None:
    got = parse_quantity(text)
    assert got == want
    assert type(got) is type(want)


@pytest.mark.parametrize(
    ("text", "message"),
    [("9" * 5000, "a number of 5,000 characters is too long (at most 64; numbers stay below "
                  "2^64)"),
     ("1e400", '"1e400": the exponent is out of range (at most e40; numbers stay below 2^64)'),
     ("1e30", '"1e30" is out of range (numbers stay below 2^64)')],
)
def test_parse_quantity_out_of_range(text: str, message: str) -> None:
    with pytest.raises(UnitError) as exc:
        parse_quantity(text)
    assert str(exc.value) == message


def test_parse_quantity_error() -> None:
    with pytest.raises(UnitError) as exc:
        parse_quantity("5kb")
    assert str(exc.value) == ('"5kb": unknown unit "kb" (did you mean "KiB"? sizes use B, KiB, '
                              "MiB, GiB, TiB; durations use ns, us, ms, s, min)")


def test_format() -> None:
    assert format_size(64 << 20) == "64MiB"
    assert format_size(1536) == "1.5KiB"
    assert format_size(100) == "100B"
    assert format_size((8 << 20) - 4096) == "8188KiB"
    assert format_size(1000) == "1000B"
    assert format_duration(0) == "0s"
    assert format_duration(2_500_000_000) == "2.5s"
    assert format_duration(62_000_000) == "62ms"
    assert format_duration(1500) == "1.5us"
    assert format_duration(12) == "12ns"


@given(st.integers(min_value=0, max_value=1 << 40))
def test_size_roundtrip_exact_units(n: int) -> None:
    assert parse_size(str(n)) == n
    assert parse_size(f"{n:#x}") == n
    assert parse_size(f"{n}KiB") == n * 1024


@given(st.integers(min_value=1, max_value=10**12))
def test_formatted_duration_parses_close(ns: int) -> None:
    text = format_duration(ns)
    back = parse_duration(text) if not text.endswith("ns") else ns
    assert abs(back - ns) <= max(1, ns // 1000)


@given(st.integers(min_value=0, max_value=1 << 42))
def test_format_size_is_exact(n: int) -> None:
    assert parse_size(format_size(n)) == n
