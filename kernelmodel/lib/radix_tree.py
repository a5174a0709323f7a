"""Tagged radix tree (lib/radix-tree.c, include/linux/radix-tree.h, 2.6.6).

The page cache keys pages by file offset in one tree per address_space. A tree of height *h*
covers indices 0 .. height_to_maxindex[h]; each node has 2**map_shift slots (64 in the kernel,
the user-space test build uses 8) and, per tag, a bitmap with one bit per slot. Items live
only in leaf slots (height 1): in 2.6.6 even index 0 gets a height-1 node. In a leaf, tag bit
*t* of slot *i* says "this item carries tag *t*"; in an interior node it says "some item under
slot *i* carries tag *t*". Insert grows the tree by pushing new roots (propagating "any tag in
the old root" into slot 0); delete frees emptied nodes but never lowers the height, except back
to 0 when the last item goes. Walks are iterative; delete keeps an explicit path list, as
radix-tree.c keeps radix_tree_path arrays on the stack, and tag_clear descends twice instead
(see radix_tree_tag_clear).

Model simplifications:
  * A node keeps child pointers (``slots``, interior nodes) and items (``items``, leaves) in
    separate typed lists; a node's level is fixed for its life, so one of them is always empty.
  * The two tag bitmaps of a node (``tags[tag][0..TAG_LONGS-1]`` in C) are the i64 fields
    ``tags0`` and ``tags1``; bit 63 is stored as the sign bit. Masks come from ``_bit``, which
    shifts a computed i64 one because mypyc miscompiles ``i64(1) << n`` for n >= 31.
  * No gfp_mask, slab or per-CPU preload pool: allocation always succeeds unless the root has a
    node budget (``vl_node_budget``), which models -ENOMEM.
  * The root counts its nodes (``nr_nodes``) for the UI and the memory figures.
  * Indices outside 0 .. 2**32-1 (which an i386 unsigned long cannot hold), bad tags and None
    items are rejected with ValueError at the API boundary.

Invariants (checked by radix_tree_check):
  I1  an interior tag bit t for slot i is set iff the subtree under slot i holds an item with
      tag t; a leaf tag bit is set only on a present item;
  I2  count equals the number of non-NULL slots;
  I3  no node has count 0, except nodes left behind by an -ENOMEM insert;
  I4  gang lookups return strictly ascending indices and agree with a walk of the leaves;
  I5  radix_tree_tagged(t) iff some item carries t.

Lock ordering: none inside. Every function expects the caller to hold the lock protecting the
tree (for the page cache, mapping->tree_lock); the model itself has no concurrency.

Hot paths raise KernelBug directly where bug_on would need a second None test for the type
checker; the message keeps the "function: condition" form.
"""

from __future__ import annotations

from typing import Final, final

from mypy_extensions import i64

from kernelmodel.include.bug import KernelBug, bug_on

RADIX_TREE_MAP_SHIFT: Final = 6
RADIX_TREE_MAP_SIZE: Final = 64
RADIX_TREE_MAP_MASK: Final = 63
RADIX_TREE_TAGS: Final = 2
RADIX_TREE_TAG_LONGS: Final = 2
RADIX_TREE_INDEX_BITS: Final = 32
RADIX_TREE_MAX_PATH: Final = 7

#: errno values of include/asm-generic/errno-base.h (the model returns -EEXIST / -ENOMEM).
EEXIST: Final = 17
ENOMEM: Final = 12

#: ~0UL on i386: the largest index.
_INDEX_MAX: Final = 0xFFFFFFFF
#: map_shift range the model supports (a 64-slot bitmap must fit one i64).
_MIN_MAP_SHIFT: Final = 1
_MAX_MAP_SHIFT: Final = 6
#: i386 sizes: unsigned int count, one 4-byte pointer per slot, 4-byte tag words.
_SIZEOF_COUNT: Final = 4
_SIZEOF_POINTER: Final = 4
_SIZEOF_LONG: Final = 4


def _build_bit_table() -> list[i64]:
    """Return the masks 1 << n for n in 0..63 as signed i64 values (bit 63 is -2**63).

    Built with Python int arithmetic because mypyc emits ``i64(1) << n`` as a 32-bit C shift.
    """
    table: list[i64] = []
    value: int = 1
    for _ in range(64):
        table.append(value if value < 0x8000000000000000 else value - 0x10000000000000000)
        value = value + value
    return table


_BIT: Final = _build_bit_table()


@final
class RadixTreeNode:
    """struct radix_tree_node (lib/radix-tree.c).

    Attributes:
        count: number of non-NULL slots.
        slots: child nodes of an interior node (empty list in a leaf).
        items: items of a leaf (empty list in an interior node); None means NULL.
        tags0: tag 0 bitmap, bit i for slot i (i64; bit 63 is the sign bit).
        tags1: tag 1 bitmap.
    """

    def __init__(self, map_size: int, leaf: bool) -> None:
        self.count: i64 = 0
        self.slots: list[RadixTreeNode | None] = [] if leaf else [None] * map_size
        self.items: list[object] = [None] * map_size if leaf else []
        self.tags0: i64 = 0
        self.tags1: i64 = 0

    def vl_tags(self, tag: int) -> int:
        """Return the tag bitmap as an unsigned int (no kernel counterpart)."""
        bits: int = self.tags0 if tag == 0 else self.tags1
        return bits if bits >= 0 else bits + 0x10000000000000000

    def __repr__(self) -> str:
        kind = "leaf" if self.items else "interior"
        return (
            f"<radix_tree_node {kind} count={self.count} "
            f"tags0={self.vl_tags(0):#x} tags1={self.vl_tags(1):#x}>"
        )


@final
class RadixTreeRoot:
    """struct radix_tree_root (include/linux/radix-tree.h).

    Attributes:
        height: tree height; 0 when empty.
        rnode: the top node, or None.
        map_shift: log2 of the slots per node (6 in the kernel, 3 in the user-space build).
        nr_nodes: nodes currently allocated to this tree.
        vl_map_size, vl_map_mask: 2**map_shift and 2**map_shift - 1.
        vl_height_to_maxindex: the kernel's height_to_maxindex table for this map_shift.
        vl_maxindex: height_to_maxindex[height], cached.
        vl_node_budget: node allocations fail (-ENOMEM) once nr_nodes reaches it; -1 = never.
        vl_nr_enomem: how many times an allocation failed.
        vl_path_node, vl_path_offset: scratch radix_tree_path arrays for delete
            (C keeps them on the stack); not part of the tree's state.
    """

    def __init__(self, map_shift: int = RADIX_TREE_MAP_SHIFT, node_budget: int = -1) -> None:
        if map_shift < _MIN_MAP_SHIFT or map_shift > _MAX_MAP_SHIFT:
            raise ValueError(f"radix tree map_shift {map_shift} outside 1..6")
        size: int = 1 << map_shift
        max_path = RADIX_TREE_INDEX_BITS // map_shift + 2
        self.height: i64 = 0
        self.rnode: RadixTreeNode | None = None
        self.map_shift: i64 = map_shift
        self.nr_nodes: i64 = 0
        self.vl_map_size: i64 = size
        self.vl_map_mask: i64 = size - 1
        self.vl_height_to_maxindex: list[int] = [
            radix_tree_maxindex(h, map_shift) for h in range(max_path)
        ]
        self.vl_maxindex: i64 = 0
        self.vl_node_budget: i64 = node_budget
        self.vl_nr_enomem: i64 = 0
        self.vl_path_node: list[RadixTreeNode | None] = [None] * max_path
        self.vl_path_offset: list[i64] = [0] * max_path

    def __repr__(self) -> str:
        return (
            f"<radix_tree_root height={self.height} nr_nodes={self.nr_nodes} "
            f"map_shift={self.map_shift} rnode={'NULL' if self.rnode is None else 'node'}>"
        )

    def to_state(self) -> dict[str, object]:
        """Return the tree's shape without its items, which the owner stores by index.

        Keys: map_shift, height, node_budget, nr_enomem, index (ascending), tags
        ([index, tagmask] pairs). Nodes left behind by -ENOMEM are not recorded.
        """
        return {
            "map_shift": int(self.map_shift),
            "height": int(self.height),
            "node_budget": int(self.vl_node_budget),
            "nr_enomem": int(self.vl_nr_enomem),
            "index": [index for index, _item in vl_radix_tree_items(self)],
            "tags": [[index, mask] for index, mask in vl_radix_tree_tag_bits(self)],
        }

    @staticmethod
    def from_state(state: dict[str, object], items: list[object]) -> RadixTreeRoot:
        """Rebuild a tree from ``to_state`` output; ``items[k]`` goes at ``state["index"][k]``."""
        root = RadixTreeRoot(_state_int(state, "map_shift"), _state_int(state, "node_budget"))
        root.vl_nr_enomem = _state_int(state, "nr_enomem")
        indices = _state_int_list(state, "index")
        if len(indices) != len(items):
            raise ValueError("radix tree state: index and items differ in length")
        tagbits: list[tuple[int, int]] = []
        for pair in _state_list(state, "tags"):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("radix tree state: tags entries must be [index, mask]")
            tagbits.append((_as_int(pair[0]), _as_int(pair[1])))
        pairs = [(indices[k], items[k]) for k in range(len(items))]
        vl_radix_tree_restore(root, _state_int(state, "height"), pairs, tagbits)
        return root


# --- Boundary checks and small helpers -----------------------------------------------------


def _index_check(index: int, what: str) -> i64:
    """Return ``index`` as i64, or raise ValueError if an unsigned long cannot hold it."""
    if index < 0 or index > _INDEX_MAX:
        raise ValueError(f"{what}: index {index} outside 0..2**32-1")
    return index


def _tag_check(tag: int, what: str) -> i64:
    """Return ``tag`` as i64, or raise ValueError unless 0 <= tag < RADIX_TREE_TAGS."""
    if tag < 0 or tag >= RADIX_TREE_TAGS:
        raise ValueError(f"{what}: tag {tag} outside 0..{RADIX_TREE_TAGS - 1}")
    return tag


def _set_height(root: RadixTreeRoot, height: i64) -> None:
    """Set root->height and the cached height_to_maxindex[height]."""
    root.height = height
    root.vl_maxindex = root.vl_height_to_maxindex[height]


def radix_tree_maxindex(height: int, map_shift: int = RADIX_TREE_MAP_SHIFT) -> int:
    """height_to_maxindex[height], as built at boot by __maxindex().

    All ones in the low ``map_shift * height`` bits, or ~0UL once that reaches 32.
    """
    if height < 0 or map_shift < 1:
        raise ValueError(f"radix_tree_maxindex: bad height {height} or map_shift {map_shift}")
    width = height * map_shift
    if width >= RADIX_TREE_INDEX_BITS:
        return _INDEX_MAX
    return (1 << width) - 1


def _bit(offset: i64) -> i64:
    """The mask 1 << offset (0 <= offset < 64) as an i64; bit 63 is -2**63.

    ``one`` is computed from ``offset`` so that mypyc cannot fold it into the 32-bit C
    literal it would shift (see the module docstring); bit 63 comes from the table, since
    an unbounded Python int would not wrap to the sign bit.
    """
    if offset == 63:
        return _BIT[63]
    one: i64 = offset - offset + 1
    return one << offset


def tag_set(node: RadixTreeNode, tag: i64, offset: i64) -> None:
    """tag_set(): set bit ``offset`` of the node's ``tag`` bitmap."""
    if tag == 0:
        node.tags0 |= _bit(offset)
    else:
        node.tags1 |= _bit(offset)


def tag_clear(node: RadixTreeNode, tag: i64, offset: i64) -> None:
    """tag_clear(): clear bit ``offset`` of the node's ``tag`` bitmap."""
    if tag == 0:
        node.tags0 &= ~_bit(offset)
    else:
        node.tags1 &= ~_bit(offset)


def tag_get(node: RadixTreeNode, tag: i64, offset: i64) -> i64:
    """tag_get(): return bit ``offset`` of the node's ``tag`` bitmap (0 or 1)."""
    bits = node.tags0 if tag == 0 else node.tags1
    return (bits >> offset) & 1


def _any_tag_set(node: RadixTreeNode, tag: i64) -> bool:
    """The 2.6.6 inline loop "any of node->tags[tag][0..TAG_LONGS-1] non-zero"."""
    return (node.tags0 if tag == 0 else node.tags1) != 0


def radix_tree_node_alloc(root: RadixTreeRoot, leaf: bool) -> RadixTreeNode | None:
    """radix_tree_node_alloc(): a zeroed node, or None when the node budget is spent.

    The model has no slab or preload pool; ``leaf`` says which slot list the node needs.
    """
    if root.vl_node_budget >= 0 and root.nr_nodes >= root.vl_node_budget:
        root.vl_nr_enomem += 1
        return None
    root.nr_nodes += 1
    return RadixTreeNode(root.vl_map_size, leaf)


def radix_tree_node_free(root: RadixTreeRoot, node: RadixTreeNode) -> None:
    """radix_tree_node_free(): give a node back (the model only counts it).

    Caller: the node is empty (count 0, no tag bits) and unlinked.
    """
    bug_on(node.count != 0, "radix_tree_node_free: count != 0")
    root.nr_nodes -= 1


# --- Insert ----------------------------------------------------------------------------------


def radix_tree_extend(root: RadixTreeRoot, index: i64) -> int:
    """radix_tree_extend(): grow the tree until ``index`` fits.

    An empty tree only gets its new height; otherwise one new root per level is pushed, holding
    the old root in slot 0 with the old root's "any tag set" propagated to slot 0.

    Returns:
        0, or -ENOMEM (levels pushed so far stay).
    """
    height: i64 = root.height + 1
    table = root.vl_height_to_maxindex
    # Only an empty tree left at the top height by -ENOMEM can get here with nothing to add;
    # the C code then reads past height_to_maxindex[].
    bug_on(height >= len(table), "radix_tree_extend: height beyond RADIX_TREE_MAX_PATH")
    while index > table[height]:
        height += 1
    old = root.rnode
    if old is None:
        _set_height(root, height)
        return 0
    had0 = _any_tag_set(old, 0)
    had1 = _any_tag_set(old, 1)
    while True:
        node = radix_tree_node_alloc(root, False)
        if node is None:
            return -ENOMEM
        node.slots[0] = root.rnode
        if had0:
            tag_set(node, 0, 0)
        if had1:
            tag_set(node, 1, 0)
        node.count = 1
        root.rnode = node
        _set_height(root, root.height + 1)
        if height <= root.height:
            return 0


def radix_tree_insert(root: RadixTreeRoot, index: int, item: object) -> int:
    """radix_tree_insert(): store ``item`` at ``index``.

    Missing nodes on the path are created; a failed allocation leaves those already made.

    Returns:
        0, -EEXIST if the slot is occupied, or -ENOMEM.
    Caller: holds the tree lock; ``item`` is not None.
    """
    idx = _index_check(index, "radix_tree_insert")
    if item is None:
        raise ValueError("radix_tree_insert: item must not be None (NULL means absent)")
    if (idx == 0 and root.rnode is None) or idx > root.vl_maxindex:
        error = radix_tree_extend(root, idx)
        if error:
            return error
    height = root.height
    map_shift = root.map_shift
    mask = root.vl_map_mask
    node = root.rnode
    if node is None:
        node = radix_tree_node_alloc(root, height == 1)
        if node is None:
            return -ENOMEM
        root.rnode = node
    shift = (height - 1) * map_shift
    while height > 1:
        offset = (idx >> shift) & mask
        child = node.slots[offset]
        if child is None:
            child = radix_tree_node_alloc(root, height == 2)
            if child is None:
                return -ENOMEM
            node.slots[offset] = child
            node.count += 1
        node = child
        shift -= map_shift
        height -= 1
    offset = idx & mask
    if node.items[offset] is not None:
        return -EEXIST
    node.count += 1
    if ((node.tags0 | node.tags1) >> offset) & 1:  # BUG_ON(tag_get(node, 0 and 1, offset))
        raise KernelBug("radix_tree_insert: tag set on an empty slot")
    node.items[offset] = item
    return 0


# --- Lookup and tags ------------------------------------------------------------------------


def radix_tree_lookup(root: RadixTreeRoot, index: int) -> object | None:
    """radix_tree_lookup(): the item at ``index``, or None.

    Caller: holds the tree lock.
    """
    idx = _index_check(index, "radix_tree_lookup")
    if idx > root.vl_maxindex:
        return None
    height = root.height
    map_shift = root.map_shift
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    while height > 1:
        if node is None:
            return None
        node = node.slots[(idx >> shift) & mask]
        shift -= map_shift
        height -= 1
    if node is None:
        return None
    return node.items[idx & mask]


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


def _radix_tree_path(root: RadixTreeRoot, idx: i64) -> object | None:
    """Fill the root's radix_tree_path arrays for ``idx``; return the leaf item or None.

    The descent of radix_tree_delete(). On success
    ``vl_path_node[k]`` / ``vl_path_offset[k]`` hold the node at depth k (0 = rnode) and the
    slot taken in it, for k < height. (C keeps the path on the stack; the model reuses two
    per-root lists so that no allocation happens per call.)
    Caller: ``idx <= root.vl_maxindex``.
    """
    height = root.height
    map_shift = root.map_shift
    mask = root.vl_map_mask
    shift = (height - 1) * map_shift
    node = root.rnode
    if height == 0 or node is None:
        return None
    path_node = root.vl_path_node
    path_offset = root.vl_path_offset
    depth: i64 = 0
    while height > 1:
        offset = (idx >> shift) & mask
        path_node[depth] = node
        path_offset[depth] = offset
        child = node.slots[offset]
        if child is None:
            return None
        node = child
        depth += 1
        shift -= map_shift
        height -= 1
    path_node[depth] = node
    path_offset[depth] = idx & mask
    return node.items[idx & mask]


def _path_node(root: RadixTreeRoot, depth: i64) -> RadixTreeNode:
    """pathp[depth].node of the last _radix_tree_path() walk."""
    node = root.vl_path_node[depth]
    if node is None:
        raise KernelBug("radix_tree_path: NULL node on a filled path")
    return node


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


# --- Delete ----------------------------------------------------------------------------------


def _delete_clear_tags(root: RadixTreeRoot) -> None:
    """The tag-clearing loop of radix_tree_delete() (2.6.6 form, with nr_cleared_tags).

    Each tag is cleared upward until the first node that still has a bit of it; the walk ends
    when both tags stopped at the same level or the top is passed.
    Caller: _radix_tree_path() found the item.
    """
    stopped0 = False
    stopped1 = False
    p = root.height - 1
    while True:
        nr_cleared_tags = RADIX_TREE_TAGS
        node = _path_node(root, p)
        offset = root.vl_path_offset[p]
        if not stopped0:
            tag_clear(node, 0, offset)
            if _any_tag_set(node, 0):
                stopped0 = True
                nr_cleared_tags -= 1
        if not stopped1:
            tag_clear(node, 1, offset)
            if _any_tag_set(node, 1):
                stopped1 = True
                nr_cleared_tags -= 1
        p -= 1
        if p < 0 or nr_cleared_tags == 0:
            return


def radix_tree_delete(root: RadixTreeRoot, index: int) -> object | None:
    """radix_tree_delete(): remove and return the item at ``index`` (None if absent).

    Clears both tags upward, NULLs the slot, and frees each node whose count drops to 0.
    The height is not reduced unless the tree becomes empty (height 0).

    Caller: holds the tree lock.
    """
    idx = _index_check(index, "radix_tree_delete")
    if idx > root.vl_maxindex:
        return None
    ret = _radix_tree_path(root, idx)
    if ret is None:
        return None
    _delete_clear_tags(root)
    offsets = root.vl_path_offset
    p = root.height - 1
    _path_node(root, p).items[offsets[p]] = None
    while p >= 0:
        node = _path_node(root, p)
        node.count -= 1
        if node.count != 0:
            break
        if p == 0:
            bug_on(root.rnode is None, "radix_tree_delete: *pathp[0].slot == NULL")
            root.rnode = None
        else:
            parent = _path_node(root, p - 1)
            bug_on(parent.slots[offsets[p - 1]] is None, "radix_tree_delete: slot == NULL")
            parent.slots[offsets[p - 1]] = None
        radix_tree_node_free(root, node)
        p -= 1
    if root.rnode is None:
        _set_height(root, 0)
    return ret


# --- Gang lookups ----------------------------------------------------------------------------


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


# --- Whole-tree helpers: walks, memory, snapshot, checker (no kernel counterparts) ------------


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


def vl_radix_tree_nodes_bytes(root: RadixTreeRoot, tagged: bool = True) -> int:
    """Memory held by the tree's nodes on i386 (no kernel counterpart).

    sizeof(struct radix_tree_node): count + slots + (if ``tagged``) the tag words; 276 bytes
    for the 2.6.6 node with map_shift 6, 260 for the untagged 2.6.5 node.
    """
    size = int(root.vl_map_size)
    node = _SIZEOF_COUNT + _SIZEOF_POINTER * size
    if tagged:
        node += _SIZEOF_LONG * RADIX_TREE_TAGS * ((size + 31) // 32)
    return int(root.nr_nodes) * node


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


def _as_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"radix tree state: expected an int, got {value!r}")
    return value


def _state_int(state: dict[str, object], key: str) -> int:
    return _as_int(state.get(key))


def _state_list(state: dict[str, object], key: str) -> list[object]:
    value = state.get(key)
    if not isinstance(value, list):
        raise ValueError(f"radix tree state: {key} must be a list")
    return value


def _state_int_list(state: dict[str, object], key: str) -> list[int]:
    return [_as_int(v) for v in _state_list(state, key)]


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
