"""Whole-tree walks and the saved form of the tagged radix tree (no kernel counterpart).

The walks list the items and their tag bits in index order; the saved form is the tree's
shape without its items (the owner stores those by index), and loading rebuilds the tree by
inserting the items, extending to the saved height and setting the tags. Nodes left behind by
an -ENOMEM insert are not recorded.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

from kernelmodel.lib.radix_tree_core import (
    _BIT,
    RADIX_TREE_TAGS,
    RadixTreeNode,
    RadixTreeRoot,
    _set_height,
    radix_tree_extend,
    radix_tree_insert,
    radix_tree_lookup,
    tag_get,
)
from kernelmodel.lib.radix_tree_tags import radix_tree_tag_set
from machine.state_read import read_int, read_int_list, read_int_pairs

#: What the loader's errors name.
_W: Final = "radix tree state"


def _vl_walk(root: RadixTreeRoot, leaves_only: bool) -> list[tuple[RadixTreeNode, int, int]]:
    """Return (node, level, first index) for every node, depth first in index order.

    Level 1 is a leaf. Iterative, with an explicit stack.
    """
    out: list[tuple[RadixTreeNode, int, int]] = []
    top = root.rnode
    if top is None or root.height == 0:
        return out
    map_shift = root.map_shift
    stack: list[tuple[RadixTreeNode, i64, i64]] = [(top, root.height, 0)]
    while stack:
        node, level, base = stack.pop()
        if level == 1 or not leaves_only:
            out.append((node, int(level), int(base)))
        if level == 1:
            continue
        step = _BIT[(level - 1) * map_shift]
        i = root.vl_map_size - 1
        while i >= 0:
            child = node.slots[i]
            if child is not None:
                stack.append((child, level - 1, base + i * step))
            i -= 1
    return out


def vl_radix_tree_items(root: RadixTreeRoot) -> list[tuple[int, object]]:
    """All (index, item) pairs in ascending index order (no kernel counterpart)."""
    out: list[tuple[int, object]] = []
    for leaf, _level, base in _vl_walk(root, True):
        for j in range(len(leaf.items)):
            item = leaf.items[j]
            if item is not None:
                out.append((base + j, item))
    return out


def vl_radix_tree_tag_bits(root: RadixTreeRoot) -> list[tuple[int, int]]:
    """(index, tagmask) for every tagged item, ascending; bit t of tagmask is tag t."""
    out: list[tuple[int, int]] = []
    for leaf, _level, base in _vl_walk(root, True):
        for j in range(len(leaf.items)):
            mask = tag_get(leaf, 0, j) | (tag_get(leaf, 1, j) << 1)
            if mask:
                out.append((base + j, int(mask)))
    return out



def vl_radix_tree_restore(
    root: RadixTreeRoot,
    height: int,
    items: list[tuple[int, object]],
    tagbits: list[tuple[int, int]],
) -> None:
    """Rebuild a tree of exactly ``height`` from vl_radix_tree_items/tag_bits output.

    Inserts every item, extends to the recorded height (a tree keeps its height after deletes),
    then sets the tags. Nodes left behind by -ENOMEM are not recreated.

    Caller: ``root`` is fresh (empty, height 0).
    """
    if root.rnode is not None or root.height != 0:
        raise ValueError("vl_radix_tree_restore: the root is not empty")
    if height < 0 or height >= len(root.vl_height_to_maxindex):
        raise ValueError(f"vl_radix_tree_restore: bad height {height}")
    if not items:
        if tagbits:
            raise ValueError("vl_radix_tree_restore: tags without items")
        _set_height(root, height)
        return
    for index, item in items:
        if radix_tree_insert(root, index, item) != 0:
            raise ValueError(f"vl_radix_tree_restore: cannot insert index {index}")
    if height < root.height:
        raise ValueError(f"vl_radix_tree_restore: height {height} too low for the items")
    if height > root.height:
        grow_to = root.vl_height_to_maxindex[height - 1] + 1
        if radix_tree_extend(root, grow_to) != 0:
            raise ValueError("vl_radix_tree_restore: -ENOMEM while extending")
    for index, mask in tagbits:
        if mask < 0 or mask >= 1 << RADIX_TREE_TAGS or radix_tree_lookup(root, index) is None:
            raise ValueError(f"vl_radix_tree_restore: bad tag entry ({index}, {mask})")
        for t in range(RADIX_TREE_TAGS):
            if (mask >> t) & 1:
                radix_tree_tag_set(root, index, t)


def vl_radix_tree_save(root: RadixTreeRoot) -> dict[str, object]:
    """RadixTreeRoot.to_state: the tree's shape without its items.

    Keys: map_shift, height, node_budget, nr_enomem, index (ascending), tags
    ([index, tagmask] pairs).
    """
    return {
        "map_shift": int(root.map_shift),
        "height": int(root.height),
        "node_budget": int(root.vl_node_budget),
        "nr_enomem": int(root.vl_nr_enomem),
        "index": [index for index, _item in vl_radix_tree_items(root)],
        "tags": [[index, mask] for index, mask in vl_radix_tree_tag_bits(root)],
    }


def vl_radix_tree_load(state: dict[str, object], items: list[object]) -> RadixTreeRoot:
    """RadixTreeRoot.from_state: rebuild a tree; ``items[k]`` goes at ``state["index"][k]``."""
    root = RadixTreeRoot(read_int(state, "map_shift", _W), read_int(state, "node_budget", _W))
    root.vl_nr_enomem = read_int(state, "nr_enomem", _W)
    indices = read_int_list(state, "index", _W)
    if len(indices) != len(items):
        raise ValueError("radix tree state: index and items differ in length")
    tagbits = list(read_int_pairs(state, "tags", _W).items())
    pairs = [(indices[k], items[k]) for k in range(len(items))]
    vl_radix_tree_restore(root, read_int(state, "height", _W), pairs, tagbits)
    return root
