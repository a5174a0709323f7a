"""The inspection layer over a saved kernel: the same classification and page walk as on a live
one, read from the plain data ``Kernel.to_state`` returns (a snapshot's ``state``) without
restoring it (no kernel counterpart or release; model scaffolding).

Plain data holds no ``page->mapping`` (``MemMap.to_state``: references belong to their owners),
so ``vl_saved_mapping_kinds`` derives each page's MAPPING_* kind from what the owners store,
the rules ``kernelmodel.state.restore`` re-links by: a page in an inode's page cache points at
the file's address_space; a page of ``swapper_space`` at &swapper_space where 2.6.5's swap
cache uses the mapping (``vl_swapcache_by_mapping_for``); a PG_anon page at its anon_vma or
anonmm unless pte chains reverse-map it (then NULL). The rest then goes through the very
functions a live page does (``frame_state``).

Bad data never raises: a missing or ill-typed part reads as empty, as ``snapshot diff`` wants
of a file it only describes (the snapshot reader has checked the hash before).
"""

from __future__ import annotations

import struct
from array import array
from typing import Final

from kernelmodel.include.page import M_anon
from kernelmodel.inspect.frame_state import (
    MAPPING_ANON,
    MAPPING_FILE,
    MAPPING_NONE,
    MAPPING_SWAPPER,
    vl_frame_holds_of,
    vl_frame_list_of,
    vl_frame_state_of,
)
from kernelmodel.inspect.walk import PTRS_PER_PTE, vl_user_ptes
from kernelmodel.mm.pgtable import pmd_present, pte_pfn
from kernelmodel.mm.swapcache_fields import vl_swapcache_by_mapping_for
from machine.i386 import PAGE_SIZE, USER_PTRS_PER_PGD

_RMAP_PTE_CHAIN: Final = "pte_chain"


def _section(state: object, *keys: str) -> object:
    """``state[k0][k1]...``, or None where a level is missing or not a map."""
    node = state
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def vl_saved_column(state: object, key: str, n: int) -> list[int]:
    """A mem_map column (``MemMap.to_state``) cut or padded with 0 to ``n`` pages."""
    col = _section(state, "mem_map", key)
    out: list[int] = []
    if isinstance(col, list):
        for v in col[:n]:
            out.append(v if isinstance(v, int) else 0)
    while len(out) < n:
        out.append(0)
    return out


def vl_saved_nframes(state: object) -> int:
    """How many pages the saved mem_map has (the length of its flags column)."""
    flags = _section(state, "mem_map", "flags")
    return len(flags) if isinstance(flags, list) else 0


def _pfns(node: object) -> list[int]:
    return [p for p in node if isinstance(p, int)] if isinstance(node, list) else []


def vl_saved_file_pages(state: object) -> dict[int, tuple[str, int]]:
    """pfn -> (path, inode number) of every page in an inode's page cache."""
    out: dict[int, tuple[str, int]] = {}
    inodes = _section(state, "sb", "s_inodes")
    for inode in inodes if isinstance(inodes, list) else []:
        path = str(_section(inode, "path"))
        ino = _section(inode, "i_ino")
        for pfn in _pfns(_section(inode, "mapping", "pfns")):
            out[pfn] = (path, ino if isinstance(ino, int) else -1)
    return out


def vl_saved_swapper_pages(state: object) -> list[int]:
    """The pfns of the swap cache (``swapper_space``'s radix tree)."""
    return _pfns(_section(state, "swapper_space", "pfns"))


def _cfg(state: object, key: str) -> str:
    return str(_section(state, "cfg", key))


def vl_saved_swapcache_by_mapping(state: object) -> bool:
    """``vl_swapcache_by_mapping`` of the saved kernel: 2.6.5's swap-cache form."""
    return vl_swapcache_by_mapping_for(_cfg(state, "release"), _cfg(state, "rmap"))


def vl_saved_mapping_kinds(state: object) -> list[int]:
    """The MAPPING_* kind of ``page->mapping`` of every page (see the module docstring)."""
    n = vl_saved_nframes(state)
    flags = vl_saved_column(state, "flags", n)
    anon_object = _cfg(state, "rmap") != _RMAP_PTE_CHAIN
    kinds = [MAPPING_ANON if anon_object and flags[pfn] & M_anon else MAPPING_NONE
             for pfn in range(n)]
    if vl_saved_swapcache_by_mapping(state):
        for pfn in vl_saved_swapper_pages(state):
            if 0 <= pfn < n:
                kinds[pfn] = MAPPING_SWAPPER
    for pfn in vl_saved_file_pages(state):
        if 0 <= pfn < n:
            kinds[pfn] = MAPPING_FILE
    return kinds


def vl_saved_frame_classes(state: object) -> list[tuple[int, int, int]]:
    """(FS_* state, LIST_* list, HOLDS_* contents) of every page: ``vl_frame_class`` of the
    saved kernel."""
    n = vl_saved_nframes(state)
    flags = vl_saved_column(state, "flags", n)
    count = vl_saved_column(state, "_count", n)
    lru = vl_saved_column(state, "lru", n)
    kinds = vl_saved_mapping_kinds(state)
    return [(vl_frame_state_of(flags[pfn], count[pfn], kinds[pfn]),
             vl_frame_list_of(flags[pfn], count[pfn], lru[pfn]),
             vl_frame_holds_of(flags[pfn], kinds[pfn])) for pfn in range(n)]


def vl_saved_swap_entries(state: object) -> list[int]:
    """Per page, the field that holds a swap-cache page's swp_entry_t on the saved kernel
    (``page_swp_entry``: ``index`` in 2.6.5's form, else ``private``)."""
    n = vl_saved_nframes(state)
    return vl_saved_column(state, "index" if vl_saved_swapcache_by_mapping(state)
                           else "private", n)


# ---- saved RAM ---------------------------------------------------------------------------------


def vl_saved_frames(state: object) -> dict[int, memoryview]:
    """RAM by pfn: the machine state keeps the non-zero frames (pfns as LE u32, then data)."""
    pfns = _section(state, "machine", "mem", "pfns")
    data = _section(state, "machine", "mem", "data")
    out: dict[int, memoryview] = {}
    if not isinstance(pfns, bytes) or not isinstance(data, bytes) or len(pfns) % 4:
        return out
    view = memoryview(data)
    for i, (pfn,) in enumerate(struct.iter_unpack("<I", pfns)):
        if (i + 1) * PAGE_SIZE <= len(data):
            out[int(pfn)] = view[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
    return out


def _words(frame: memoryview | None) -> list[int]:
    if frame is None:
        return [0] * PTRS_PER_PTE
    words = array("I")
    words.frombytes(frame)
    if words.itemsize != 4 or len(words) != PTRS_PER_PTE:  # pragma: no cover - platform
        return [0] * PTRS_PER_PTE
    return words.tolist()


def vl_saved_user_ptes(frames: dict[int, memoryview], pgd: int) -> list[tuple[int, int]]:
    """``vl_user_ptes`` of the address space whose directory is frame ``pgd`` of a saved RAM
    (``vl_saved_frames``)."""
    pgd_words = _words(frames.get(pgd))[:USER_PTRS_PER_PGD]
    tables: dict[int, list[int]] = {}
    for pde in pgd_words:
        if pmd_present(pde) and pte_pfn(pde) in frames:
            tables[pte_pfn(pde)] = _words(frames[pte_pfn(pde)])
    return vl_user_ptes(pgd_words, tables)
