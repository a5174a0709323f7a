"""The tagged radix tree (lib/radix-tree.c, include/linux/radix-tree.h, 2.6.6), whole.

The tree is in five modules, one concept each: radix_tree_core.py (the structs, the node
helpers, insert, lookup and delete; its docstring describes the tree and its invariants),
radix_tree_tags.py (tag set, clear, get, tagged), radix_tree_gang.py (gang lookups),
radix_tree_state.py (whole-tree walks and the saved form) and radix_tree_check.py (the
checker). This module re-exports their public names, so that callers import one path.
"""

from __future__ import annotations

from kernelmodel.lib.radix_tree_check import radix_tree_check
from kernelmodel.lib.radix_tree_core import (
    EEXIST,
    ENOMEM,
    RADIX_TREE_INDEX_BITS,
    RADIX_TREE_MAP_MASK,
    RADIX_TREE_MAP_SHIFT,
    RADIX_TREE_MAP_SIZE,
    RADIX_TREE_MAX_PATH,
    RADIX_TREE_TAG_LONGS,
    RADIX_TREE_TAGS,
    RadixTreeNode,
    RadixTreeRoot,
    radix_tree_delete,
    radix_tree_extend,
    radix_tree_insert,
    radix_tree_lookup,
    radix_tree_maxindex,
    radix_tree_node_alloc,
    radix_tree_node_free,
    tag_clear,
    tag_get,
    tag_set,
    vl_radix_tree_nodes_bytes,
)
from kernelmodel.lib.radix_tree_gang import (
    radix_tree_gang_lookup,
    radix_tree_gang_lookup_tag,
    vl_radix_tree_gang_lookup_indices,
    vl_radix_tree_gang_lookup_tag_indices,
)
from kernelmodel.lib.radix_tree_state import (
    vl_radix_tree_items,
    vl_radix_tree_load,
    vl_radix_tree_restore,
    vl_radix_tree_save,
    vl_radix_tree_tag_bits,
)
from kernelmodel.lib.radix_tree_tags import (
    radix_tree_tag_clear,
    radix_tree_tag_get,
    radix_tree_tag_set,
    radix_tree_tagged,
)

__all__ = [
    "RADIX_TREE_MAP_SHIFT",
    "RADIX_TREE_MAP_SIZE",
    "RADIX_TREE_MAP_MASK",
    "RADIX_TREE_TAGS",
    "RADIX_TREE_TAG_LONGS",
    "RADIX_TREE_INDEX_BITS",
    "RADIX_TREE_MAX_PATH",
    "EEXIST",
    "ENOMEM",
    "RadixTreeNode",
    "RadixTreeRoot",
    "radix_tree_maxindex",
    "tag_set",
    "tag_clear",
    "tag_get",
    "radix_tree_node_alloc",
    "radix_tree_node_free",
    "radix_tree_extend",
    "radix_tree_insert",
    "radix_tree_lookup",
    "radix_tree_tag_set",
    "radix_tree_tag_clear",
    "radix_tree_tag_get",
    "radix_tree_tagged",
    "radix_tree_delete",
    "radix_tree_gang_lookup",
    "radix_tree_gang_lookup_tag",
    "vl_radix_tree_gang_lookup_indices",
    "vl_radix_tree_gang_lookup_tag_indices",
    "vl_radix_tree_items",
    "vl_radix_tree_tag_bits",
    "vl_radix_tree_nodes_bytes",
    "vl_radix_tree_restore",
    "radix_tree_check",
    "vl_radix_tree_save",
    "vl_radix_tree_load",
]
