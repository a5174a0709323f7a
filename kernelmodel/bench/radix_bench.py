"""Benchmark driver loops for the radix-tree model (scaffolding, no kernel counterpart or release).

``vmlab bench`` times these. The loops live in a compiled module because a Python ``for``
loop calling compiled functions costs about half the throughput; each driver returns a count
so the work cannot be skipped and the caller can sanity-check it.

Invariants: the drivers only call the public radix_tree functions; they keep no state.
"""

from __future__ import annotations

from mypy_extensions import i64

from kernelmodel.lib.radix_tree import (
    RadixTreeRoot,
    radix_tree_delete,
    radix_tree_insert,
    radix_tree_lookup,
    radix_tree_tag_clear,
    radix_tree_tag_set,
    vl_radix_tree_gang_lookup_indices,
    vl_radix_tree_gang_lookup_tag_indices,
)

_INDEX_MAX = 0xFFFFFFFF


def vl_bench_insert(root: RadixTreeRoot, indices: list[int], item: object) -> int:
    """Insert ``item`` at every index; return how many inserts returned 0."""
    done: i64 = 0
    for index in indices:
        if radix_tree_insert(root, index, item) == 0:
            done += 1
    return done


def vl_bench_lookup(root: RadixTreeRoot, indices: list[int]) -> int:
    """Look every index up; return how many were present."""
    found: i64 = 0
    for index in indices:
        if radix_tree_lookup(root, index) is not None:
            found += 1
    return found


def vl_bench_tag_set(root: RadixTreeRoot, indices: list[int], tag: int) -> int:
    """Set ``tag`` on every index; return how many calls returned an item.

    Caller: every index is present or out of range (tagging an absent item is a KernelBug).
    """
    done: i64 = 0
    for index in indices:
        if radix_tree_tag_set(root, index, tag) is not None:
            done += 1
    return done


def vl_bench_tag_clear(root: RadixTreeRoot, indices: list[int], tag: int) -> int:
    """Clear ``tag`` on every index; return how many calls returned an item."""
    done: i64 = 0
    for index in indices:
        if radix_tree_tag_clear(root, index, tag) is not None:
            done += 1
    return done


def vl_bench_delete(root: RadixTreeRoot, indices: list[int]) -> int:
    """Delete every index; return how many items were removed."""
    done: i64 = 0
    for index in indices:
        if radix_tree_delete(root, index) is not None:
            done += 1
    return done


def vl_bench_gang(root: RadixTreeRoot, batch: int = 16) -> int:
    """Walk the whole tree in gang lookups of ``batch``; return the items visited."""
    visited: i64 = 0
    start = 0
    while True:
        got = vl_radix_tree_gang_lookup_indices(root, start, batch)
        n = len(got)
        if n == 0:
            return visited
        visited += n
        last = got[n - 1]
        if last >= _INDEX_MAX:
            return visited
        start = last + 1


def vl_bench_gang_tag(root: RadixTreeRoot, tag: int, batch: int = 16) -> int:
    """Walk all items carrying ``tag`` in batches, as pagevec_lookup_tag() callers do.

    Each batch restarts after the last index found. Returns the items visited.
    """
    visited: i64 = 0
    start = 0
    while True:
        got = vl_radix_tree_gang_lookup_tag_indices(root, start, batch, tag)
        n = len(got)
        if n == 0:
            return visited
        visited += n
        last = got[n - 1]
        if last >= _INDEX_MAX:
            return visited
        start = last + 1
