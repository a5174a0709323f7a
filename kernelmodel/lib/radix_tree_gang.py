"""The gang lookups of the tagged radix tree (lib/radix-tree.c, 2.6.6).

radix_tree_gang_lookup and radix_tree_gang_lookup_tag (with __lookup and __lookup_tag, one
descent each), and their index-returning variants for tests and the UI. They find up to
``max_items`` items at or after an index in ascending order; empty (or untagged) slots round
the index up to the next subtree boundary, and reaching 2**32 ends the walk (wraparound).

Lock ordering: the caller holds the lock protecting the tree (mapping->tree_lock).
"""

from __future__ import annotations

from mypy_extensions import i64

from kernelmodel.include.bug import KernelBug
from kernelmodel.lib.radix_tree_core import (
    _BIT,
    _INDEX_MAX,
    RadixTreeRoot,
    _index_check,
    _tag_check,
)


def _lookup(
    root: RadixTreeRoot,
    results: list[object],
    indices: list[int],
    want_index: bool,
    index: i64,
    max_items: i64,
) -> i64:
    """__lookup(): append up to ``max_items`` items at or after ``index`` in one descent.

    Empty slots round ``index`` up to the next subtree boundary; reaching 2**32 (wraparound)
    ends the walk with next index 0. Items go to ``results``, or their indices to ``indices``
    when ``want_index``. Returns the next index to search from.
    Caller: root.height > 0 and ``index <= root.vl_maxindex``.
    """
    height = root.height
    map_shift = root.map_shift
    size = root.vl_map_size
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    if node is None:
        raise KernelBug("__lookup: NULL rnode with height > 0")
    while height > 1:
        i = (index >> shift) & mask
        slots = node.slots
        step = _BIT[shift]
        while i < size and slots[i] is None:
            index = ((index & -step) + step) & _INDEX_MAX
            if index == 0:
                return 0
            i += 1
        if i == size:
            return index
        child = slots[i]
        if child is None:
            raise KernelBug("__lookup: slot == NULL after the scan")
        node = child
        shift -= map_shift
        height -= 1
    items = node.items
    j = index & mask
    while j < size and items[j] is None:
        index = (index + 1) & _INDEX_MAX
        if index == 0:
            return 0
        j += 1
    nr_found: i64 = 0
    while j < size:
        item = items[j]
        if item is not None:
            if want_index:
                indices.append(index)
            else:
                results.append(item)
            nr_found += 1
            if nr_found == max_items:
                return (index + 1) & _INDEX_MAX
        index = (index + 1) & _INDEX_MAX
        j += 1
    return index


def _lookup_tag(
    root: RadixTreeRoot,
    results: list[object],
    indices: list[int],
    want_index: bool,
    index: i64,
    max_items: i64,
    tag: i64,
) -> i64:
    """__lookup_tag(): like _lookup(), but follows ``tag`` bits instead of non-NULL slots.

    A tag bit on a NULL slot is a bug.
    Caller: root.height > 0 and ``index <= root.vl_maxindex``.
    """
    height = root.height
    map_shift = root.map_shift
    size = root.vl_map_size
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    if node is None:
        raise KernelBug("__lookup_tag: NULL rnode with height > 0")
    while height > 1:
        i = (index >> shift) & mask
        bits = node.tags0 if tag == 0 else node.tags1
        step = _BIT[shift]
        while i < size and (bits >> i) & 1 == 0:
            index = ((index & -step) + step) & _INDEX_MAX
            if index == 0:
                return 0
            i += 1
        if i == size:
            return index
        child = node.slots[i]
        if child is None:
            raise KernelBug("__lookup_tag: tagged slot == NULL")
        node = child
        shift -= map_shift
        height -= 1
    bits = node.tags0 if tag == 0 else node.tags1
    j = index & mask
    while j < size and (bits >> j) & 1 == 0:
        index = (index + 1) & _INDEX_MAX
        if index == 0:
            return 0
        j += 1
    items = node.items
    nr_found: i64 = 0
    while j < size:
        if (bits >> j) & 1:
            item = items[j]
            if item is None:
                raise KernelBug("__lookup_tag: tagged slot == NULL")
            if want_index:
                indices.append(index)
            else:
                results.append(item)
            nr_found += 1
            if nr_found == max_items:
                return (index + 1) & _INDEX_MAX
        index = (index + 1) & _INDEX_MAX
        j += 1
    return index


def _gang_args(first_index: int, max_items: int, what: str) -> tuple[i64, i64]:
    """Check the gang-lookup arguments; return them as i64."""
    if max_items < 0:
        raise ValueError(f"{what}: max_items {max_items} < 0")
    return _index_check(first_index, what), min(max_items, _INDEX_MAX)


def _gang_lookup(
    root: RadixTreeRoot,
    results: list[object],
    indices: list[int],
    want_index: bool,
    first_index: i64,
    max_items: i64,
) -> None:
    """The loop of radix_tree_gang_lookup(): call __lookup until done or wrapped."""
    max_index = root.vl_maxindex
    cur_index = first_index
    ret: i64 = 0
    while ret < max_items:
        if cur_index > max_index or root.height == 0:
            break
        before = len(indices) if want_index else len(results)
        next_index = _lookup(root, results, indices, want_index, cur_index, max_items - ret)
        ret += (len(indices) if want_index else len(results)) - before
        if next_index == 0:
            break
        cur_index = next_index


def _gang_lookup_tag(
    root: RadixTreeRoot,
    results: list[object],
    indices: list[int],
    want_index: bool,
    first_index: i64,
    max_items: i64,
    tag: i64,
) -> None:
    """The loop of radix_tree_gang_lookup_tag(): call __lookup_tag until done or wrapped."""
    max_index = root.vl_maxindex
    cur_index = first_index
    ret: i64 = 0
    while ret < max_items:
        if cur_index > max_index or root.height == 0:
            break
        before = len(indices) if want_index else len(results)
        next_index = _lookup_tag(
            root, results, indices, want_index, cur_index, max_items - ret, tag
        )
        ret += (len(indices) if want_index else len(results)) - before
        if next_index == 0:
            break
        cur_index = next_index


def radix_tree_gang_lookup(root: RadixTreeRoot, first_index: int, max_items: int) -> list[object]:
    """radix_tree_gang_lookup(): up to ``max_items`` items at index >= ``first_index``.

    Items come in ascending index order (the C version fills a results array and returns the
    count). Caller: holds the tree lock.
    """
    first, nmax = _gang_args(first_index, max_items, "radix_tree_gang_lookup")
    results: list[object] = []
    _gang_lookup(root, results, [], False, first, nmax)
    return results


def radix_tree_gang_lookup_tag(
    root: RadixTreeRoot, first_index: int, max_items: int, tag: int
) -> list[object]:
    """radix_tree_gang_lookup_tag(): like radix_tree_gang_lookup(), items carrying ``tag``.

    Caller: holds the tree lock.
    """
    first, nmax = _gang_args(first_index, max_items, "radix_tree_gang_lookup_tag")
    t = _tag_check(tag, "radix_tree_gang_lookup_tag")
    results: list[object] = []
    _gang_lookup_tag(root, results, [], False, first, nmax, t)
    return results


def vl_radix_tree_gang_lookup_indices(
    root: RadixTreeRoot, first_index: int, max_items: int
) -> list[int]:
    """radix_tree_gang_lookup() returning indices, not items (no kernel counterpart).

    The page cache reads page->index from the items; tests and the UI want the indices.
    """
    first, nmax = _gang_args(first_index, max_items, "vl_radix_tree_gang_lookup_indices")
    indices: list[int] = []
    _gang_lookup(root, [], indices, True, first, nmax)
    return indices


def vl_radix_tree_gang_lookup_tag_indices(
    root: RadixTreeRoot, first_index: int, max_items: int, tag: int
) -> list[int]:
    """radix_tree_gang_lookup_tag() returning indices, not items (no kernel counterpart)."""
    first, nmax = _gang_args(first_index, max_items, "vl_radix_tree_gang_lookup_tag_indices")
    t = _tag_check(tag, "vl_radix_tree_gang_lookup_tag_indices")
    indices: list[int] = []
    _gang_lookup_tag(root, [], indices, True, first, nmax, t)
    return indices
