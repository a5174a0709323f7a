"""The checker of the tagged radix tree: invariants I1-I5 of radix_tree_core.py (no kernel
counterpart).

radix_tree_check walks every node (shape, counts, tag bits against the subtrees below), then
compares the gang lookups with a walk of the leaves. It raises KernelBug on the first
violation.
"""

from __future__ import annotations

from kernelmodel.include.bug import bug_on
from kernelmodel.lib.radix_tree_core import (
    _INDEX_MAX,
    RADIX_TREE_TAGS,
    RadixTreeNode,
    RadixTreeRoot,
    _any_tag_set,
)
from kernelmodel.lib.radix_tree_gang import (
    vl_radix_tree_gang_lookup_indices,
    vl_radix_tree_gang_lookup_tag_indices,
)
from kernelmodel.lib.radix_tree_state import _vl_walk, vl_radix_tree_items, vl_radix_tree_tag_bits
from kernelmodel.lib.radix_tree_tags import radix_tree_tagged


def _check_node(root: RadixTreeRoot, node: RadixTreeNode, level: int, base: int) -> None:
    """Check one node: shape, I2, I3, the tag bits (I1, locally) and the index range."""
    size = int(root.vl_map_size)
    leaf = level == 1
    bug_on(
        len(node.items) != (size if leaf else 0) or len(node.slots) != (0 if leaf else size),
        f"radix_tree_check: node at level {level} index {base} has the wrong slot lists",
    )
    used = [j for j in range(size) if (node.items[j] if leaf else node.slots[j]) is not None]
    bug_on(node.count != len(used), f"radix_tree_check: count {node.count} != {len(used)} (I2)")
    bug_on(
        node.count == 0 and root.vl_nr_enomem == 0,
        f"radix_tree_check: empty node at level {level} index {base} (I3)",
    )
    span = 1 << ((level - 1) * int(root.map_shift))
    bug_on(
        bool(used) and base + used[-1] * span > _INDEX_MAX,
        "radix_tree_check: slot beyond the 32-bit index space",
    )
    for t in range(RADIX_TREE_TAGS):
        bits = node.vl_tags(t)
        bug_on(bits >> size != 0, f"radix_tree_check: tag {t} bits beyond map size")
        for j in range(size):
            if leaf:
                want = bool((bits >> j) & 1) and node.items[j] is None
                bug_on(want, f"radix_tree_check: tag {t} on empty leaf slot {base + j} (I1)")
                continue
            child = node.slots[j]
            below = child is not None and _any_tag_set(child, t)
            bug_on(
                bool((bits >> j) & 1) != below,
                f"radix_tree_check: interior tag {t} slot {j} at level {level} "
                f"index {base} disagrees with its subtree (I1)",
            )


def _check_root(root: RadixTreeRoot) -> None:
    """Check the root fields against each other."""
    bug_on(
        root.height < 0 or root.height >= len(root.vl_height_to_maxindex),
        f"radix_tree_check: height {root.height} out of range",
    )
    bug_on(
        root.vl_maxindex != root.vl_height_to_maxindex[root.height],
        "radix_tree_check: cached maxindex disagrees with height",
    )
    bug_on(root.rnode is not None and root.height == 0, "radix_tree_check: rnode at height 0")
    bug_on(
        root.rnode is None and root.height != 0 and root.vl_nr_enomem == 0,
        "radix_tree_check: empty tree with height != 0",
    )


def radix_tree_check(root: RadixTreeRoot) -> None:
    """Verify invariants I1-I5 and the node count; raise KernelBug on the first violation."""
    _check_root(root)
    walk = _vl_walk(root, False)
    bug_on(
        len(walk) != root.nr_nodes,
        f"radix_tree_check: nr_nodes {root.nr_nodes} != {len(walk)} reachable",
    )
    if root.rnode is None:
        return  # nothing to walk; gang lookups would oops on a NULL rnode at height > 0
    for node, level, base in walk:
        _check_node(root, node, level, base)
    present = [index for index, _item in vl_radix_tree_items(root)]
    tagbits = vl_radix_tree_tag_bits(root)
    n = len(present) + 1
    got = vl_radix_tree_gang_lookup_indices(root, 0, n)
    bug_on(got != present, "radix_tree_check: gang lookup disagrees with the leaves (I4)")
    for t in range(RADIX_TREE_TAGS):
        tagged = [index for index, mask in tagbits if (mask >> t) & 1]
        got = vl_radix_tree_gang_lookup_tag_indices(root, 0, n, t)
        bug_on(got != tagged, f"radix_tree_check: gang lookup tag {t} disagrees (I4)")
        bug_on(
            radix_tree_tagged(root, t) != (1 if tagged else 0),
            f"radix_tree_check: radix_tree_tagged({t}) wrong (I5)",
        )
    for k in range(1, len(present)):
        bug_on(present[k - 1] >= present[k], "radix_tree_check: indices not ascending (I4)")
