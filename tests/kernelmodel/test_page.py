"""Tests for kernelmodel/include/page.py: PG_ bits, flag helpers, counts, sizes, repr,
mem_map state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelmodel.include import page as pg
from kernelmodel.include.bug import KernelBug
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_NONE,
    PG_NAMES_BY_RELEASE,
    STRUCT_PAGE_LAYOUT,
    MemMap,
    Page,
    get_page,
    mem_map_bytes,
    page_count,
    page_mapcount,
    page_mapped,
    put_page_testzero,
    set_page_count,
    sizeof_struct_page,
    vl_flag_names,
    vl_release_flags,
)
from kernelmodel.include.state_generated import load_mem_map, save_mem_map

# The 2.6.6 numbering, straight from include/linux/page-flags.h.
KERNEL_266_BITS = {
    "locked": 0,
    "error": 1,
    "referenced": 2,
    "uptodate": 3,
    "dirty": 4,
    "lru": 5,
    "active": 6,
    "slab": 7,
    "highmem": 8,
    "checked": 9,
    "arch_1": 10,
    "reserved": 11,
    "private": 12,
    "writeback": 13,
    "nosave": 14,
    "maplock": 15,
    "direct": 16,
    "mappedtodisk": 17,
    "reclaim": 18,
    "compound": 19,
    "anon": 20,
    "swapcache": 21,
}

# (flag name, helper suffix, has TestSet, has TestClear) as the 2.6.6 header defines them.
HELPERS = [
    ("locked", "Locked", True, True),
    ("error", "Error", False, False),
    ("referenced", "Referenced", False, True),
    ("uptodate", "Uptodate", False, False),
    ("dirty", "Dirty", True, True),
    ("lru", "LRU", True, True),
    ("active", "Active", True, True),
    ("slab", "Slab", True, True),
    ("checked", "Checked", False, False),
    ("reserved", "Reserved", False, False),
    ("private", "Private", False, False),
    ("writeback", "Writeback", True, True),
    ("maplock", "Maplock", False, False),
    ("direct", "Direct", True, True),
    ("mappedtodisk", "MappedToDisk", False, False),
    ("reclaim", "Reclaim", False, True),
    ("compound", "Compound", False, False),
    ("anon", "Anon", False, False),
    ("swapcache", "SwapCache", False, False),
]

PageFn = Callable[[Page], object]


def _fn(name: str) -> PageFn:
    fn = getattr(pg, name)
    assert callable(fn)
    return fn  # type: ignore[no-any-return]


def test_pg_bit_numbers_are_2_6_6() -> None:
    for name, bit in KERNEL_266_BITS.items():
        assert getattr(pg, f"PG_{name}") == bit, name
        assert pg.PAGEFLAG_NAMES[bit] == name
        assert getattr(pg, f"M_{name}") == 1 << bit
    assert pg.NR_PAGEFLAGS == 22


@pytest.mark.parametrize(("flag", "suffix", "has_tset", "has_tclear"), HELPERS)
def test_flag_helpers(flag: str, suffix: str, has_tset: bool, has_tclear: bool) -> None:
    mask = 1 << KERNEL_266_BITS[flag]
    test, set_, clear = _fn(f"Page{suffix}"), _fn(f"SetPage{suffix}"), _fn(f"ClearPage{suffix}")
    p = Page(7)
    p.flags = 0x3FFFFF & ~mask  # every other bit set: helpers must leave them alone
    assert test(p) is False
    set_(p)
    assert test(p) is True
    assert p.flags == 0x3FFFFF
    clear(p)
    assert test(p) is False
    assert p.flags == 0x3FFFFF & ~mask
    assert hasattr(pg, f"TestSetPage{suffix}") == has_tset
    assert hasattr(pg, f"TestClearPage{suffix}") == has_tclear
    if has_tset:
        tset = _fn(f"TestSetPage{suffix}")
        assert tset(p) is False  # returns the old value
        assert test(p) is True
        assert tset(p) is True
        assert p.flags == 0x3FFFFF
    if has_tclear:
        tclear = _fn(f"TestClearPage{suffix}")
        set_(p)
        assert tclear(p) is True
        assert test(p) is False
        assert tclear(p) is False
        assert p.flags == 0x3FFFFF & ~mask


OPS = [(f"{kind}Page{suffix}", flag) for flag, suffix, _, _ in HELPERS for kind in ("Set", "Clear")]
OPS += [(f"TestSetPage{s}", f) for f, s, ts, _ in HELPERS if ts]
OPS += [(f"TestClearPage{s}", f) for f, s, _, tc in HELPERS if tc]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(OPS), max_size=40), st.integers(0, 0x3FFFFF))
def test_flag_helpers_against_int_model(ops: list[tuple[str, str]], start: int) -> None:
    p = Page(1)
    p.flags = start
    model = start
    for name, flag in ops:
        mask = 1 << KERNEL_266_BITS[flag]
        old = (model & mask) != 0
        model = model & ~mask if "Clear" in name else model | mask
        result = _fn(name)(p)
        if name.startswith("Test"):
            assert result is old
        assert p.flags == model
    for flag, suffix, _, _ in HELPERS:
        assert _fn(f"Page{suffix}")(p) is ((model >> KERNEL_266_BITS[flag]) & 1 == 1)


def test_counts() -> None:
    p = Page(3)
    assert page_count(p) == 0 and page_mapcount(p) == 0 and not page_mapped(p)
    set_page_count(p, 1)
    get_page(p)
    assert page_count(p) == 2
    assert put_page_testzero(p) is False
    assert put_page_testzero(p) is True
    assert page_count(p) == 0
    with pytest.raises(KernelBug, match="put_page_testzero"):
        put_page_testzero(p)
    p._mapcount = 1
    assert page_mapped(p) and page_mapcount(p) == 1


def test_sizeof_struct_page() -> None:
    assert [sizeof_struct_page(r) for r in ("2.6.5", "2.6.6", "2.6.7")] == [40, 32, 32]
    assert [sizeof_struct_page(r, pae_highpte=True) for r in ("2.6.5", "2.6.6", "2.6.7")] == [
        44,
        36,
        32,
    ]
    assert [f for f, _, _ in STRUCT_PAGE_LAYOUT["2.6.5"]] == [
        "flags", "count", "list", "mapping", "index", "lru", "pte", "private",
    ]  # fmt: skip
    assert "list" not in [f for f, _, _ in STRUCT_PAGE_LAYOUT["2.6.6"]]
    assert [f for f, _, _ in STRUCT_PAGE_LAYOUT["2.6.7"]][:4] == [
        "flags", "_count", "mapcount", "private",
    ]  # fmt: skip


def test_mem_map_128_mib_example() -> None:
    nframes = (128 << 20) // 4096
    assert nframes == 32768
    assert mem_map_bytes("2.6.5", nframes) == 1_310_720
    assert mem_map_bytes("2.6.6", nframes) == 1_048_576
    assert mem_map_bytes("2.6.5", nframes) - mem_map_bytes("2.6.6", nframes) == 256 * 1024
    gib = (1 << 30) // 4096
    assert mem_map_bytes("2.6.5", gib) - mem_map_bytes("2.6.6", gib) == 2 << 20


class _Described:
    def vl_describe(self) -> str:
        return "inode 7"


class _Plain:
    pass


def test_repr_in_kernel_terms() -> None:
    p = Page(0x1A3)
    pg.SetPageLocked(p)
    pg.SetPageDirty(p)
    p._count = 2
    assert repr(p) == "<page pfn=0x1a3 flags=locked|dirty count=2 mapcount=0 mapping=NULL index=0>"
    p.mapping = _Described()
    p.index = 5
    assert "mapping=inode 7 index=5>" in repr(p)
    p.mapping = _Plain()
    assert "mapping=_Plain " in repr(p)
    assert "flags=0 " in repr(Page(1))


def test_flag_names_per_release() -> None:
    assert PG_NAMES_BY_RELEASE["2.6.5"][15] == "chainlock"
    assert PG_NAMES_BY_RELEASE["2.6.7"][16] == "swapcache"
    maplock_direct = pg.M_maplock | pg.M_direct
    assert vl_flag_names(maplock_direct, "2.6.5") == ["chainlock", "direct"]
    assert vl_flag_names(maplock_direct, "2.6.6") == ["maplock", "direct"]
    assert vl_flag_names(maplock_direct, "2.6.7") == ["maplock"]  # no pte chains in 2.6.7
    anon_swap = pg.M_anon | pg.M_swapcache | pg.M_locked
    assert vl_flag_names(anon_swap, "2.6.5") == ["locked"]
    assert vl_flag_names(anon_swap, "2.6.6") == ["locked", "anon", "swapcache"]
    assert vl_flag_names(anon_swap, "2.6.7") == ["locked", "swapcache", "anon"]
    assert vl_release_flags(pg.M_swapcache, "2.6.7") == 1 << 16
    assert vl_release_flags(pg.M_swapcache, "2.6.6") == 1 << 21
    assert vl_release_flags(pg.M_anon, "2.6.5") == 0
    assert vl_flag_names(1 << 25 | pg.M_dirty) == ["dirty", "bit25"]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 0x3FFFFF))
def test_flag_names_2_6_6_is_identity(flags: int) -> None:
    assert vl_release_flags(flags, "2.6.6") == flags
    names = vl_flag_names(flags, "2.6.6")
    assert names == [n for b, n in enumerate(pg.PAGEFLAG_NAMES) if flags >> b & 1]


def test_mem_map_pfn_conversion() -> None:
    mm = MemMap(16)
    assert mm.nframes == 16 and len(mm.pages) == 16
    for pfn in range(16):
        page = mm.pfn_to_page(pfn)
        assert page.pfn == pfn and mm.page_to_pfn(page) == pfn
        assert page.lru == LRU_NONE and page.mapping is None
    with pytest.raises(KernelBug):
        mm.pfn_to_page(16)
    with pytest.raises(KernelBug):
        mm.pfn_to_page(-1)


def _plain(value: object) -> bool:
    if isinstance(value, bool | int | str | bytes):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


page_fields = st.fixed_dictionaries(
    {
        "flags": st.integers(0, 0x3FFFFF),
        "_count": st.integers(0, 1000),
        "_mapcount": st.integers(0, 1000),
        "private": st.integers(0, 2**32 - 1),
        "index": st.integers(0, 2**32 - 1),
        "lru": st.integers(0, 2),
        "pte_direct": st.integers(0, 2**32 - 1),
        "list_id": st.integers(0, 4),
        "dirtied_when": st.integers(0, 2**62),
    }
)


@settings(max_examples=50, deadline=None)
@given(st.lists(page_fields, min_size=1, max_size=20))
def test_mem_map_state_round_trip(rows: list[dict[str, int]]) -> None:
    mm = MemMap(len(rows))
    for page, row in zip(mm.pages, rows, strict=True):
        page.flags = row["flags"]
        page._count = row["_count"]
        page._mapcount = row["_mapcount"]
        page.private = row["private"]
        page.index = row["index"]
        page.lru = row["lru"]
        page.pte_direct = row["pte_direct"]
        page.list_id = row["list_id"]
        page.dirtied_when = row["dirtied_when"]
        page.mapping = _Plain()  # references are not part of mem_map's state
    state = save_mem_map(mm)
    assert _plain(state)
    back = load_mem_map(state)
    assert save_mem_map(back) == state
    assert all(p.mapping is None and p.pte_chain is None for p in back.pages)
    assert [p.pfn for p in back.pages] == list(range(len(rows)))


def test_mem_map_state_rejects_bad_columns() -> None:
    state = save_mem_map(MemMap(4))
    state["flags"] = [0, 0, 0]
    with pytest.raises(ValueError, match="flags"):
        load_mem_map(state)
    state = save_mem_map(MemMap(4))
    state["lru"] = [LRU_ACTIVE, 0, "x", 0]
    with pytest.raises(ValueError, match="lru"):
        load_mem_map(state)


def test_struct_page_size_follows_the_writeback_design() -> None:
    from kernelmodel.include.page import vl_sizeof_struct_page_for

    # each release with its own design
    assert vl_sizeof_struct_page_for("2.6.5", "lists") == 40
    assert vl_sizeof_struct_page_for("2.6.6", "tags") == 32
    assert vl_sizeof_struct_page_for("2.6.7", "tags") == 32
    # a mixed configuration pays for page->list exactly when its writeback uses the lists
    assert vl_sizeof_struct_page_for("2.6.7", "lists") == 40
    assert vl_sizeof_struct_page_for("2.6.5", "tags") == 32


def test_page_exports_every_public_name_of_page_flags() -> None:
    """linux/mm.h includes page-flags.h: code imports the flag helpers from page, so page
    binds each name page_flags defines (a compiled module has no star import to lean on)."""
    import ast
    from pathlib import Path

    import kernelmodel.include.page as page_mod
    import kernelmodel.include.page_flags as flags_mod

    source = Path(__file__).resolve().parents[2] / "kernelmodel/include/page_flags.py"
    public: list[str] = []
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            public.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            public += [t.id for t in targets if isinstance(t, ast.Name)]
    public = [n for n in public if not n.startswith("_")]
    missing = [n for n in public if getattr(page_mod, n, None) != getattr(flags_mod, n)]
    assert len(public) > 100 and missing == []
