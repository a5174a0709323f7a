"""Limits checked on a scenario's TOML text before it is parsed.

``tomllib`` parses nested arrays and inline tables recursively (a few thousand ``[`` end in
``RecursionError``), keeps every prefix of a dotted key (a key of 100,000 parts takes
gigabytes), and converts integers of any length. None of that is needed by a scenario, whose
deepest value is three levels (``tasks = [{program = ["op"]}]``), so the text is refused
before parsing when it is larger than ``MAX_TEXT_CHARS`` characters or nests deeper than
``MAX_DEPTH``. Nesting counts ``[`` and ``{`` that are open at once, and the parts of one
dotted key (the dots on one line outside strings and comments). Strings, escapes and
comments are skipped as TOML defines them, so a ``[`` or ``.`` inside a string counts for
nothing.
"""

from __future__ import annotations

from typing import Final

#: Largest scenario text (characters); the largest built-in is under 4 KiB.
MAX_TEXT_CHARS: Final = 1 << 20
#: Deepest nesting of arrays, inline tables and dotted-key parts.
MAX_DEPTH: Final = 32


class TomlLimitError(ValueError):
    """The text is too large or too deeply nested to be parsed safely (one line)."""


def _skip_string(text: str, i: int) -> int:
    """Index just past the string starting at ``text[i]`` (a quote), or len(text)."""
    quote = text[i]
    n = len(text)
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        if quote == '"':
            while end >= 0 and _escaped(text, end):
                end = text.find(quote * 3, end + 1)
        if end < 0:
            return n
        end += 3
        while end < n and text[end] == quote:  # up to two quotes may end the content
            end += 1
        return end
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\" and quote == '"':
            j += 2
            continue
        if c == quote or c == "\n":
            return j + 1
        j += 1
    return n


def _escaped(text: str, pos: int) -> bool:
    """True when the character at ``pos`` is preceded by an odd number of backslashes."""
    k = pos - 1
    count = 0
    while k >= 0 and text[k] == "\\":
        count += 1
        k -= 1
    return count % 2 == 1


def check_toml_limits(text: str) -> None:
    """Refuse ``text`` when it is too large or nests too deeply to parse safely.

    Raises:
        TomlLimitError: with the line where the nesting goes too deep.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise TomlLimitError(f"{len(text):,} characters is larger than any scenario "
                             f"({MAX_TEXT_CHARS:,} at most)")
    depth = 0
    dots = 0
    line = 1
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            end = _skip_string(text, i)
            line += text.count("\n", i, end)
            i = end
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "\n":
            line += 1
            dots = 0
        elif c == "[" or c == "{":
            depth += 1
        elif c == "]" or c == "}":
            depth = max(depth - 1, 0)
        elif c == ".":
            dots += 1
        if depth > MAX_DEPTH or dots > MAX_DEPTH:
            raise TomlLimitError(f"line {line}: nested deeper than {MAX_DEPTH} levels (arrays, "
                                 f"inline tables or dotted-key parts); a scenario needs three")
        i += 1
