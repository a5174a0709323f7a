"""Tests for kernelmodel/lib/radix_tree.py (lib/radix-tree.c, 2.6.6) and
kernelmodel/bench/radix_bench.py.

The edge cases are lib/radix-tree.c's boundaries (height changes, the maximum index, empty
trees); the state machine checks the tree against a dict plus one set per tag, with
radix_tree_check after every step, for 64-way and 4-way nodes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from kernelmodel.bench.radix_bench import (
    vl_bench_delete,
    vl_bench_gang,
    vl_bench_gang_tag,
    vl_bench_insert,
    vl_bench_lookup,
    vl_bench_tag_clear,
    vl_bench_tag_set,
)
from kernelmodel.include.bug import KernelBug
from kernelmodel.lib.radix_tree import (
    EEXIST,
    ENOMEM,
    RADIX_TREE_INDEX_BITS,
    RADIX_TREE_MAP_SHIFT,
    RADIX_TREE_MAX_PATH,
    RADIX_TREE_TAGS,
    RadixTreeNode,
    RadixTreeRoot,
    radix_tree_check,
    radix_tree_delete,
    radix_tree_gang_lookup,
    radix_tree_gang_lookup_tag,
    radix_tree_insert,
    radix_tree_lookup,
    radix_tree_maxindex,
    radix_tree_tag_clear,
    radix_tree_tag_get,
    radix_tree_tag_set,
    radix_tree_tagged,
    tag_clear,
    tag_set,
    vl_radix_tree_gang_lookup_indices,
    vl_radix_tree_gang_lookup_tag_indices,
    vl_radix_tree_items,
    vl_radix_tree_nodes_bytes,
    vl_radix_tree_restore,
    vl_radix_tree_tag_bits,
)

TOP = 2**32 - 1
INDEX = st.one_of(st.integers(0, 200), st.integers(0, 1 << 20), st.integers(0, TOP))


def shape(root: RadixTreeRoot) -> list[tuple[int, int, int, int, int]]:
    """(level, first index, count, tags0, tags1) of every node, depth first."""
    out: list[tuple[int, int, int, int, int]] = []
    if root.rnode is None:
        return out
    stack: list[tuple[RadixTreeNode, int, int]] = [(root.rnode, root.height, 0)]
    while stack:
        node, level, base = stack.pop()
        out.append((level, base, node.count, node.vl_tags(0), node.vl_tags(1)))
        span = 1 << ((level - 1) * root.map_shift)
        for i, child in enumerate(node.slots):
            if child is not None:
                stack.append((child, level - 1, base + i * span))
    return out


def signature(root: RadixTreeRoot) -> tuple[object, ...]:
    return (
        root.height,
        root.nr_nodes,
        vl_radix_tree_items(root),
        vl_radix_tree_tag_bits(root),
        shape(root),
    )


def build(indices: list[int], map_shift: int = 6) -> RadixTreeRoot:
    root = RadixTreeRoot(map_shift)
    for index in indices:
        assert radix_tree_insert(root, index, f"item{index}") == 0
    return root


# --- Constants and the height table ----------------------------------------------------------


def test_constants() -> None:
    assert RADIX_TREE_MAP_SHIFT == 6
    assert RADIX_TREE_TAGS == 2
    assert RADIX_TREE_INDEX_BITS == 32
    assert RADIX_TREE_MAX_PATH == 7
    assert (EEXIST, ENOMEM) == (17, 12)


def test_height_table_map_shift_6() -> None:
    want = [0, 63, 4095, 262143, 16777215, 1073741823, TOP]
    assert [radix_tree_maxindex(h) for h in range(7)] == want
    assert radix_tree_maxindex(9) == TOP
    assert RadixTreeRoot().vl_height_to_maxindex == want


def test_height_table_map_shift_3() -> None:
    want = [0, 7, 63, 511, 4095, 32767, 262143, 2097151, 16777215, 134217727, 1073741823, TOP]
    assert [radix_tree_maxindex(h, 3) for h in range(12)] == want
    assert RadixTreeRoot(3).vl_height_to_maxindex == want


# --- edge cases ------------------------------------------------------------------------


def test_insert_zero_into_empty_tree() -> None:
    root = RadixTreeRoot()
    assert radix_tree_insert(root, 0, "a") == 0
    assert (root.height, root.nr_nodes) == (1, 1)
    assert radix_tree_lookup(root, 0) == "a"
    radix_tree_check(root)


def test_insert_top_index_into_empty_tree() -> None:
    root = RadixTreeRoot()
    assert radix_tree_insert(root, TOP, "top") == 0
    assert (root.height, root.nr_nodes) == (6, 6)
    assert radix_tree_lookup(root, TOP) == "top"
    assert radix_tree_lookup(root, TOP - 1) is None
    radix_tree_check(root)


def test_insert_63_then_64() -> None:
    root = build([63])
    assert (root.height, root.nr_nodes) == (1, 1)
    assert radix_tree_insert(root, 64, "b") == 0
    assert (root.height, root.nr_nodes) == (2, 3)
    radix_tree_check(root)


@pytest.mark.parametrize("index", [64, 1000, TOP])
def test_out_of_range_ops_do_nothing(index: int) -> None:
    root = build([5])
    radix_tree_tag_set(root, 5, 1)
    before = signature(root)
    assert radix_tree_lookup(root, index) is None
    assert radix_tree_tag_set(root, index, 0) is None
    assert radix_tree_tag_clear(root, index, 1) is None
    assert radix_tree_delete(root, index) is None
    assert radix_tree_tag_get(root, index, 1) == 0
    assert signature(root) == before


def test_tag_get_absent_is_zero() -> None:
    root = build([5, 100])
    assert radix_tree_tag_get(root, 6, 0) == 0
    assert radix_tree_tag_get(root, 4000, 1) == 0
    assert radix_tree_tag_get(RadixTreeRoot(), 0, 0) == 0


def test_tag_set_on_absent_item_is_a_bug_and_leaves_bits() -> None:
    root = build([5, 100])
    with pytest.raises(KernelBug, match="radix_tree_tag_set: slot == NULL"):
        radix_tree_tag_set(root, 130, 0)
    top = root.rnode
    assert top is not None
    assert top.vl_tags(0) == 1 << 2  # set on the way down before the BUG
    with pytest.raises(KernelBug, match="radix_tree_check"):
        radix_tree_check(root)


def test_tag_set_on_absent_item_in_existing_leaf_is_a_bug() -> None:
    root = build([5])
    with pytest.raises(KernelBug):
        radix_tree_tag_set(root, 6, 1)
    assert root.rnode is not None and root.rnode.vl_tags(1) == 1 << 6


def test_tag_set_index_zero_on_empty_tree_returns_none() -> None:
    root = RadixTreeRoot()
    assert radix_tree_tag_set(root, 0, 0) is None
    assert radix_tree_tag_set(root, 7, 1) is None
    assert (root.height, root.nr_nodes) == (0, 0)


def test_tag_clear_absent_item_does_nothing() -> None:
    root = build([5, 100])
    radix_tree_tag_set(root, 100, 0)
    before = signature(root)
    assert radix_tree_tag_clear(root, 6, 0) is None
    assert radix_tree_tag_clear(root, 200, 0) is None
    assert signature(root) == before


def test_tag_clear_untagged_item_returns_item() -> None:
    root = build([5])
    assert radix_tree_tag_clear(root, 5, 0) == "item5"
    assert radix_tree_tagged(root, 0) == 0


def test_tag_set_is_idempotent() -> None:
    root = build([5])
    assert radix_tree_tag_set(root, 5, 0) == "item5"
    once = signature(root)
    assert radix_tree_tag_set(root, 5, 0) == "item5"
    assert signature(root) == once


def test_delete_last_item_empties_tree() -> None:
    root = build([3, 70000])
    radix_tree_tag_set(root, 3, 0)
    assert radix_tree_delete(root, 70000) == "item70000"
    assert radix_tree_delete(root, 3) == "item3"
    assert (root.rnode, root.height, root.nr_nodes) == (None, 0, 0)
    assert radix_tree_tagged(root, 0) == 0
    radix_tree_check(root)


def test_gang_lookup_past_last_item() -> None:
    root = build([1, 2, 3])
    assert radix_tree_gang_lookup(root, 4, 10) == []
    assert radix_tree_gang_lookup(root, 64, 10) == []
    assert radix_tree_gang_lookup(RadixTreeRoot(), 0, 10) == []


@pytest.mark.parametrize("map_shift", [6, 5, 4, 3, 2, 1])
def test_gang_lookup_near_top_terminates(map_shift: int) -> None:
    root = build([7, TOP - 1, TOP], map_shift)
    for t in range(2):
        radix_tree_tag_set(root, TOP, t)
    assert vl_radix_tree_gang_lookup_indices(root, TOP - 1, 10) == [TOP - 1, TOP]
    assert radix_tree_gang_lookup(root, TOP, 10) == [f"item{TOP}"]
    assert vl_radix_tree_gang_lookup_indices(root, 0, 100) == [7, TOP - 1, TOP]
    assert radix_tree_gang_lookup_tag(root, TOP - 5, 10, 1) == [f"item{TOP}"]
    assert vl_radix_tree_gang_lookup_tag_indices(root, 8, 10, 0) == [TOP]
    radix_tree_delete(root, TOP)
    radix_tree_delete(root, TOP - 1)
    assert vl_radix_tree_gang_lookup_indices(root, TOP - 3, 10) == []
    assert vl_radix_tree_gang_lookup_tag_indices(root, 0, 10, 0) == []
    assert vl_radix_tree_gang_lookup_indices(root, 8, 10) == []


# --- Examples from the text ------------------------------------------------------------------


def test_delete_does_not_shrink_height() -> None:
    root = build([42, 1_000_000])
    assert (root.height, root.nr_nodes) == (4, 7)
    assert radix_tree_delete(root, 1_000_000) == "item1000000"
    assert (root.height, root.nr_nodes) == (4, 4)
    assert radix_tree_lookup(root, 42) == "item42"
    radix_tree_check(root)


def test_extend_propagates_tags_to_slot_zero() -> None:
    root = build([5])
    radix_tree_tag_set(root, 5, 0)
    assert radix_tree_insert(root, 100_000, "far") == 0
    assert root.height == 3
    top = root.rnode
    assert top is not None
    assert (top.vl_tags(0), top.vl_tags(1)) == (1, 0)
    mid = top.slots[0]
    assert mid is not None and (mid.vl_tags(0), mid.vl_tags(1)) == (1, 0)
    assert radix_tree_tagged(root, 0) == 1
    assert radix_tree_tag_get(root, 5, 0) == 1
    radix_tree_check(root)


def test_insert_existing_returns_eexist() -> None:
    root = build([9, 700])
    before = signature(root)
    assert radix_tree_insert(root, 700, "other") == -EEXIST
    assert radix_tree_lookup(root, 700) == "item700"
    assert signature(root) == before


def test_tag_clear_propagates_only_when_node_has_no_bits_left() -> None:
    root = build([0, 1, 64])
    for index in (0, 1, 64):
        radix_tree_tag_set(root, index, 0)
    top = root.rnode
    assert top is not None and top.vl_tags(0) == 0b11
    assert radix_tree_tag_clear(root, 0, 0) == "item0"
    assert top.vl_tags(0) == 0b11  # leaf 0 still has index 1 tagged
    radix_tree_tag_clear(root, 1, 0)
    assert top.vl_tags(0) == 0b10
    radix_tree_tag_clear(root, 64, 0)
    assert top.vl_tags(0) == 0
    assert radix_tree_tagged(root, 0) == 0
    radix_tree_check(root)


def test_delete_clears_both_tags_upward() -> None:
    root = build([3, 200, 300])
    radix_tree_tag_set(root, 200, 0)
    radix_tree_tag_set(root, 200, 1)
    radix_tree_tag_set(root, 300, 1)
    assert radix_tree_delete(root, 200) == "item200"
    assert radix_tree_tagged(root, 0) == 0
    assert radix_tree_tagged(root, 1) == 1
    assert vl_radix_tree_tag_bits(root) == [(300, 2)]
    radix_tree_check(root)


def test_bit_63_and_high_slots() -> None:
    root = build([63, 62, 31, 32])
    for index in (63, 31, 32):
        radix_tree_tag_set(root, index, 1)
    leaf = root.rnode
    assert leaf is not None
    assert leaf.vl_tags(1) == (1 << 63) | (1 << 31) | (1 << 32)
    assert radix_tree_tag_get(root, 63, 1) == 1
    assert radix_tree_tag_get(root, 62, 1) == 0
    assert vl_radix_tree_gang_lookup_tag_indices(root, 0, 10, 1) == [31, 32, 63]
    radix_tree_tag_clear(root, 63, 1)
    assert leaf.vl_tags(1) == (1 << 31) | (1 << 32)
    radix_tree_check(root)


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(0, 63), min_size=1),
    st.sets(st.integers(0, 63)),
    st.integers(0, 1),
)
def test_leaf_bitmap_matches_set(present: set[int], tagged: set[int], tag: int) -> None:
    tagged &= present
    root = RadixTreeRoot()
    for index in sorted(present):
        radix_tree_insert(root, index, index)
    for index in sorted(tagged):
        radix_tree_tag_set(root, index, tag)
    leaf = root.rnode
    assert leaf is not None
    assert leaf.vl_tags(tag) == sum(1 << i for i in tagged)
    assert leaf.vl_tags(1 - tag) == 0
    for index in range(64):
        assert radix_tree_tag_get(root, index, tag) == (1 if index in tagged else 0)
    assert vl_radix_tree_gang_lookup_tag_indices(root, 0, 64, tag) == sorted(tagged)
    assert radix_tree_gang_lookup_tag(root, 0, 64, tag) == sorted(tagged)
    for index in sorted(tagged)[::2]:
        radix_tree_tag_clear(root, index, tag)
    assert leaf.vl_tags(tag) == sum(1 << i for i in sorted(tagged)[1::2])
    radix_tree_check(root)


def test_gang_lookup_order_and_limits() -> None:
    indices = [0, 5, 63, 64, 4095, 4096, 70000, 1 << 24, TOP]
    root = build(indices[::-1])
    assert vl_radix_tree_gang_lookup_indices(root, 0, 100) == indices
    assert vl_radix_tree_gang_lookup_indices(root, 6, 3) == [63, 64, 4095]
    assert radix_tree_gang_lookup(root, 4096, 2) == ["item4096", "item70000"]
    assert radix_tree_gang_lookup(root, 0, 0) == []


# --- -ENOMEM with a node budget --------------------------------------------------------------


def test_enomem_leaves_partial_path() -> None:
    root = RadixTreeRoot(node_budget=3)
    assert radix_tree_insert(root, TOP, "x") == -ENOMEM
    assert (root.height, root.nr_nodes, root.vl_nr_enomem) == (6, 3, 1)
    assert radix_tree_lookup(root, TOP) is None
    assert radix_tree_gang_lookup(root, 0, 10) == []
    radix_tree_check(root)  # count-0 node allowed after -ENOMEM (I3)
    root.vl_node_budget = -1
    assert radix_tree_insert(root, TOP, "x") == 0
    assert root.nr_nodes == 6
    radix_tree_check(root)


def test_enomem_while_extending() -> None:
    root = RadixTreeRoot(node_budget=2)
    assert radix_tree_insert(root, 0, "a") == 0
    assert radix_tree_insert(root, TOP, "b") == -ENOMEM
    assert (root.height, root.nr_nodes) == (2, 2)
    assert radix_tree_lookup(root, 0) == "a"
    radix_tree_check(root)


def test_enomem_on_empty_tree_keeps_height() -> None:
    root = RadixTreeRoot(node_budget=0)
    assert radix_tree_insert(root, 0, "a") == -ENOMEM
    assert (root.height, root.rnode) == (1, None)
    assert radix_tree_insert(root, 0, "a") == -ENOMEM  # extend runs again: height 2
    assert root.height == 2
    assert radix_tree_lookup(root, 0) is None
    assert radix_tree_tagged(root, 0) == 0
    with pytest.raises(KernelBug, match="radix_tree_tag_set"):
        radix_tree_tag_set(root, 0, 0)
    radix_tree_check(root)


# --- Kernel consistency checks ---------------------------------------------------------------


def test_tag_get_detects_missing_ancestor_bit() -> None:
    root = build([5, 70])
    leaf = root.rnode.slots[1] if root.rnode is not None else None
    assert leaf is not None
    leaf.tags0 = 1 << 6
    with pytest.raises(KernelBug, match="radix_tree_tag_get: ret && saw_unset_tag"):
        radix_tree_tag_get(root, 70, 0)
    with pytest.raises(KernelBug, match="I1"):
        radix_tree_check(root)


def test_lookup_tag_bug_on_tag_bit_over_null_slot() -> None:
    root = build([5, 70])
    assert root.rnode is not None
    root.rnode.tags1 = 1 << 7
    with pytest.raises(KernelBug, match="__lookup_tag: tagged slot == NULL"):
        radix_tree_gang_lookup_tag(root, 0, 10, 1)


def test_check_detects_bad_count() -> None:
    root = build([5, 70])
    assert root.rnode is not None
    root.rnode.count += 1
    with pytest.raises(KernelBug, match="I2"):
        radix_tree_check(root)


def test_check_detects_stale_interior_tag() -> None:
    root = build([5, 70])
    radix_tree_tag_set(root, 70, 0)
    leaf = root.rnode.slots[1] if root.rnode is not None else None
    assert leaf is not None
    leaf.tags0 = 0
    with pytest.raises(KernelBug, match="I1"):
        radix_tree_check(root)


def test_insert_bug_on_stale_leaf_tag() -> None:
    root = build([5])
    assert root.rnode is not None
    root.rnode.tags1 = 1 << 9
    with pytest.raises(KernelBug, match="radix_tree_insert: tag set on an empty slot"):
        radix_tree_insert(root, 9, "x")


def test_check_detects_bad_nr_nodes() -> None:
    root = build([5, 70])
    root.nr_nodes = 2
    with pytest.raises(KernelBug, match="radix_tree_check: nr_nodes"):
        radix_tree_check(root)


# --- API boundary ----------------------------------------------------------------------------


def test_bad_arguments_raise_value_error() -> None:
    root = build([1])
    with pytest.raises(ValueError):
        radix_tree_insert(root, -1, "x")
    with pytest.raises(ValueError):
        radix_tree_insert(root, 2**32, "x")
    with pytest.raises(ValueError):
        radix_tree_insert(root, 2, None)
    with pytest.raises(ValueError):
        radix_tree_lookup(root, 2**40)
    with pytest.raises(ValueError):
        radix_tree_tag_set(root, 1, 2)
    with pytest.raises(ValueError):
        radix_tree_tagged(root, -1)
    with pytest.raises(ValueError):
        radix_tree_gang_lookup(root, 0, -1)
    with pytest.raises(ValueError):
        RadixTreeRoot(7)
    with pytest.raises(ValueError):
        RadixTreeRoot(0)
    with pytest.raises(ValueError):
        radix_tree_maxindex(-1)


# --- Memory figures and snapshots ------------------------------------------------------------


def test_nodes_bytes() -> None:
    root = build([42, 1_000_000])
    assert vl_radix_tree_nodes_bytes(root) == 7 * 276
    assert vl_radix_tree_nodes_bytes(root, tagged=False) == 7 * 260
    small = build([0], 3)
    assert vl_radix_tree_nodes_bytes(small) == 4 + 8 * 4 + 2 * 4
    assert vl_radix_tree_nodes_bytes(RadixTreeRoot()) == 0


def _rebuild_plain(root: RadixTreeRoot) -> RadixTreeRoot:
    copy = RadixTreeRoot(root.map_shift)
    for index, item in vl_radix_tree_items(root):
        assert radix_tree_insert(copy, index, item) == 0
    for index, mask in vl_radix_tree_tag_bits(root):
        for t in range(2):
            if mask >> t & 1:
                radix_tree_tag_set(copy, index, t)
    return copy


def _restore(root: RadixTreeRoot) -> RadixTreeRoot:
    copy = RadixTreeRoot(root.map_shift)
    vl_radix_tree_restore(
        copy, root.height, vl_radix_tree_items(root), vl_radix_tree_tag_bits(root)
    )
    radix_tree_check(copy)
    return copy


def test_rebuild_by_insert_matches_unless_tree_was_taller() -> None:
    root = build([42, 1_000_000, 77])
    radix_tree_tag_set(root, 77, 1)
    radix_tree_tag_set(root, 1_000_000, 0)
    assert signature(_rebuild_plain(root)) == signature(root)
    radix_tree_delete(root, 1_000_000)
    plain = _rebuild_plain(root)
    assert (plain.height, plain.nr_nodes) == (2, 3)  # the original has height 4, 5 nodes
    assert signature(plain) != signature(root)
    assert (root.height, root.nr_nodes) == (4, 5)
    assert signature(_restore(root)) == signature(root)


def test_restore_index_zero_in_tall_tree() -> None:
    root = build([0, 1_000_000])
    radix_tree_tag_set(root, 0, 0)
    radix_tree_delete(root, 1_000_000)
    copy = _restore(root)
    assert (copy.height, copy.nr_nodes) == (4, 4)
    assert signature(copy) == signature(root)


def test_restore_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        vl_radix_tree_restore(RadixTreeRoot(), 1, [(1000, "x")], [])
    with pytest.raises(ValueError):
        vl_radix_tree_restore(RadixTreeRoot(), 2, [(1000, "x")], [(999, 1)])
    with pytest.raises(ValueError):
        vl_radix_tree_restore(build([1]), 1, [(2, "x")], [])


def test_state_round_trip() -> None:
    root = RadixTreeRoot(3)
    for index in (0, 9, 700, 70000, TOP):
        radix_tree_insert(root, index, ("page", index))
    radix_tree_tag_set(root, 700, 0)
    radix_tree_tag_set(root, TOP, 1)
    radix_tree_tag_set(root, TOP, 0)
    radix_tree_delete(root, 70000)
    state = root.to_state()
    items = [item for _index, item in vl_radix_tree_items(root)]
    copy = RadixTreeRoot.from_state(state, items)
    assert copy.to_state() == state
    assert signature(copy) == signature(root)
    assert state["tags"] == [[700, 1], [TOP, 3]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("idtu"), INDEX, st.integers(0, 1)), max_size=40),
    st.sampled_from([2, 3, 6]),
)
def test_restore_reproduces_structure(ops: list[tuple[str, int, int]], map_shift: int) -> None:
    root = RadixTreeRoot(map_shift)
    for op, index, tag in ops:
        if op == "i":
            radix_tree_insert(root, index, index)
        elif op == "d":
            radix_tree_delete(root, index)
        elif op == "t" and radix_tree_lookup(root, index) is not None:
            radix_tree_tag_set(root, index, tag)
        elif op == "u":
            radix_tree_tag_clear(root, index, tag)
    assert signature(_restore(root)) == signature(root)
    state = root.to_state()
    copy = RadixTreeRoot.from_state(state, [item for _i, item in vl_radix_tree_items(root)])
    assert copy.to_state() == state


# --- Benchmark drivers -----------------------------------------------------------------------


def test_bench_drivers_count_work() -> None:
    root = RadixTreeRoot()
    indices = [*range(1000), TOP]
    assert vl_bench_insert(root, indices, "p") == 1001
    assert vl_bench_insert(root, [5], "p") == 0
    assert vl_bench_lookup(root, [*indices, 5000]) == 1001
    assert vl_bench_tag_set(root, indices[::2], 1) == 501
    assert vl_bench_gang_tag(root, 1) == 501
    assert vl_bench_gang_tag(root, 0, batch=7) == 0
    assert vl_bench_gang(root) == 1001
    assert vl_bench_gang(root, batch=1) == 1001
    assert vl_bench_tag_clear(root, indices, 1) == 1001
    assert radix_tree_tagged(root, 1) == 0
    radix_tree_check(root)
    assert vl_bench_delete(root, indices) == 1001
    assert (root.height, root.nr_nodes) == (0, 0)


# --- The model check -------------------------------------------------------------------------


class RadixVsDict(RuleBasedStateMachine):
    """The tree against a dict and one set per tag, with the exact 2.6.6 height."""

    MAP_SHIFT = 6

    def __init__(self) -> None:
        super().__init__()
        self.root = RadixTreeRoot(self.MAP_SHIFT)
        self.model: dict[int, str] = {}
        self.tags: list[set[int]] = [set(), set()]
        self.height = 0
        self.serial = 0

    @initialize()
    def start(self) -> None:
        radix_tree_check(self.root)

    def _min_height(self, index: int) -> int:
        height = 1
        while index > radix_tree_maxindex(height, self.MAP_SHIFT):
            height += 1
        return height

    def _expected_gang(self, keys: list[int], first: int, max_items: int) -> list[int]:
        return [k for k in keys if k >= first][:max_items]

    @rule(index=INDEX)
    def insert(self, index: int) -> None:
        self.serial += 1
        item = f"item{index}.{self.serial}"
        ret = radix_tree_insert(self.root, index, item)
        if index in self.model:
            assert ret == -EEXIST
            return
        assert ret == 0
        self.height = max(self.height, self._min_height(index))
        self.model[index] = item

    def _delete(self, index: int) -> None:
        assert radix_tree_delete(self.root, index) == self.model.pop(index, None)
        for t in range(2):
            self.tags[t].discard(index)
        if not self.model:
            self.height = 0

    @rule(index=INDEX)
    def delete(self, index: int) -> None:
        self._delete(index)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        self._delete(data.draw(st.sampled_from(sorted(self.model))))

    @rule(index=INDEX, tag=st.integers(0, 1))
    def tag_set(self, index: int, tag: int) -> None:
        if index in self.model:
            assert radix_tree_tag_set(self.root, index, tag) == self.model[index]
            self.tags[tag].add(index)
        elif self.height == 0 or index > radix_tree_maxindex(self.height, self.MAP_SHIFT):
            assert radix_tree_tag_set(self.root, index, tag) is None
        else:
            with pytest.raises(KernelBug):
                radix_tree_tag_set(self.root, index, tag)
            self._rebuild()

    def _rebuild(self) -> None:
        items = sorted(self.model.items())
        tagbits = [
            (k, (k in self.tags[0]) | (k in self.tags[1]) << 1)
            for k in sorted(self.tags[0] | self.tags[1])
        ]
        self.root = RadixTreeRoot(self.MAP_SHIFT)
        vl_radix_tree_restore(self.root, self.height, list(items), tagbits)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), tag=st.integers(0, 1))
    def tag_set_existing(self, data: st.DataObject, tag: int) -> None:
        index = data.draw(st.sampled_from(sorted(self.model)))
        assert radix_tree_tag_set(self.root, index, tag) == self.model[index]
        self.tags[tag].add(index)

    @rule(index=INDEX, tag=st.integers(0, 1))
    def tag_clear(self, index: int, tag: int) -> None:
        assert radix_tree_tag_clear(self.root, index, tag) == self.model.get(index)
        self.tags[tag].discard(index)

    @rule(first=INDEX, max_items=st.integers(0, 20))
    def gang(self, first: int, max_items: int) -> None:
        want = self._expected_gang(sorted(self.model), first, max_items)
        assert vl_radix_tree_gang_lookup_indices(self.root, first, max_items) == want
        got = radix_tree_gang_lookup(self.root, first, max_items)
        assert got == [self.model[k] for k in want]

    @rule(first=INDEX, max_items=st.integers(0, 20), tag=st.integers(0, 1))
    def gang_tag(self, first: int, max_items: int, tag: int) -> None:
        want = self._expected_gang(sorted(self.tags[tag]), first, max_items)
        got = vl_radix_tree_gang_lookup_tag_indices(self.root, first, max_items, tag)
        assert got == want
        items = radix_tree_gang_lookup_tag(self.root, first, max_items, tag)
        assert items == [self.model[k] for k in want]

    @rule(index=INDEX)
    def lookup(self, index: int) -> None:
        assert radix_tree_lookup(self.root, index) == self.model.get(index)
        for t in range(2):
            assert radix_tree_tag_get(self.root, index, t) == (1 if index in self.tags[t] else 0)

    @invariant()
    def consistent(self) -> None:
        radix_tree_check(self.root)
        assert self.root.height == self.height
        for t in range(2):
            assert radix_tree_tagged(self.root, t) == (1 if self.tags[t] else 0)
        assert [k for k, _v in vl_radix_tree_items(self.root)] == sorted(self.model)


class RadixVsDictShift2(RadixVsDict):
    """The same model check with 4-way nodes, so trees are many levels deep."""

    MAP_SHIFT = 2


_MACHINE_SETTINGS = settings(max_examples=100, stateful_step_count=50, deadline=None)
TestRadixVsDict = RadixVsDict.TestCase
TestRadixVsDict.settings = _MACHINE_SETTINGS
TestRadixVsDictShift2 = RadixVsDictShift2.TestCase
TestRadixVsDictShift2.settings = _MACHINE_SETTINGS


def test_tag_bit_masks_cover_all_64_bits() -> None:
    """tag_set/tag_clear on every bit of a 64-slot node, bit 63 included (the sign bit).

    Compiled, this catches a mask built by shifting a 32-bit C literal.
    """
    node = RadixTreeNode(64, True)
    for off in range(64):
        tag_set(node, 1, off)
        assert node.vl_tags(1) == (1 << (off + 1)) - 1
        assert node.vl_tags(0) == 0
    for off in range(64):
        tag_clear(node, 1, off)
        assert node.vl_tags(1) == ((1 << 64) - 1) & ~((1 << (off + 1)) - 1)
    assert node.tags1 == 0
