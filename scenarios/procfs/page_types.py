"""A census of struct page: how many frames carry each combination of PG_ flags, in the
manner of the page-types tool of later kernels (which reads /proc/kpageflags; 2.6.6 has
neither, so this is computed from mem_map directly).

One row per distinct flag word, most frames first: the word in the running release's own
bit numbering (``kernelmodel.include.page.vl_release_flags``), the frame count, MB, a symbolic form
(one letter per flag that is set, ``_`` for each that is not, in bit order) and the flag
names. A total row ends the table.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.include.page import (
    NR_PAGEFLAGS,
    PG_NAMES_BY_RELEASE,
    vl_flag_names,
    vl_release_flags,
)
from kernelmodel.inspect.frame_state import vl_flag_words
from kernelmodel.kernel.kernel import Kernel

#: The letter of each flag name in the symbolic form.
LETTERS: Final = {
    "locked": "L", "error": "E", "referenced": "R", "uptodate": "U", "dirty": "D",
    "lru": "l", "active": "A", "slab": "S", "highmem": "H", "checked": "C", "arch_1": "1",
    "reserved": "r", "private": "P", "writeback": "W", "nosave": "N", "maplock": "m",
    "chainlock": "m", "direct": "d", "mappedtodisk": "M", "reclaim": "I", "compound": "c",
    "anon": "a", "swapcache": "s",
}


def census(k: Kernel) -> list[tuple[int, int, int]]:
    """(flag word in the release's numbering, a model flag word that gives it, frames)
    triples, most frames first, then by flag word."""
    release = k.cfg.release
    merged: dict[int, tuple[int, int]] = {}
    for model_word, n in vl_flag_words(k).items():
        word = vl_release_flags(model_word, release)
        first, total = merged.get(word, (model_word, 0))
        merged[word] = (first, total + n)
    rows = [(word, model_word, n) for word, (model_word, n) in merged.items()]
    return sorted(rows, key=lambda row: (-row[2], row[0]))


def symbolic(word: int, release: str) -> str:
    """One letter per set flag, ``_`` per clear one, lowest bit first."""
    names = PG_NAMES_BY_RELEASE[release]
    return "".join(LETTERS.get(names[bit], "?") if word >> bit & 1 and names[bit] else "_"
                   for bit in range(NR_PAGEFLAGS))


def page_types(k: Kernel) -> str:
    """The census as text."""
    release = k.cfg.release
    rows = census(k)
    width = 2 + (NR_PAGEFLAGS + 3) // 4
    lines = [f"{'flags':>{width}}  {'page-count':>10}  {'MB':>8}  {'symbolic-flags':<22}  "
             f"long-symbolic-flags ({release} bit numbers)"]
    for word, model_word, n in rows:
        names = ",".join(vl_flag_names(model_word, release))
        lines.append(f"{word:#0{width}x}  {n:>10}  {n / 256:>8.1f}  "
                     f"{symbolic(word, release):<22}  {names}")
    total = sum(n for _, _, n in rows)
    lines.append(f"{'total':>{width}}  {total:>10}  {total / 256:>8.1f}")
    return "\n".join(lines) + "\n"
