"""One expected user page of the process-memory oracle, kept as a description when it can be
(no kernel counterpart, so no release; see oracle_mm.py for the oracle itself).

A user store writes a u32 at a word of a page. A write touch stores ``stamp ^ vaddr`` at
every word it reaches (machine/cpu.py), and since a page's base address has no bits below
4096 that is ``key ^ 4w`` at word ``w``, with ``key = (stamp ^ page address) & 0xFFFFFFFF``
the same for every word of the page. So a page that only such stores reached is described
exactly by a few *strokes*, each ``(key, first, step, count)``: words ``first + i * step``
(``i < count``) hold ``key ^ 4w``, later strokes over earlier ones, zeros elsewhere. A
single store of any value ``v`` at word ``w`` is the stroke ``(v ^ 4w, w, 1, 1)``. A stroke
that covers every word of an earlier one replaces it, so a page touched over and over keeps
one or two strokes: a 160 MiB task touched once per page is described in a few MiB instead
of 160.

A page becomes 1024 words held in full (an ``array('I')`` in host order, the form the oracle
always used) when a description no longer fits (more than ``MAX_STROKES`` strokes, a byte
store, a run of values that are not one stroke) or when its base is not zeros (a private file
page copied on write). Either form gives the same bytes; a page's form depends only on the
stores that reached it, so state hashes stay deterministic.

Invariants:
    * ``words is None`` or ``strokes == []``;
    * each stroke has ``0 <= first``, ``first + (count - 1) * step < 1024``, ``count >= 1``,
      ``step >= 1`` (``step == 1`` when ``count == 1``) and ``0 <= key < 2**32``;
    * at most MAX_STROKES strokes.
"""

from __future__ import annotations

import sys
from array import array
from typing import Final, final

from machine.i386 import PAGE_SIZE

#: u32 words of a page.
PAGE_WORDS: Final = PAGE_SIZE // 4
#: Ints of one stroke in ``strokes``.
STROKE_INTS: Final = 4
#: Most strokes a described page keeps before it holds its words in full.
MAX_STROKES: Final = 4
_MASK32: Final = 0xFFFFFFFF
#: Host words are big-endian: pages are byte-swapped on their way to and from bytes.
HOST_BIG_ENDIAN: Final = sys.byteorder == "big"
if array("I").itemsize != 4:  # pragma: no cover - every supported platform has 4-byte ints
    raise ImportError("oracle_page: array('I') items are not 4 bytes on this platform")
#: The byte offset of each word of a page (``4w`` at word ``w``), in host order.
_OFFSETS: Final = array("I", range(0, PAGE_SIZE, 4))
_ZERO_PAGE: Final = bytes(PAGE_SIZE)


def vl_words_from_bytes(raw: bytes, swap: bool = HOST_BIG_ENDIAN) -> array[int]:
    """The 1024 u32 words of a page given as 4096 little-endian bytes.

    Args:
        raw: the page's bytes (PAGE_SIZE of them).
        swap: byte-swap the words (the host is big-endian); a parameter so that both paths
            can be tested on any host.
    """
    words = array("I", raw)
    if swap:
        words.byteswap()
    return words


def vl_words_to_bytes(words: array[int], swap: bool = HOST_BIG_ENDIAN) -> bytes:
    """The page ``words`` as 4096 little-endian bytes (``swap`` as in vl_words_from_bytes)."""
    if swap:
        swapped = array("I", words)
        swapped.byteswap()
        return swapped.tobytes()
    return words.tobytes()


def vl_stroke_values(key: int, first: int, step: int, count: int) -> array[int]:
    """The ``count`` words a stroke stores, in host order: ``key ^ 4w`` for each of its words.

    Made with C big-integer xor over the whole run (xor works byte by byte, so the host's
    byte order is that of both operands), not a Python loop per word.
    """
    if count == 1:
        return array("I", [(key ^ (first << 2)) & _MASK32])
    offsets = _OFFSETS[first : first + (count - 1) * step + 1 : step]
    fill = (key & _MASK32).to_bytes(4, sys.byteorder) * count
    mixed = int.from_bytes(offsets.tobytes(), "little") ^ int.from_bytes(fill, "little")
    return array("I", mixed.to_bytes(count * 4, "little"))


def _covers(strokes: list[int], i: int, first: int, step: int, count: int) -> bool:
    """Stroke ``i`` of ``strokes`` stores only words of the stroke (first, step, count)."""
    f = strokes[i + 1]
    s = strokes[i + 2]
    c = strokes[i + 3]
    if f < first or f + (c - 1) * s > first + (count - 1) * step or (f - first) % step:
        return False
    return c == 1 or s % step == 0


@final
class VlOraclePage:
    """The expected contents of one private user page, shared copy-on-write across fork.

    Attributes:
        page_id: the page's serial number (so a shared page serialises once).
        words: the 1024 words in host order, or None while the page is described.
        strokes: the description, flat (key, first, step, count) per stroke, oldest first,
            over a page of zeros (empty while ``words`` holds the page).
        refs: the (mm, vpn) slots that hold the page.
    """

    def __init__(self, page_id: int, words: array[int] | None) -> None:
        self.page_id: int = page_id
        self.words: array[int] | None = words
        self.strokes: list[int] = []
        self.refs: int = 1

    def copy(self, page_id: int) -> VlOraclePage:
        """A page with the same contents and form (copy-on-write of a shared page)."""
        words = self.words
        p = VlOraclePage(page_id, None if words is None else array("I", words))
        p.strokes = list(self.strokes)
        return p

    def store(self, word: int, value: int) -> None:
        """The u32 ``value`` was stored at word ``word``."""
        words = self.words
        if words is not None:
            words[word] = value
        else:
            self.add_stroke((value ^ (word << 2)) & _MASK32, word, 1, 1)

    def store_run(self, first: int, step: int, values: array[int]) -> None:
        """``values[i]`` was stored at word ``first + i * step`` for each i (at least one)."""
        n = len(values)
        words = self.words
        if words is None:
            key = (values[0] ^ (first << 2)) & _MASK32
            if n == 1 or vl_stroke_values(key, first, step, n) == values:
                self.add_stroke(key, first, step if n > 1 else 1, n)
                return
            words = self.materialize()
        words[first : first + (n - 1) * step + 1 : step] = values

    def add_stroke(self, key: int, first: int, step: int, count: int) -> None:
        """Describe a stroke over what the page holds (it must be described)."""
        strokes = self.strokes
        i = len(strokes) - STROKE_INTS
        while i >= 0:
            if _covers(strokes, i, first, step, count):
                del strokes[i : i + STROKE_INTS]
            i -= STROKE_INTS
        if len(strokes) >= MAX_STROKES * STROKE_INTS:
            self.materialize()[first : first + (count - 1) * step + 1 : step] = \
                vl_stroke_values(key, first, step, count)
            return
        strokes.extend((key, first, step, count))

    def materialize(self) -> array[int]:
        """Hold the page as its 1024 words from now on; returns them."""
        words = self.words
        if words is None:
            words = self.expected_words()
            self.words = words
            self.strokes = []
        return words

    def expected_words(self) -> array[int]:
        """The page's 1024 words in host order (the held array itself, or made afresh)."""
        words = self.words
        if words is not None:
            return words
        out = array("I", _ZERO_PAGE)
        strokes = self.strokes
        i = 0
        while i < len(strokes):
            first = strokes[i + 1]
            step = strokes[i + 2]
            count = strokes[i + 3]
            out[first : first + (count - 1) * step + 1 : step] = \
                vl_stroke_values(strokes[i], first, step, count)
            i += STROKE_INTS
        return out

    def to_bytes(self) -> bytes:
        """The page as 4096 little-endian bytes."""
        return vl_words_to_bytes(self.expected_words())

    def le_buffer(self) -> bytes | array[int]:
        """The page's little-endian bytes, without a copy where the host is little-endian and
        the words are held."""
        words = self.words
        if words is not None and not HOST_BIG_ENDIAN:
            return words
        return self.to_bytes()


def vl_check_strokes(flat: list[int], what: str) -> None:
    """Refuse a stroke list that breaks the invariants (a restored state's).

    Raises:
        ValueError: naming ``what``.
    """
    if len(flat) % STROKE_INTS or len(flat) > MAX_STROKES * STROKE_INTS:
        raise ValueError(f"{what}: a page has a bad number of strokes")
    for i in range(0, len(flat), STROKE_INTS):
        key, first, step, count = flat[i : i + STROKE_INTS]
        if not (0 <= key <= _MASK32 and first >= 0 and count >= 1 and step >= 1
                and (count > 1 or step == 1) and first + (count - 1) * step < PAGE_WORDS):
            raise ValueError(f"{what}: a bad stroke {flat[i : i + STROKE_INTS]}")
