"""The declarations as a table (kernelmodel/inspect/declared.py): the sections of a saved
kernel hold the keys their classes declare, and diff names the declared fields that differ."""

from __future__ import annotations

from test_mm_support import make_kernel

from kernelmodel.include.state_generated import save_mem_map, save_page_allocator
from kernelmodel.inspect.declared import DECLARED, SECTIONS, vl_declared_changes, vl_declared_keys
from kernelmodel.mm.page_alloc import GFP_KERNEL, alloc_page


def test_every_section_holds_the_keys_its_class_declares() -> None:
    state = make_kernel().to_state()
    for section, cls in SECTIONS.items():
        saved = state[section]
        assert isinstance(saved, dict)
        declared = vl_declared_keys(cls)
        # in saved order; keys a custom field writes (the zone's nr_free) come in between
        assert [key for key in saved if key in declared] == \
            [key for key in declared if key in saved], section
        optional = {key for key, _attr, _type, how in DECLARED[cls] if how == "optional"}
        assert set(declared) - set(saved) <= optional | {"threads_max"}, section


def test_mem_map_columns_come_from_page_declarations() -> None:
    k = make_kernel()
    page_fields = [key for key, _attr, _type, how in DECLARED["Page"] if how == "column"]
    assert vl_declared_keys("MemMap") == ["nframes", *page_fields]
    assert list(save_mem_map(k.mem_map)) == vl_declared_keys("MemMap")


def test_changes_are_named_field_by_field() -> None:
    k = make_kernel()
    before = save_page_allocator(k.pgdat)
    assert vl_declared_changes("PageAllocator", before, before) == []
    page = alloc_page(k.pgdat, GFP_KERNEL)
    assert page is not None
    after = save_page_allocator(k.pgdat)
    changed = vl_declared_changes("PageAllocator", before, after)
    assert "zone.free_pages" in changed and "zone.free_order" in changed
    assert all(name.startswith("zone.") for name in changed)
    # a key a class writes by its own code is compared as it is
    after["zone"]["nr_free"] = [0] * 11  # type: ignore[index]
    assert "zone.nr_free" in vl_declared_changes("PageAllocator", before, after)
