"""Compact snapshots: file data that follows from the scenario's writes, stored as the write
that made it instead of its bytes.

A write(2) of a scenario writes ``vl_payload_slice(generator, seed, i, n)``
(kernelmodel/lib/payload.py, with the generator the state records in ``oracle.generator``): the
payload is a stream named by the write's seed, which the assembled programs keep in the state
(``kernel.programs``: ``syscall write offset length seed path``). A boot-time file's contents
are described too (``vl_base_page``: zero, pattern or random, by the oracle's ``base_*``). So
a 4 KiB page of RAM, of the disk or of the file oracle whose bytes are exactly one such page
(a *recipe*) can be stored as the recipe. A 64 MiB machine after ``writeback-order`` holds the
same 16 MiB of written file data in the page cache and on the disk: stored as bytes it is a
14.5 MB file, described it is a few hundred KB.

How it is stored (the ``described`` section of the snapshot map)::

    recipes  [[0, seed, stream_offset], ...]          a write's payload at that offset
             [[1, base_kind, seed, base_size, index]] page ``index`` of a boot-time file
    mem      {pages: [k, ...], recipes: [r, ...]}     k-th frame of machine.mem.data
    disk     {pages: [k, ...], recipes: [r, ...]}     k-th chunk of machine.disk.chunk_data
    oracle   {files: [f, ...], pages: [j, ...], recipes: [r, ...]}
                                                      oracle.files[f].page_data[j]

A described page is stored as zeros in the state (so the file is exactly the full snapshot's
with those pages zeroed) and filled in again when the file is read, before the state hash is
checked: a description that does not give back the saved bytes fails the hash like any
damage. Candidates are only ever taken from the write patterns and boot files of the
scenario, and a page is described only when its bytes equal the recipe's exactly, so the
state (and its hash) is the same whether a file was written compact or full.

A recipe means what ``vl_payload_slice`` (with the state's generator) and ``vl_base_page``
give: a new payload generator gets a new number and the old one stays (an old compact file
fills in with the generator it was written with); changing ``vl_base_page`` is a snapshot
format change (an old compact file would no longer fill in to its hash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from machine.borrowed import BorrowedBytes
from scenarios.snapshot.fields import get_path

PAGE: Final = 4096
_ZERO: Final = bytes(PAGE)
KIND_WRITE: Final = 0
KIND_BASE: Final = 1
#: ``isa.OP_SYSCALL`` and ``syscall_abi.SYS_write`` (the insn rows of ``kernel.programs``).
_OP_SYSCALL: Final = 6
_SYS_WRITE: Final = 4
#: Base kinds with bytes to describe (``oracle.BASE_PATTERN``, ``BASE_RANDOM``).
_BASE_KINDS: Final = (1, 2)

Recipe = tuple[int, ...]


def recipe_bytes(recipe: Recipe | list[object], generator: int) -> bytes:
    """The 4096 bytes a recipe stands for (write payloads made with payload ``generator``).

    Raises:
        ValueError: not a recipe.
    """
    from kernelmodel.lib.payload import vl_payload_slice
    from kernelmodel.oracle.oracle import vl_base_page

    ints = _int_list(list(recipe), "a recipe")
    if len(ints) == 3 and ints[0] == KIND_WRITE and ints[1] >= 0 and ints[2] >= 0:
        return vl_payload_slice(generator, ints[1], ints[2], PAGE)
    if len(ints) == 5 and ints[0] == KIND_BASE and ints[1] in _BASE_KINDS and \
            ints[2] >= 0 and ints[3] >= 0 and 0 <= ints[4] < (ints[3] + PAGE - 1) // PAGE:
        return vl_base_page(ints[1], ints[2], ints[3], ints[4])
    raise ValueError(f"not a recipe: {ints[:5]}")


def _int_list(v: object, what: str) -> list[int]:
    if not isinstance(v, list):
        raise ValueError(f"{what} must be a list of integers")
    out: list[int] = []
    for x in v:
        if not isinstance(x, int) or isinstance(x, bool):
            raise ValueError(f"{what} must be a list of integers")
        out.append(x)
    return out


def _generator(state: object) -> int:
    """The payload generator a state records.

    Raises:
        ValueError: none, or one this vmlab does not have.
    """
    from kernelmodel.lib.payload import PAYLOAD_GENERATORS

    generator = get_path(state, "oracle", "generator")
    if type(generator) is not int or generator not in PAYLOAD_GENERATORS:
        raise ValueError(f"unknown payload generator {generator!r}")
    return generator


def _recipes(state: dict[str, object], limit: int) -> list[Recipe]:
    """Every page the scenario's writes and boot files could have put somewhere (at most
    ``limit``): each page a write covers whole, by its offset in the write's stream (a write
    at the file position is taken as page-aligned), and each page of a boot-time file."""
    out: list[Recipe] = []
    seen: set[Recipe] = set()

    def add(r: Recipe) -> bool:
        if r not in seen:
            seen.add(r)
            out.append(r)
        return len(out) < limit

    programs = get_path(state, "kernel", "programs")
    for prog in programs if isinstance(programs, list) else []:
        for insn in prog if isinstance(prog, list) else []:
            if not isinstance(insn, list) or len(insn) != 6 or insn[0] != _OP_SYSCALL or \
                    insn[1] != _SYS_WRITE:
                continue
            try:
                offset, length, seed = _int_list(insn[2:5], "insn")
            except ValueError:
                continue
            if seed < 0:
                continue
            first = 0 if offset < 0 else -offset % PAGE
            for stream in range(first, length - PAGE + 1, PAGE):
                if not add((KIND_WRITE, seed, stream)):
                    return out
    files = get_path(state, "oracle", "files")
    for f in files if isinstance(files, list) else []:
        try:
            kind, seed, size = _int_list([get_path(f, k) for k in ("base_kind", "base_seed",
                                                               "base_size")], "base")
        except ValueError:
            continue
        if kind in _BASE_KINDS and seed >= 0:
            for index in range((size + PAGE - 1) // PAGE):
                if not add((KIND_BASE, kind, seed, size, index)):
                    return out
    return out


@dataclass
class Description:
    """The pages of one state that recipes describe, and the writer's substitutions."""

    recipes: list[Recipe] = field(default_factory=list)
    mem: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    disk: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    oracle: tuple[list[int], list[int], list[int]] = field(
        default_factory=lambda: ([], [], []))
    #: id of a byte string of the state -> the pieces the file stores instead
    subst: dict[int, list[bytes | bytearray | memoryview]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return len(self.mem[0]) + len(self.disk[0]) + len(self.oracle[0])

    def section(self) -> dict[str, object]:
        """The ``described`` section of the snapshot map."""
        if not self.pages:
            return {}
        return {
            "recipes": [list(r) for r in self.recipes],
            "mem": {"pages": self.mem[0], "recipes": self.mem[1]},
            "disk": {"pages": self.disk[0], "recipes": self.disk[1]},
            "oracle": {"files": self.oracle[0], "pages": self.oracle[1],
                       "recipes": self.oracle[2]},
        }


def _parts(blob: object) -> list[memoryview]:
    if isinstance(blob, BorrowedBytes):
        return _paged([memoryview(p).cast("B") for p in blob.parts])
    if isinstance(blob, (bytes, bytearray)):
        return [memoryview(blob)]
    return []


def _paged(views: list[memoryview]) -> list[memoryview]:
    """``views`` with each run of parts that are not whole pages (a sparse disk chunk lent as
    zeros, bytes, zeros) joined into one page-aligned part, so pages can be looked up."""
    out: list[memoryview] = []
    pending: list[memoryview] = []
    size = 0
    for v in views:
        if not pending and len(v) % PAGE == 0:
            out.append(v)
            continue
        pending.append(v)
        size += len(v)
        if size % PAGE == 0:
            out.append(memoryview(b"".join(pending)))
            pending = []
            size = 0
    if pending:
        out.append(memoryview(b"".join(pending)))
    return out


def _describe_blob(blob: object, table: dict[bytes, int], used: dict[int, int],
                   out: tuple[list[int], list[int]], desc: Description) -> None:
    """Look up each page of a RAM or disk blob; record the described ones and the pieces
    the file stores instead (the blob's own memory, with a zero page for each described)."""
    pieces: list[bytes | bytearray | memoryview] = []
    k = 0
    for part in _parts(blob):
        if len(part) % PAGE:
            return  # not page-aligned: leave the blob as it is
        start = 0
        for off in range(0, len(part), PAGE):
            r = table.get(bytes(part[off:off + PAGE]))
            if r is not None:
                if off > start:
                    pieces.append(part[start:off])
                pieces.append(_ZERO)
                start = off + PAGE
                out[0].append(k)
                out[1].append(used.setdefault(r, len(used)))
            k += 1
        if start < len(part):
            pieces.append(part[start:])
    if out[0]:
        desc.subst[id(blob)] = pieces


def describe(state: dict[str, object]) -> Description:
    """Which pages of ``state`` (RAM frames, disk chunks, oracle pages) recipes describe."""
    mem = get_path(state, "machine", "mem", "data")
    disk = get_path(state, "machine", "disk", "chunk_data")
    files = get_path(state, "oracle", "files")
    literal = 0
    for f in files if isinstance(files, list) else []:
        data = get_path(f, "page_data")
        literal += len(data) if isinstance(data, list) else 0
    pages = sum(len(p) for p in _parts(mem) + _parts(disk)) // PAGE + literal
    desc = Description()
    candidates = _recipes(state, pages)
    if not candidates:
        return desc
    generator = _generator(state)
    table: dict[bytes, int] = {}
    for i, recipe in enumerate(candidates):
        table.setdefault(recipe_bytes(recipe, generator), i)
    used: dict[int, int] = {}
    _describe_blob(mem, table, used, desc.mem, desc)
    _describe_blob(disk, table, used, desc.disk, desc)
    for fi, f in enumerate(files if isinstance(files, list) else []):
        data = get_path(f, "page_data")
        for j, page in enumerate(data if isinstance(data, list) else []):
            r = table.get(page) if type(page) is bytes and len(page) == PAGE else None
            if r is not None:
                desc.oracle[0].append(fi)
                desc.oracle[1].append(j)
                desc.oracle[2].append(used.setdefault(r, len(used)))
                desc.subst[id(page)] = [_ZERO]
    order = sorted(used, key=used.__getitem__)
    desc.recipes = [candidates[i] for i in order]
    return desc


# ---- reading -----------------------------------------------------------------------------------


def _ints(section: object, key: str) -> list[int]:
    return _int_list(get_path(section, key), key)


def _fill_blob(blob: object, pages: list[int], which: list[int], made: list[bytes],
               what: str) -> bytes:
    if not isinstance(blob, bytes) or len(blob) % PAGE:
        raise ValueError(f"{what} is not a list of pages")
    if len(pages) != len(which) or any(b <= a for a, b in pairwise(pages)):
        raise ValueError(f"{what}: pages must be ascending, one recipe each")
    n = len(blob) // PAGE
    out = bytearray(blob)
    for k, r in zip(pages, which, strict=True):
        if not 0 <= k < n or not 0 <= r < len(made):
            raise ValueError(f"{what}: page or recipe out of range")
        if out[k * PAGE:(k + 1) * PAGE] != _ZERO:
            raise ValueError(f"{what}: a described page is not stored as zeros")
        out[k * PAGE:(k + 1) * PAGE] = made[r]
    return bytes(out)


def _pages_in(blob: object) -> int:
    return len(blob) // PAGE if isinstance(blob, bytes) else 0


def fill(doc: dict[str, object], generator: int | None = None) -> int:
    """Put the bytes of the described pages back into ``doc["state"]`` (in place); returns
    how many pages were described. Write payloads are made with ``generator``, by default
    the one the state records.

    Raises:
        ValueError: the description is malformed (the state hash catches a wrong one).
    """
    section = doc.get("described")
    if section == {}:
        return 0
    if not isinstance(section, dict) or set(section) != {"recipes", "mem", "disk", "oracle"}:
        raise ValueError("described must hold recipes, mem, disk and oracle")
    recipes = section["recipes"]
    if not isinstance(recipes, list) or not all(isinstance(r, list) for r in recipes):
        raise ValueError("recipes must be a list of lists")
    state = doc.get("state")
    # bounds first, so that a hostile file cannot make the reader generate more pages than
    # the state itself holds: every described page is a page of the state, every recipe used
    files = get_path(state, "oracle", "files")
    room = {"mem": _pages_in(get_path(state, "machine", "mem", "data")),
            "disk": _pages_in(get_path(state, "machine", "disk", "chunk_data")),
            "oracle": sum(len(d) for d in (get_path(f, "page_data") for f in
                                           (files if isinstance(files, list) else []))
                          if isinstance(d, list))}
    listed = 0
    for name, n in room.items():
        pages = get_path(section[name], "pages")
        count = len(pages) if isinstance(pages, list) else 0
        if count > n:
            raise ValueError(f"{name}: more described pages than the state holds")
        listed += count
    if len(recipes) > listed:
        raise ValueError("more recipes than described pages")
    if generator is None:
        generator = _generator(state)
    made = [recipe_bytes(r, generator) for r in recipes]
    mem = get_path(state, "machine", "mem")
    disk = get_path(state, "machine", "disk")
    if not isinstance(mem, dict) or not isinstance(disk, dict):
        raise ValueError("the state has no RAM or disk")
    count = 0
    for holder, key, name in ((mem, "data", "mem"), (disk, "chunk_data", "disk")):
        part = section[name]
        pages, which = _ints(part, "pages"), _ints(part, "recipes")
        if pages:
            holder[key] = _fill_blob(holder.get(key), pages, which, made, name)
        count += len(pages)
    part = section["oracle"]
    fis, pages, which = _ints(part, "files"), _ints(part, "pages"), _ints(part, "recipes")
    files = get_path(state, "oracle", "files")
    if not (len(fis) == len(pages) == len(which)) or not isinstance(files, list):
        raise ValueError("oracle: files, pages and recipes must pair up")
    for fi, j, r in zip(fis, pages, which, strict=True):
        data = get_path(files[fi], "page_data") if 0 <= fi < len(files) else None
        if not isinstance(data, list) or not 0 <= j < len(data) or not 0 <= r < len(made):
            raise ValueError("oracle: page or recipe out of range")
        if data[j] != _ZERO:
            raise ValueError("oracle: a described page is not stored as zeros")
        data[j] = made[r]
    return count + len(fis)
