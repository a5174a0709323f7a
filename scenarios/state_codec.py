"""The state encoding: a ``to_state()`` tree as msgpack, hashed and encoded in one walk.

Snapshot files (scenarios/snapshot/), the in-memory checkpoints of going back
(scenarios/timeline.py) and ``Session.state_hash`` all take a state through here, so it sits
below all three: it knows nothing of files, sessions or scenarios.

Large homogeneous lists are stored columnar, as msgpack ext types (one per list, never one
per object): ext 1 a list of ints (a width byte 1/2/4/8, then little-endian signed values),
ext 2 a list of short byte strings of one length (u32 length, then the strings back to
back), ext 3 a list of equal-length int lists (a row-length byte, then an ext-1 body of the
rows flattened). Decoding turns them back into lists, so the state is hashed exactly as
``vmlab run`` hashes it. Writing walks the state once (``StateWriter``) into two lists of
pieces, the plain msgpack (what SHA-256 sees: ``scenarios.state.state_hash``) and the
encoding; the large byte strings (RAM frames, disk chunks, oracle pages) are never copied.
Decoding trusts nothing: msgpack runs with explicit limits sized from the data,
``strict_map_key`` and ``raw=False``, with the garbage collector off, and the tree is then
walked (iteratively) for depth and types before any field is used.
"""

from __future__ import annotations

import gc
import hashlib
import struct
import sys
from array import array
from itertools import chain
from typing import Final

import msgpack

from machine.borrowed import BorrowedBytes

#: Ext type codes of the columnar encodings.
EXT_INTS: Final = 1
EXT_BYTES: Final = 2
EXT_ROWS: Final = 3
#: Lists shorter than this stay plain msgpack arrays.
COLUMN_MIN: Final = 8
#: Widest row an ext-3 list holds.
ROW_MAX: Final = 8
_INT_CODES: Final = {1: "b", 2: "h", 4: "i", 8: "q"}
I64_MIN: Final = -(1 << 63)
I64_MAX: Final = (1 << 63) - 1

#: Deepest nesting a decoded tree may have (the kernel state nests about a dozen levels).
MAX_DEPTH: Final = 48


def _pack_ints(values: list[int]) -> bytes | None:
    """A width byte and the values as little-endian signed ints; None outside i64.

    The width is the narrowest that holds every value: each width is tried in turn, and the
    array constructor gives up at the first value that does not fit (one C pass over most
    columns, where a ``min`` and a ``max`` would take two).
    """
    for width in (1, 2, 4, 8):
        try:
            arr = array(_INT_CODES[width], values)
        except OverflowError:
            continue
        if arr.itemsize != width:  # pragma: no cover - every CPython platform has these sizes
            raise ValueError(f"array item size {arr.itemsize} is not {width}")
        if sys.byteorder == "big":  # pragma: no cover - little-endian hosts
            arr.byteswap()
        return bytes([width]) + arr.tobytes()
    return None


def _unpack_ints(data: bytes) -> list[int]:
    if not data:
        raise ValueError("empty int column")
    width = data[0]
    code = _INT_CODES.get(width)
    if code is None or (len(data) - 1) % width:
        raise ValueError(f"bad int column (width {width}, {len(data) - 1} bytes)")
    arr = array(code)
    arr.frombytes(data[1:])
    if sys.byteorder == "big":  # pragma: no cover - little-endian hosts
        arr.byteswap()
    return arr.tolist()


def _columnize(values: list[object] | tuple[object, ...],
               types: set[type] | None = None) -> msgpack.ExtType | None:
    """The columnar ext type of a long homogeneous list, or None to keep it an array
    (``types``: the item types, when the caller has them)."""
    if len(values) < COLUMN_MIN:
        return None
    types = set(map(type, values)) if types is None else set(types)
    if len(types) != 1:
        return None
    kind = types.pop()
    if kind is int:
        packed = _pack_ints(values)  # type: ignore[arg-type]
        return None if packed is None else msgpack.ExtType(EXT_INTS, packed)
    if kind is bytes:
        lengths = set(map(len, values))  # type: ignore[arg-type]
        size = lengths.pop() if len(lengths) == 1 else 0
        if size <= 0:
            return None
        return msgpack.ExtType(EXT_BYTES, struct.pack("<I", size) + b"".join(values))  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        lengths = set(map(len, values))  # type: ignore[arg-type]
        width = lengths.pop() if len(lengths) == 1 else 0
        if width < 1 or width > ROW_MAX:
            return None
        flat: list[object] = list(chain.from_iterable(values))  # type: ignore[arg-type]
        if set(map(type, flat)) != {int}:
            return None
        packed = _pack_ints(flat)  # type: ignore[arg-type]
        return None if packed is None else msgpack.ExtType(EXT_ROWS, bytes([width]) + packed)
    return None


def ext_hook(code: int, data: bytes) -> object:
    """msgpack ``ext_hook``: the columnar ext types back to lists (ValueError otherwise)."""
    if code == EXT_INTS:
        return _unpack_ints(data)
    if code == EXT_BYTES:
        if len(data) < 4:
            raise ValueError("bad bytes column")
        (size,) = struct.unpack_from("<I", data)
        body = data[4:]
        if size == 0 or len(body) % size:
            raise ValueError(f"bad bytes column ({len(body)} bytes of items of {size})")
        return [body[i : i + size] for i in range(0, len(body), size)]
    if code == EXT_ROWS:
        if len(data) < 2:
            raise ValueError("bad row column")
        width = data[0]
        flat = _unpack_ints(data[1:])
        if width < 1 or width > ROW_MAX or len(flat) % width:
            raise ValueError(f"bad row column (rows of {width}, {len(flat)} values)")
        return [flat[i : i + width] for i in range(0, len(flat), width)]
    raise ValueError(f"unknown ext type {code}")


#: The plain values a snapshot holds.
_SCALAR_TYPES: Final = frozenset({type(None), bool, int, str, bytes})

#: Container types of a list of rows.
_ROW_TYPES: Final = frozenset({list, tuple})

#: Byte strings at least this long are handed to the hash and the compressor as they are.
_BIG_BYTES: Final = 4096
#: A piece of packed output: msgpack bytes, or a large byte string as it is.
Piece = bytes | bytearray | memoryview


def map_header(n: int) -> bytes:
    if n <= 15:
        return bytes([0x80 | n])
    if n <= 0xFFFF:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def _array_header(n: int) -> bytes:
    if n <= 15:
        return bytes([0x90 | n])
    if n <= 0xFFFF:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _bin_header(n: int) -> bytes:
    if n <= 0xFF:
        return b"\xc4" + bytes([n])
    if n <= 0xFFFF:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


class StateWriter:
    """Packs a tree in one walk into two forms at once, without building either whole.

    * the plain msgpack of ``msgpack.packb(tree, use_bin_type=True)``, fed to SHA-256 while
      ``hashing``: the state hash of scenarios.state, computed piece by piece (or, with
      ``defer_hash``, kept as a list of pieces in ``plain`` for ``hash_deferred``);
    * the snapshot's encoding (long homogeneous lists as columnar ext types), kept as a list
      of pieces for the compressor while ``encoding``.

    Large byte strings (RAM frames, disk chunks, oracle pages; the pieces of a
    ``BorrowedBytes``, machine/borrowed.py) go to both as they are, never copied. Containers
    are walked iteratively; lists of plain values are packed by msgpack.
    """

    def __init__(self, hashing: bool, encoding: bool, defer_hash: bool = False) -> None:
        self.hashing = hashing
        self.encoding = encoding
        self.defer_hash = defer_hash
        self.sha = hashlib.sha256()
        self.plain: list[Piece] = []
        self.pieces: list[Piece] = []
        self.size = 0
        #: id of a byte string (or BorrowedBytes) of the tree -> the pieces the encoded form
        #: holds instead (a compact snapshot's described pages; the hash sees the bytes)
        self.subst: dict[int, list[Piece]] = {}
        #: one packer for the walk: ``msgpack.packb`` makes a packer, and its buffer, per call
        self._pack = msgpack.Packer(use_bin_type=True).pack

    def _big(self, v: bytes | BorrowedBytes) -> None:
        """A large byte string: its bytes to the hash, its substitute (if any) to the file."""
        parts: list[Piece] = [v] if type(v) is bytes else list(v.parts)  # type: ignore[union-attr]
        instead = self.subst.get(id(v))
        if instead is None:
            # the pieces as they are, to both forms (the disk lends 40k chunks at once)
            if self.hashing:
                if self.defer_hash:
                    self.plain.extend(parts)
                else:
                    for part in parts:
                        self.sha.update(part)
            if self.encoding:
                self.pieces.extend(parts)
                self.size += sum(map(len, parts))
            return
        if self.hashing:
            for part in parts:
                if self.defer_hash:
                    self.plain.append(part)
                else:
                    self.sha.update(part)
        if self.encoding:
            for piece in instead:
                self.pieces.append(piece)
                self.size += len(piece)

    def _out(self, plain: Piece, encoded: bytes | None = None) -> None:
        if self.hashing:
            if self.defer_hash:
                self.plain.append(plain)
            else:
                self.sha.update(plain)
        if self.encoding:
            piece = plain if encoded is None else encoded
            self.pieces.append(piece)
            self.size += len(piece)

    def raw(self, piece: bytes) -> None:
        """Bytes of the encoded form only (the snapshot map's own header and keys)."""
        self.pieces.append(piece)
        self.size += len(piece)

    def value(self, root: object) -> None:
        """Pack ``root`` (dicts, lists, tuples, ints, str, bytes, bools, None)."""
        stack: list[tuple[list[object], int]] = []
        self._one(root, stack)
        while stack:
            items, i = stack[-1]
            if i >= len(items):
                stack.pop()
                continue
            stack[-1] = (items, i + 1)
            self._one(items[i], stack)

    def _one(self, v: object, stack: list[tuple[list[object], int]]) -> None:
        if isinstance(v, dict):
            self._out(map_header(len(v)))
            flat: list[object] = []
            for key, item in v.items():
                flat.append(key)
                flat.append(item)
            stack.append((flat, 0))
        elif isinstance(v, (list, tuple)):
            self._sequence(v, stack)
        elif type(v) is bytes and len(v) >= _BIG_BYTES:
            self._out(_bin_header(len(v)))
            self._big(v)
        elif type(v) is BorrowedBytes:
            # lent by the live machine: packed as the bytes it stands for, never copied
            self._out(_bin_header(v.nbytes))
            self._big(v)
        else:
            self._out(self._pack(v))

    def _sequence(self, v: list[object] | tuple[object, ...],
                  stack: list[tuple[list[object], int]]) -> None:
        types = set(map(type, v))
        big = bytes in types and max(len(x) for x in v if type(x) is bytes) >= _BIG_BYTES
        if big and len(types) == 1:
            self._pages(v)  # type: ignore[arg-type]
            return
        if not big and not self.encoding and types <= _ROW_TYPES and \
                set(map(type, chain.from_iterable(v))) <= _SCALAR_TYPES:  # type: ignore[arg-type]
            # rows of plain values, only hashed: msgpack packs them as the walk would, at once
            self._out(self._pack(v))
            return
        if big or not types <= _SCALAR_TYPES:
            # containers, or pages of bytes: walk the items (large strings are not copied)
            ext = None if big or not self.encoding else _columnize(v, types)
            if ext is None:
                self._out(_array_header(len(v)))
                stack.append((list(v), 0))
                return
        else:
            ext = _columnize(v, types) if self.encoding else None
        if ext is not None:
            plain = self._pack(v) if self.hashing else b""
            self._out(plain, self._pack(ext))
        else:
            self._out(self._pack(v))

    def _pages(self, v: list[bytes] | tuple[bytes, ...]) -> None:
        """A list of byte strings, some large (RAM frames, oracle pages): each item is its
        bin header and its bytes, the same in both forms (such lists are never columnar)."""
        self._out(_array_header(len(v)))
        update = self.plain.append if self.defer_hash else self.sha.update
        append = self.pieces.append
        hashing = self.hashing
        encoding = self.encoding
        size = 0
        subst = self.subst
        for item in v:
            head = _bin_header(len(item))
            if hashing:
                update(head)
                update(item)
            if encoding:
                append(head)
                instead = subst.get(id(item)) if subst else None
                if instead is None:
                    append(item)
                else:
                    for piece in instead:
                        append(piece)
            size += len(head) + len(item)
        if encoding:
            self.size += size

    def hash_deferred(self) -> None:
        """Feed the pieces kept by ``defer_hash`` to SHA-256 (run on a second thread while
        the compressor works: both release the GIL on large pieces)."""
        update = self.sha.update
        for piece in self.plain:
            update(piece)
        self.plain = []

    def digest(self) -> str:
        return self.sha.hexdigest()


def state_digest(state: dict[str, object]) -> str:
    """``scenarios.state.state_hash(state)``, computed in one walk without packing the whole
    state into one buffer."""
    w = StateWriter(hashing=True, encoding=False)
    w.value(state)
    return w.digest()


def encode(tree: object) -> bytes:
    """The snapshot encoding of ``tree`` as one msgpack document (for tests and tools)."""
    w = StateWriter(hashing=False, encoding=True)
    w.value(tree)
    return b"".join(w.pieces)


def encode_state_pieces(state: dict[str, object]) -> tuple[list[Piece], int]:
    """A state in the snapshot encoding, as pieces to compress and their total size (for
    in-memory checkpoints, scenarios/timeline.py). RAM and the disk, if lent
    (``to_state(borrow=True)``), are lent on: compress before the machine runs again."""
    w = StateWriter(hashing=False, encoding=True)
    w.value(state)
    return w.pieces, w.size


def unpack(payload: bytes) -> object:
    """The tree of one msgpack document in this encoding (columnar lists turned back into
    lists), checked for depth and types before anything reads it.

    Raises:
        ValueError, msgpack.UnpackException: the first problem found.
    """
    n = len(payload)
    enabled = gc.isenabled()
    gc.disable()
    try:
        obj = msgpack.unpackb(
            payload, raw=False, strict_map_key=True, use_list=True, ext_hook=ext_hook,
            max_bin_len=n, max_str_len=n, max_array_len=n, max_map_len=n // 2, max_ext_len=n,
        )
        _check_tree(obj)
    finally:
        if enabled:
            gc.enable()
    return obj


def decode_state(payload: bytes) -> dict[str, object]:
    """The state ``encode_state_pieces`` encoded (columnar lists turned back into lists).

    Raises:
        ValueError, msgpack.UnpackException: the payload is not an encoded state.
    """
    state = unpack(payload)
    if not isinstance(state, dict):
        raise ValueError("the content is not a map")
    return state


def _check_tree(root: object) -> None:
    """Depth and types of a decoded tree (iterative; ValueError naming the first problem)."""
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[object] | object = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            if type(value) not in _SCALAR_TYPES:
                raise ValueError(f"unexpected value of type {type(value).__name__}")
            continue
        if depth >= MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        assert isinstance(children, list)
        types = set(map(type, children))
        if types <= _SCALAR_TYPES:
            continue
        if types == {list} and depth + 1 < MAX_DEPTH and \
                set(map(type, chain.from_iterable(children))) <= _SCALAR_TYPES:  # type: ignore[arg-type]
            continue  # rows of plain values (a columnar ext-3 list): checked in one pass
        for child in children:
            t = type(child)
            if t is dict or t is list:
                stack.append((child, depth + 1))
            elif t not in _SCALAR_TYPES:
                raise ValueError(f"unexpected value of type {t.__name__}")


# ---- the scenario as plain data ----------------------------------------------------------------
