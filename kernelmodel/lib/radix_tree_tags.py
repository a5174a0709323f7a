"""The tree-level tag operations of the tagged radix tree (lib/radix-tree.c, 2.6.6).

radix_tree_tag_set, radix_tree_tag_clear, radix_tree_tag_get and radix_tree_tagged, on the
structs and node helpers of radix_tree_core.py (whose docstring describes the tree, its tag
bitmaps and its invariants). Setting a tag marks every node on the path; clearing walks back
up only while the node below has no bit of the tag left.

Lock ordering: the caller holds the lock protecting the tree (mapping->tree_lock).
"""

from __future__ import annotations

from mypy_extensions import i64

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.lib.radix_tree_core import (
    RadixTreeRoot,
    _any_tag_set,
    _bit,
    _index_check,
    _tag_check,
    tag_clear,
    tag_get,
    tag_set,
)


def radix_tree_tag_set(root: RadixTreeRoot, index: int, tag: int) -> object | None:
    """radix_tree_tag_set(): set ``tag`` on the item at ``index`` and on every node above it.

    Setting a tag on a not-present item is a bug: KernelBug, and the bits already set on the
    way down stay set. Out of range (including index 0 of an empty tree) returns None.

    Caller: holds the tree lock; the item at ``index`` is present.
    """
    idx = _index_check(index, "radix_tree_tag_set")
    t = _tag_check(tag, "radix_tree_tag_set")
    if idx > root.vl_maxindex:
        return None
    height = root.height
    if height == 0:
        return None
    map_shift = root.map_shift
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    if node is None:
        raise KernelBug("radix_tree_tag_set: NULL rnode with height > 0")
    while height > 1:
        offset = (idx >> shift) & mask
        tag_set(node, t, offset)
        child = node.slots[offset]
        if child is None:
            raise KernelBug("radix_tree_tag_set: slot == NULL")
        node = child
        shift -= map_shift
        height -= 1
    offset = idx & mask
    tag_set(node, t, offset)
    item = node.items[offset]
    if item is None:
        raise KernelBug("radix_tree_tag_set: slot == NULL")
    return item



def radix_tree_tag_clear(root: RadixTreeRoot, index: int, tag: int) -> object | None:
    """radix_tree_tag_clear(): clear ``tag`` on the item at ``index``, then upward.

    Walking up, a parent's bit is cleared only while the node below has no bit of that tag
    left. Returns the item (even if it was not tagged), or None if absent or out of range.

    The model walks down twice instead of keeping the C path array: the first descent finds
    the item and the deepest node that keeps a bit of ``tag`` once this slot's bit is gone
    (where the C loop going up stops); the second clears the slot's bit from that node down
    to the leaf. The bits cleared are the same.

    Caller: holds the tree lock.
    """
    idx = _index_check(index, "radix_tree_tag_clear")
    t = _tag_check(tag, "radix_tree_tag_clear")
    if idx > root.vl_maxindex:
        return None
    height = root.height
    top = root.rnode
    if height == 0 or top is None:
        return None
    map_shift = root.map_shift
    mask = root.vl_map_mask
    leaf_level = height - 1
    shift = leaf_level * map_shift
    node = top
    stop: i64 = 0
    level: i64 = 0
    while level < leaf_level:
        offset = (idx >> shift) & mask
        if ((node.tags0 if t == 0 else node.tags1) & ~_bit(offset)) != 0:
            stop = level
        child = node.slots[offset]
        if child is None:
            return None
        node = child
        shift -= map_shift
        level += 1
    offset = idx & mask
    ret = node.items[offset]
    if ret is None:
        return None
    tag_clear(node, t, offset)
    if _any_tag_set(node, t):
        return ret
    # The leaf has no bit of the tag left: clear the slot's bit in the nodes above it, from
    # the deepest one that keeps another bit (or from the top) downward.
    shift = leaf_level * map_shift
    node = top
    level = 0
    while level < leaf_level:
        offset = (idx >> shift) & mask
        if level >= stop:
            tag_clear(node, t, offset)
        child = node.slots[offset]
        if child is None:
            raise KernelBug("radix_tree_tag_clear: slot == NULL on the second descent")
        node = child
        shift -= map_shift
        level += 1
    return ret


def radix_tree_tag_get(root: RadixTreeRoot, index: int, tag: int) -> int:
    """radix_tree_tag_get(): 1 if the item at ``index`` carries ``tag``, else 0.

    Compiled only for the user-space test harness in 2.6.6. BUG if a set leaf bit has a
    cleared bit in some ancestor.
    """
    idx = _index_check(index, "radix_tree_tag_get")
    t = _tag_check(tag, "radix_tree_tag_get")
    if idx > root.vl_maxindex:
        return 0
    height = root.height
    map_shift = root.map_shift
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    saw_unset_tag = False
    while height > 0:
        if node is None:
            return 0
        offset = (idx >> shift) & mask
        if not tag_get(node, t, offset):
            saw_unset_tag = True
        if height == 1:
            ret = tag_get(node, t, offset)
            bug_on(ret != 0 and saw_unset_tag, "radix_tree_tag_get: ret && saw_unset_tag")
            return int(ret)
        node = node.slots[offset]
        shift -= map_shift
        height -= 1
    return 0


def radix_tree_tagged(root: RadixTreeRoot, tag: int) -> int:
    """radix_tree_tagged(): 1 if any item in the tree carries ``tag``, else 0."""
    t = _tag_check(tag, "radix_tree_tagged")
    node = root.rnode
    if node is None:
        return 0
    return 1 if _any_tag_set(node, t) else 0
