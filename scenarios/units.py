"""Sizes, durations and plain numbers as scenario files write them.

Sizes are bytes: a plain integer (``4096``), a hex integer (``0x4000_0000``), or a number with
a binary unit (``4KiB``, ``16MiB``, ``1GiB``, ``1.5MiB``). Durations are nanoseconds and always
carry a unit (``500ns``, ``10us``, ``300ms``, ``2.5s``); only zero may be written bare. Every
parse error is a ``UnitError`` whose message is one line that quotes the offending value; the
loader prefixes it with the file and the key.

Ranges: every number is below 2^64 (``U64_MAX``) and written in at most 64 characters with
an exponent of at most 40 (``1e400`` is refused before it is computed); a duration is at most
``MAX_TIME_NS`` (2^62 ns, about 146 years), so that simulated time plus any one duration stays
within a signed 64-bit clock. Text is taken exactly as written: ``" 8MiB"`` with its space is
an error, not 8 MiB.

Invariants:
    * results are exact ints: fractions are computed exactly and must come out whole;
    * nothing here reads the clock or any global state.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

SIZE_UNITS: Final[dict[str, int]] = {
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
}

DURATION_UNITS: Final[dict[str, int]] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "min": 60_000_000_000,
}

#: Common spellings that are not accepted, with the unit meant.
_SIZE_HINTS: Final[dict[str, str]] = {
    "k": "KiB", "kb": "KiB", "kib": "KiB", "m": "MiB", "mb": "MiB", "mib": "MiB",
    "g": "GiB", "gb": "GiB", "gib": "GiB", "t": "TiB", "tb": "TiB", "tib": "TiB",
    "b": "B", "bytes": "B", "byte": "B",
}
_DURATION_HINTS: Final[dict[str, str]] = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s", "msec": "ms", "msecs": "ms",
    "usec": "us", "usecs": "us", "nsec": "ns", "nsecs": "ns", "m": "min", "mins": "min",
    "minute": "min", "minutes": "min", "S": "s", "MS": "ms", "US": "us", "NS": "ns",
}

#: Every number is below 2^64.
U64_MAX: Final = (1 << 64) - 1
#: The longest simulated time a scenario may name (2^62 ns, about 146 years).
MAX_TIME_NS: Final = 1 << 62
#: Longest number text (digits, point, exponent, unit) and largest exponent accepted.
MAX_NUMBER_CHARS: Final = 64
MAX_EXPONENT: Final = 40

_SIZE_LIST: Final = "B, KiB, MiB, GiB, TiB"
_DURATION_LIST: Final = "ns, us, ms, s, min"

_HEX_RE: Final = re.compile(r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*")
_NUM_RE: Final = re.compile(
    r"(?P<num>[0-9](?:_?[0-9])*(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9]+)?)(?P<unit>[^\s0-9].*)?"
)


class UnitError(ValueError):
    """A size, duration or number that does not parse; the message is one line."""


class UnitRangeError(UnitError):
    """A number written correctly but out of range (too long, above 2^64, too long a time)."""


def _split(text: str) -> tuple[Fraction, str] | None:
    """Split ``"1.5MiB"`` into (Fraction(3, 2), "MiB"); None if it is not a number at all.

    Raises:
        UnitError: the text is too long or its exponent too large to be a number in range
            (checked before anything is computed: ``1e999999999`` would not finish).
    """
    m = _NUM_RE.fullmatch(text)
    if m is None:
        return None
    if len(text) > MAX_NUMBER_CHARS:
        raise UnitRangeError(f"a number of {len(text):,} characters is too long (at most "
                        f"{MAX_NUMBER_CHARS}; numbers stay below 2^64)")
    number = m.group("num").replace("_", "")
    exp = re.search(r"[eE]([+-]?[0-9]+)$", number)
    if exp is not None and abs(int(exp.group(1))) > MAX_EXPONENT:
        raise UnitRangeError(f'"{text}": the exponent is out of range (at most e{MAX_EXPONENT}; '
                        f"numbers stay below 2^64)")
    return Fraction(number), m.group("unit") or ""


def _exact(value: object, what: str) -> str:
    """The text of a string value, refused when it is not exactly as a number is written."""
    assert isinstance(value, str)
    if value != value.strip():
        raise UnitError(f'{what} "{value}" has spaces around it; write it without them')
    if _HEX_RE.fullmatch(value) and len(value) > MAX_NUMBER_CHARS:
        raise UnitRangeError(f"a number of {len(value):,} characters is too long (at most "
                        f"{MAX_NUMBER_CHARS}; numbers stay below 2^64)")
    return value


def _u64(n: int, what: str) -> int:
    """``n`` when it is below 2^64; the message does not echo a huge number in full."""
    if n > U64_MAX:
        raise UnitRangeError(f"{what} of {n.bit_length()} bits is out of range (numbers stay below "
                        f"2^64)")
    return n


def _whole(value: Fraction, text: str, what: str) -> int:
    if value.denominator != 1:
        raise UnitError(f'"{text}" is not a whole number of {what}')
    return int(value)


def _unit_error(text: str, unit: str, kind: str, hints: dict[str, str], units: str) -> UnitError:
    hint = hints.get(unit) or hints.get(unit.lower())
    if hint is not None:
        return UnitError(f'"{text}": unknown {kind} unit "{unit}" (did you mean "{hint}"? '
                         f"{kind}s use {units})")
    return UnitError(f'"{text}": unknown {kind} unit "{unit}" ({kind}s use {units})')


def parse_int(value: object, what: str = "number") -> int:
    """A plain non-negative integer: a TOML int, ``"1_000"`` or ``"0x4000_0000"``.

    Args:
        value: the TOML value or op token.
        what: what the number is, for the message ("count", "address").

    Raises:
        UnitError: not an integer, negative, or carrying a unit.
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a {what}, not a boolean")
    if isinstance(value, int):
        if value < 0:
            shown = value if value.bit_length() < 64 else "below -2^64"
            raise UnitError(f"{what} {shown} must not be negative")
        return _u64(value, f"a {what}")
    if not isinstance(value, str):
        raise UnitError(f"expected a {what} (an integer), not {type_name(value)}")
    text = _exact(value, what)
    if _HEX_RE.fullmatch(text):
        return _u64(int(text.replace("_", ""), 16), f"a {what}")
    if text.startswith("-"):
        raise UnitError(f'{what} "{value}" must not be negative')
    parts = _split(text)
    if parts is None or parts[1]:
        raise UnitError(f'expected a {what} (an integer such as 16 or 0x1000), got "{value}"')
    return _u64(_whole(parts[0], text, "units"), f"a {what}")


def parse_size(value: object) -> int:
    """Bytes from ``4096``, ``"0x1000"``, ``"4KiB"``, ``"1.5MiB"``.

    Raises:
        UnitError: negative, not whole bytes, or an unknown unit (with the unit meant).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnitError(f'expected a size such as "4KiB" or 4096, not {type_name(value)}')
    if isinstance(value, int):
        if value < 0:
            shown = value if value.bit_length() < 64 else "below -2^64"
            raise UnitError(f"size {shown} must not be negative")
        return _u64(value, "a size")
    text = _exact(value, "size")
    if _HEX_RE.fullmatch(text):
        return _u64(int(text.replace("_", ""), 16), "a size")
    if text.startswith("-"):
        raise UnitError(f'size "{value}" must not be negative')
    parts = _split(text)
    if parts is None:
        raise UnitError(f'expected a size such as "4KiB" or 4096, got "{value}"')
    number, unit = parts
    if not unit:
        return _u64(_whole(number, text, "bytes"), "a size")
    factor = SIZE_UNITS.get(unit)
    if factor is None:
        raise _unit_error(text, unit, "size", _SIZE_HINTS, _SIZE_LIST)
    return _u64(_whole(number * factor, text, "bytes"), "a size")


def parse_duration(value: object) -> int:
    """Nanoseconds from ``"300ms"``, ``"2.5s"``, ``"10us"``, ``"500ns"`` (or bare ``0``).

    Raises:
        UnitError: no unit, an unknown unit, negative, or not whole nanoseconds.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnitError(f'expected a duration such as "300ms", not {type_name(value)}')
    if isinstance(value, int):
        if value == 0:
            return 0
        raise UnitError(f'duration {value} needs a unit: write it as a string such as '
                        f'"{value}ms" ({_DURATION_LIST})')
    text = _exact(value, "duration")
    if text.startswith("-"):
        raise UnitError(f'duration "{value}" must not be negative')
    parts = _split(text)
    if parts is None:
        raise UnitError(f'expected a duration such as "300ms" or "2.5s", got "{value}"')
    number, unit = parts
    if not unit:
        if number == 0:
            return 0
        raise UnitError(f'duration "{value}" needs a unit ({_DURATION_LIST})')
    factor = DURATION_UNITS.get(unit)
    if factor is None:
        raise _unit_error(text, unit, "duration", _DURATION_HINTS, _DURATION_LIST)
    ns = _whole(number * factor, text, "nanoseconds")
    if ns > MAX_TIME_NS:
        raise UnitRangeError(f'duration "{text}" is longer than the longest simulated time, '
                        f"{format_duration(MAX_TIME_NS)} (2^62 ns)")
    return ns


def parse_quantity(text: str) -> int | float:
    """A number as an expectation writes it: ``0``, ``1e6``, ``0x10``, ``4KiB``, ``50ms``.

    Sizes become bytes and durations nanoseconds; a plain number keeps its value (an int when
    it is whole).

    Raises:
        UnitError: not a number, or an unknown unit.
    """
    t = _exact(text, "number")
    if _HEX_RE.fullmatch(t):
        return _u64(int(t.replace("_", ""), 16), "a number")
    negative = t.startswith("-")
    parts = _split(t[1:] if negative else t)
    if parts is None:
        raise UnitError(f'expected a number such as 0, 1e6, 4KiB or 50ms, got "{text}"')
    number, unit = parts
    if unit in SIZE_UNITS:
        number *= SIZE_UNITS[unit]
    elif unit in DURATION_UNITS:
        number *= DURATION_UNITS[unit]
    elif unit:
        hint = _SIZE_HINTS.get(unit.lower()) or _DURATION_HINTS.get(unit)
        more = f'did you mean "{hint}"? ' if hint else ""
        raise UnitError(f'"{text}": unknown unit "{unit}" ({more}sizes use {_SIZE_LIST}; '
                        f"durations use {_DURATION_LIST})")
    if abs(number) > U64_MAX:
        raise UnitRangeError(f'"{text}" is out of range (numbers stay below 2^64)')
    if negative:
        number = -number
    if number.denominator == 1:
        return int(number)
    return float(number)


def type_name(value: object) -> str:
    """How a TOML value's type reads in an error message ("a table", "a list", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def format_size(nbytes: int) -> str:
    """The exact size in the largest unit that shows it with at most two decimals.

    ``67108864`` -> ``"64MiB"``; ``1536`` -> ``"1.5KiB"``; ``8MiB - 4KiB`` -> ``"8188KiB"``.
    """
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        factor = SIZE_UNITS[unit]
        if nbytes >= factor and (nbytes * 100) % factor == 0:
            value = nbytes / factor
            text = f"{value:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{nbytes}B"


def format_duration(ns: int) -> str:
    """``2_500_000_000`` -> ``"2.5s"``; ``1500`` -> ``"1.5us"``; zero -> ``"0s"``."""
    if ns == 0:
        return "0s"
    for unit, factor in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if abs(ns) >= factor:
            text = f"{ns / factor:.3f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{ns}ns"
