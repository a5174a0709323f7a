"""The traced program's regions, derived from its addresses, and their place on i386.

lackey reports addresses only, not the program's mappings, so regions are guessed: the
distinct pages touched are sorted and cut wherever more than ``GAP_PAGES`` untouched pages
separate two touched ones. Names are guesses from the addresses as well: the highest region
is the ``stack``; regions with instruction fetches are ``text`` (the lowest) and ``text.N``
(libraries, the loader); the first region without fetches above the lowest text and below
the next text is the ``heap`` (brk data follows the program's image); the rest are
``mmap.N``.

Relocation (``relocate``) gives each region a place in the i386 user address space
(``[0, 0xC000_0000)``): regions keep their order, their size and the layout of the pages
inside them, and page offsets are kept, so every distinct page of the trace is one distinct
page of the replay. A trace whose addresses all fit below ``0xC000_0000`` keeps them. Other
regions are packed upwards from ``0x0804_8000`` (the classic i386 load address), each
starting on a fresh 4 MiB page-table boundary after the previous one; the stack ends at
``0xC000_0000``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from scenarios.trace.format import Region, TraceError

#: Untouched pages that may lie inside one region (64 KiB).
GAP_PAGES: Final = 16
#: i386 user space ends here (PAGE_OFFSET).
USER_END_PAGE: Final = 0xC000_0000 >> 12
#: Where the first relocated region goes: the i386 ELF load address, page-aligned.
LOAD_PAGE: Final = 0x0804_8000 >> 12
#: Relocated regions start on a page-table boundary (4 MiB = 1024 pages).
PGTABLE_PAGES: Final = 1024


def derive_regions(pages: Iterable[int], fetch_pages: set[int]) -> tuple[Region, ...]:
    """Regions covering ``pages`` (distinct pages touched), named from where the program
    fetched instructions (``fetch_pages``)."""
    ordered = sorted(set(pages))
    if not ordered:
        raise TraceError("the trace holds no accesses")
    spans: list[tuple[int, int, bool]] = []  # start, end, has fetches
    start = prev = ordered[0]
    fetch = start in fetch_pages
    for p in ordered[1:]:
        if p - prev > GAP_PAGES + 1:
            spans.append((start, prev + 1, fetch))
            start = p
            fetch = False
        fetch = fetch or p in fetch_pages
        prev = p
    spans.append((start, prev + 1, fetch))
    names = _names(spans)
    return tuple(Region(names[i], s, e - s) for i, (s, e, _) in enumerate(spans))


def _names(spans: list[tuple[int, int, bool]]) -> list[str]:
    n = len(spans)
    names = [""] * n
    if n > 1:
        names[-1] = "stack"
    texts = [i for i in range(n) if spans[i][2] and not names[i]]
    for j, i in enumerate(texts):
        names[i] = "text" if j == 0 else f"text.{j}"
    if texts:
        first = texts[0]
        following = [i for i in texts if i > first]
        limit = following[0] if following else n
        for i in range(first + 1, limit):
            if not names[i]:
                names[i] = "heap"
                break
    m = 0
    for i in range(n):
        if not names[i]:
            m += 1
            names[i] = f"mmap.{m}"
    return names


@dataclass(frozen=True)
class Placement:
    """Where one region goes on the i386 machine."""

    region: Region
    base_page: int

    @property
    def base(self) -> int:
        return self.base_page << 12

    @property
    def length(self) -> int:
        return self.region.npages << 12


def relocate(regions: tuple[Region, ...]) -> list[Placement]:
    """The i386 place of every region (see the module docstring).

    Raises:
        TraceError: the regions do not fit in the 3 GiB user address space.
    """
    if regions[-1].end_page <= USER_END_PAGE:
        return [Placement(r, r.start_page) for r in regions]
    out: list[Placement] = []
    stack = regions[-1] if regions[-1].name == "stack" and len(regions) > 1 else None
    rest = regions[:-1] if stack is not None else regions
    limit = USER_END_PAGE - (stack.npages if stack is not None else 0)
    cursor = LOAD_PAGE
    for r in rest:
        if cursor + r.npages > limit:
            total = sum(x.npages for x in regions) * 4096
            raise TraceError(f"the trace's regions ({total >> 20} MiB in {len(regions)} "
                             f"regions) do not fit in the 3 GiB i386 user address space")
        out.append(Placement(r, cursor))
        end = cursor + r.npages
        cursor = (end // PGTABLE_PAGES + 1) * PGTABLE_PAGES
    if stack is not None:
        if limit < LOAD_PAGE or (out and out[-1].base_page + out[-1].region.npages > limit):
            raise TraceError("the trace's stack does not fit below 0xC0000000")
        out.append(Placement(stack, limit))
    return out


def page_map(placements: list[Placement]) -> tuple[list[int], list[int], list[int]]:
    """Sorted original region starts, their ends, and the page delta to add in each."""
    starts = [p.region.start_page for p in placements]
    ends = [p.region.end_page for p in placements]
    deltas = [p.base_page - p.region.start_page for p in placements]
    return starts, ends, deltas
