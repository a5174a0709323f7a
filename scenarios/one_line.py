"""Error messages as one line of bounded length, whatever the input they quote.

Messages quote what the user wrote (a key, an op, a file name) so that the mistake can be
found; a hostile or broken input can make that quote a megabyte long or put a newline in it.
``one_line`` keeps the message one line and short: control characters are shown escaped,
a long quoted value keeps its head and says how long it was, and the whole line is cut at
``MAX_LINE`` characters.
"""

from __future__ import annotations

import re
from typing import Final

#: Longest message line.
MAX_LINE: Final = 400
#: A quoted value longer than this (without blanks) is cut to its first ``KEEP_QUOTED``.
MAX_QUOTED: Final = 80
KEEP_QUOTED: Final = 48
#: A run of non-blank characters longer than this (an unquoted echo) is cut the same way.
MAX_WORD: Final = 160

_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
#: A long quoted value: no blanks past MAX_QUOTED characters, or anything past MAX_WORD (the
#: text between two short quoted values of a message is seldom that long and has blanks).
_QUOTED_RE: Final = re.compile('"([^"\\s]{' + str(MAX_QUOTED + 1) + ',}|[^"]{'
                               + str(MAX_WORD + 1) + ',})"')
_WORD_RE: Final = re.compile(r'[^\s"]{' + str(MAX_WORD + 1) + ",}")


def _escape(m: re.Match[str]) -> str:
    return repr(m.group(0))[1:-1]


def _cut_quoted(m: re.Match[str]) -> str:
    body = m.group(1)
    return f'"{body[:KEEP_QUOTED]}..." ({len(body):,} characters)'


def _cut_word(m: re.Match[str]) -> str:
    word = m.group(0)
    return f"{word[:KEEP_QUOTED]}... ({len(word):,} characters)"


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one line of at most ``limit`` characters (see the module docstring)."""
    text = _CONTROL_RE.sub(_escape, text)
    text = _QUOTED_RE.sub(_cut_quoted, text)
    text = _WORD_RE.sub(_cut_word, text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
