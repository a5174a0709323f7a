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

Layout: this module holds the two structs, the node helpers, insert, lookup and delete;
radix_tree_tags.py the tree-level tag operations, radix_tree_gang.py the gang lookups,
radix_tree_state.py the whole-tree walks and the saved form, radix_tree_check.py the checker.
``kernelmodel.lib.radix_tree`` re-exports them all.

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
        ([index, tagmask] pairs). Nodes left behind by -ENOMEM are not recorded. The code is
        vl_radix_tree_save in radix_tree_state.py (imported here, when called, because that
        module builds on this one).
        """
        from kernelmodel.lib.radix_tree_state import vl_radix_tree_save

        return vl_radix_tree_save(self)

    @staticmethod
    def from_state(state: dict[str, object], items: list[object]) -> RadixTreeRoot:
        """Rebuild a tree from ``to_state`` output; ``items[k]`` goes at ``state["index"][k]``."""
        from kernelmodel.lib.radix_tree_state import vl_radix_tree_load

        return vl_radix_tree_load(state, items)

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


# --- Lookup ----------------------------------------------------------------------------------


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
        # The slot index goes through a local: mypyc then reads the list without taking a
        # reference to it (no refcount write to a line the walk would not otherwise dirty).
        offset = (idx >> shift) & mask
        node = node.slots[offset]
        shift -= map_shift
        height -= 1
    if node is None:
        return None
    offset = idx & mask
    return node.items[offset]



# --- Delete ----------------------------------------------------------------------------------


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
    offset = idx & mask
    path_node[depth] = node
    path_offset[depth] = offset
    return node.items[offset]


def _path_node(root: RadixTreeRoot, depth: i64) -> RadixTreeNode:
    """pathp[depth].node of the last _radix_tree_path() walk."""
    node = root.vl_path_node[depth]
    if node is None:
        raise KernelBug("radix_tree_path: NULL node on a filled path")
    return node


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
