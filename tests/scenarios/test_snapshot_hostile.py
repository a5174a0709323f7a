"""Hostile snapshot files (scenarios/snapshot/, kernelmodel/state/restore.py).

More than 500 files are made from real snapshots by truncating them, flipping bits, breaking
the magic and the version, feeding garbage, claiming absurd sizes, nesting deeply, building
huge containers, and decoding, damaging and re-encoding them with valid compression (wrong
types, missing keys, swapped sections, bad ext types). Every one is given to 'vmlab snapshot
info', 'decode', 'diff' and 'vmlab resume' in-process: each must exit with status 2 and one
line on stderr, with no traceback, within a watchdog's time, with bounded memory.

A second set keeps the file intact and the state hash right but makes the state itself wrong
(sizes the data does not back, dangling ids, broken invariants, data the oracle refuses):
'resume' must refuse it with one line before anything runs, and the commands that only read
must not crash.
"""

from __future__ import annotations

import copy
import os
import random
import signal
import struct
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack
import pytest
import zstandard

from scenarios import snapshot as snap
from scenarios.cli.main import main
from scenarios.loader import load_text
from scenarios.session import Session
from scenarios.snapshot import MAGIC, SNAPSHOT_VERSION, snapshot_bytes
from scenarios.snapshot.fileformat import compress
from scenarios.state import state_hash
from scenarios.state_codec import encode, ext_hook

FUZZ_TOML = """
name = "snap-fuzz"
description = "A very small workload whose snapshots the hostile-input tests mutate"
seed = 3
duration = "5s"

[machine]
memory = "4MiB"
disk = "4MiB"
swap = "1MiB"

[[files]]
path = "f"
size = "16KiB"
content = "pattern"

[[tasks]]
name = "w"
program = "w"

[programs]
w = [
  "open f",
  "write f 0 8KiB",
  "mmap 0x4000_0000 64KiB anon private rw",
  "touch 0x4000_0000 64KiB write",
  "checkpoint half",
  "fork c",
  "fsync f",
  "read f 0 16KiB",
  "wait",
  "close f",
]
c = [
  "touch 0x4000_0000 16KiB write",
  "exit 0",
]

[[expect]]
check = "data_verified and invariants_ok"
"""

#: At least this many damaged files.
MUTANTS_MIN = 500
#: A single command on a damaged file must finish within this (a hang guard, not a timing).
WATCHDOG_S = 120
#: Peak Python allocation allowed while refusing one file that claims absurd sizes.
MEMORY_BOUND = 256 << 20


@pytest.fixture(scope="module")
def sources() -> list[bytes]:
    """Real snapshots: one with an fsync in flight and a task mid-fork, one near the end."""
    s = Session(load_text(FUZZ_TOML, source="snap-fuzz.toml"))
    out: list[bytes] = []
    for cut in (5, 9):
        s.run(until_events=cut)
        out.append(snapshot_bytes(s))
    return out


# ---- building mutants ---------------------------------------------------------------------------


def _plain(data: bytes) -> dict[str, object]:
    """The decoded map of a snapshot (columns as lists)."""
    payload = zstandard.ZstdDecompressor().decompress(data[12:])
    doc = msgpack.unpackb(payload, raw=False, strict_map_key=True, ext_hook=ext_hook)
    assert isinstance(doc, dict)
    return doc


def _frame(payload: bytes) -> bytes:
    return struct.pack("<8sI", MAGIC, 1) + compress(payload)


def _pack(doc: dict[str, object]) -> bytes:
    return _frame(encode(doc))


def _raw_map(pairs: list[tuple[str, bytes]]) -> bytes:
    """A msgpack map from keys and already-packed values (to splice in raw fragments)."""
    out = bytearray(b"\xdf" + struct.pack(">I", len(pairs)))
    for key, value in pairs:
        out += msgpack.packb(key) + value
    return bytes(out)


def _raw_doc(data: bytes, key: str, fragment: bytes) -> bytes:
    """The snapshot with the value of top-level ``key`` replaced by a raw msgpack fragment."""
    doc = _plain(data)
    pairs = [(k, fragment if k == key else encode(v)) for k, v in doc.items()]
    return _frame(_raw_map(pairs))


def _paths(tree: object, rng: random.Random) -> list[object]:
    """A random path of keys/indices from the root to some node (at least one step)."""
    path: list[object] = []
    node = tree
    while True:
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
        elif isinstance(node, list) and node:
            key = rng.randrange(len(node))
        else:
            return path
        path.append(key)
        node = node[key]
        if path and rng.random() < 0.25:
            return path


def _parent(tree: object, path: list[object]) -> object:
    node = tree
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    return node


_PALETTE: list[object] = [None, True, -1, "x", b"\x00", [], {}, [1, 2, 3], {"k": 1}, 2**63]


def _wrong_type(data: bytes, rng: random.Random) -> bytes:
    doc = _plain(data)
    while True:
        path = _paths(doc, rng)
        if path:
            break
    parent = _parent(doc, path)
    old = parent[path[-1]]  # type: ignore[index]
    choices = [v for v in _PALETTE if type(v) is not type(old)]
    parent[path[-1]] = copy.deepcopy(rng.choice(choices))  # type: ignore[index]
    return _pack(doc)


def _missing_key(data: bytes, rng: random.Random) -> bytes:
    doc = _plain(data)
    for _ in range(100):
        path = _paths(doc, rng)
        parent = _parent(doc, path)
        if path and isinstance(parent, dict):
            del parent[path[-1]]
            return _pack(doc)
    raise AssertionError("no dict to delete from")


def _truncated(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _content(data: bytes) -> tuple[bytes, bytes | None]:
    """The header and the decoded frame (None when it does not decode)."""
    try:
        return data[:12], zstandard.ZstdDecompressor().decompress(data[12:])
    except zstandard.ZstdError:
        return data[:12], None


def _bit_flips(data: bytes, rng: random.Random) -> bytes:
    """One to three flipped bits that damage the file: a flip in a match offset can point at
    an identical run (a compact snapshot's zeroed pages) and decode to the very same
    payload, which is no damage at all, so such a flip is drawn again."""
    original = _content(data)
    while True:
        out = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(16) if rng.random() < 0.1 else rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        if _content(bytes(out)) != original:
            return bytes(out)


def _fcs_claim(data: bytes, size: int) -> bytes:
    """The frame with its declared content size replaced (FCS field of the frame header)."""
    frame = bytearray(data[12:])
    fhd = frame[4]
    fcs_flag = fhd >> 6
    single = (fhd >> 5) & 1
    did = (0, 1, 2, 4)[fhd & 3]
    field = (1 if single else 0, 2, 4, 8)[fcs_flag]
    at = 5 + (0 if single else 1) + did
    if field == 8:
        struct.pack_into("<Q", frame, at, size & (2**64 - 1))
    elif field == 4:
        struct.pack_into("<I", frame, at, size & (2**32 - 1))
    else:
        return data[:12] + b"\x00" + bytes(frame[1:])
    return data[:12] + bytes(frame)


def _deep(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


def _huge_claims() -> list[bytes]:
    return [
        b"\xdd\xff\xff\xff\xff",                    # array32 of 2**32 - 1 items
        b"\xdf\xff\xff\xff\xff",                    # map32
        b"\xdb\xff\xff\xff\xff" + b"abc",           # str32 of 4 GiB
        b"\xc6\xff\xff\xff\xff" + b"abc",           # bin32 of 4 GiB
        b"\xc9\xff\xff\xff\xff\x01abc",             # ext32 of 4 GiB
        b"\xdc\xff\xff" + b"\x01" * 10,             # array16 cut short
        b"\xc7\x05\x01\x08abcde",                   # an int column of width 8 with 4 bytes
        b"\xc7\x03\x4d\x00\x00\x00",                # unknown ext code 77
        b"\xd7\xff" + b"\x00" * 8,                  # a timestamp ext (-1)
        b"\xcb" + struct.pack(">d", 1.5),           # a float
        b"\x81\x01\x02",                            # a map with an int key
        b"\xc1",                                    # the reserved byte
    ]


def _garbage(data: bytes, rng: random.Random) -> list[bytes]:
    header = data[:12]
    plain = _plain(data)
    no_size = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    return [
        b"",
        b"VMLABSN",
        header,
        bytes(rng.randrange(256) for _ in range(200)),
        header + bytes(rng.randrange(256) for _ in range(500)),
        header + zstandard.ZstdCompressor().compress(bytes(rng.randrange(256) for _ in range(300))),
        _frame(msgpack.packb([1, 2, 3])),
        _frame(msgpack.packb(7)),
        _frame(msgpack.packb({"format": "something-else", "version": 1})),
        _frame(msgpack.packb({"format": "vmlab-snapshot", "version": 1})),
        header + no_size.compressobj().compress(msgpack.packb(plain, use_bin_type=True)),
        data + b"junk after the frame",
        data + data[12:],
        _fcs_claim(data, 2**40),
        _fcs_claim(data, 2**63),
        _fcs_claim(data, 1),
    ]


def _other_scenarios() -> list[dict[str, object]]:
    """Scenario sections of scenarios other than the one the snapshots ran."""
    out: list[dict[str, object]] = []
    for old, new in (('memory = "4MiB"', 'memory = "8MiB"'), ('swap = "1MiB"', 'swap = "2MiB"'),
                     ('"write f 0 8KiB"', '"write f 0 4KiB"'), ('kernel = "x"', ""),
                     ('duration = "5s"', 'duration = "5s"\n[tunables]\nswappiness = 10')):
        if old not in FUZZ_TOML:
            continue
        scn = load_text(FUZZ_TOML.replace(old, new), source="snap-fuzz.toml")
        out.append({"doc": snap.scenario_doc(scn), "source": "snap-fuzz.toml"})
    return out


def _swaps(a: bytes, b: bytes) -> list[bytes]:
    da = _plain(a)
    db = _plain(b)
    out = []
    for key in ("state", "session", "state_hash"):
        mixed = dict(da)
        mixed[key] = db[key]
        out.append(_pack(mixed))
    for section in _other_scenarios():
        other = dict(da)
        other["scenario"] = {**section, "seed": da["scenario"]["seed"],  # type: ignore[index]
                             "kernel": da["scenario"]["kernel"]}  # type: ignore[index]
        out.append(_pack(other))
    wrong = dict(da)
    wrong["state_hash"] = "0" * 64
    out.append(_pack(wrong))
    shorter = dict(da)
    shorter["state_hash"] = str(da["state_hash"])[:10]
    out.append(_pack(shorter))
    return out


def _huge_containers(data: bytes) -> list[bytes]:
    doc = _plain(data)
    out = []
    for key in ("session", "scenario", "state"):
        big = dict(doc)
        big[key] = {"x": list(range(1_000_000))}
        out.append(_frame(msgpack.packb(big, use_bin_type=True)))
        wide = dict(doc)
        wide[key] = {f"k{i}": i for i in range(100_000)}
        out.append(_frame(msgpack.packb(wide, use_bin_type=True)))
    many = dict(doc)
    many["session"] = {**doc["session"], "expectations": [{"a": 1}] * 100_000}  # type: ignore[dict-item]
    out.append(_pack(many))
    return out


def damaged_files(sources: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """(kind, bytes) of every damaged file, from a fixed seed."""
    rng = random.Random(20240606)
    a, b = sources
    for _ in range(110):
        yield "truncated", _truncated(rng.choice(sources), rng)
    for n in (0, 1, 7, 8, 11, 12, 13, 20, len(a) - 1, len(a) - 4):
        yield "truncated", a[:n]
    for _ in range(140):
        yield "bit-flipped", _bit_flips(rng.choice(sources), rng)
    for magic in (b"VMLABSNQ", b"\x00" * 8, b"PK\x03\x04abc", b"vmlabsnp", MAGIC[::-1]):
        yield "wrong magic", magic + a[8:]
    for version in (0, SNAPSHOT_VERSION - 1, SNAPSHOT_VERSION + 1, 99, 2**31, 2**32 - 1):
        yield "version", a[:8] + struct.pack("<I", version) + a[12:]
    for item in _garbage(a, rng):
        yield "garbage", item
    for _ in range(120):
        yield "wrong type", _wrong_type(rng.choice(sources), rng)
    for _ in range(60):
        yield "missing key", _missing_key(rng.choice(sources), rng)
    for depth in (30, 49, 60, 200, 1000, 3000, 100_000):
        for key in ("state", "session"):
            yield "deeply nested", _raw_doc(a, key, _deep(depth))
    for fragment in _huge_claims():
        for key in ("state", "scenario"):
            yield "absurd size", _raw_doc(a, key, fragment)
    for item in _huge_containers(a):
        yield "huge container", item
    for item in _swaps(a, b) + _swaps(b, a):
        yield "swapped sections", item


# ---- running the commands -----------------------------------------------------------------------


class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang("a command on a damaged file did not finish")


@contextmanager
def _watchdog(seconds: int) -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI in-process; it must exit 2 with one line on stderr. Returns the line."""
    with _watchdog(WATCHDOG_S):
        rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (argv, rc, err, out[:200])
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
    assert out == "", (argv, out[:200])
    return err


def test_at_least_500_damaged_files_are_refused_by_every_command(
        sources: list[bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.vmsnap"
    good.write_bytes(sources[0])
    kinds: dict[str, int] = {}
    for i, (kind, data) in enumerate(damaged_files(sources)):
        path = tmp_path / f"bad{i}.vmsnap"
        path.write_bytes(data)
        commands = [["snapshot", "info", str(path)], ["snapshot", "decode", str(path)],
                    ["snapshot", "diff", str(path), str(good)], ["resume", str(path), "--quiet"]]
        if i % 10 == 0:  # the other side of diff too (it reads the good file first)
            commands.append(["snapshot", "diff", str(good), str(path)])
        for argv in commands:
            line = _refused(argv, capsys)
            assert line.startswith(("vmlab snapshot: ", "vmlab resume: ")), line
        kinds[kind] = kinds.get(kind, 0) + 1
        path.unlink()
    assert sum(kinds.values()) >= MUTANTS_MIN, kinds
    assert len(kinds) >= 11, kinds


def test_absurd_claims_are_refused_with_bounded_memory(sources: list[bytes], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absurd.vmsnap"
    cases = [_fcs_claim(sources[0], 2**40)]
    cases += [_raw_doc(sources[0], "state", f) for f in _huge_claims()[:5]]
    cases += [_raw_doc(sources[0], "state", _deep(100_000))]
    for data in cases:
        path.write_bytes(data)
        tracemalloc.start()
        try:
            _refused(["resume", str(path), "--quiet"], capsys)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < MEMORY_BOUND, peak


# ---- intact files whose state is wrong ----------------------------------------------------------


def _state_mutations() -> list[tuple[str, Callable[[dict[str, object]], None]]]:
    """(name, a change to the decoded state) that keeps it well-typed but wrong."""

    def machine(s: dict[str, object]) -> dict[str, object]:
        return s["machine"]  # type: ignore[return-value]

    def tasks(s: dict[str, object]) -> list[dict[str, object]]:
        return s["kernel"]["tasks"]  # type: ignore[index, no-any-return]

    def user(s: dict[str, object]) -> dict[str, object]:
        return next(t for t in tasks(s) if t["ctx"] is not None)

    def page_cache_pfn(s: dict[str, object]) -> int:
        inode = s["sb"]["s_inodes"][0]  # type: ignore[index]
        return int(inode["mapping"]["pfns"][0])

    def set_(path: str, value: object) -> Callable[[dict[str, object]], None]:
        def apply(s: dict[str, object]) -> None:
            keys = path.split(".")
            node: object = s
            for key in keys[:-1]:
                node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
            last = keys[-1]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value  # type: ignore[index]
        return apply

    def flag_dirty(s: dict[str, object]) -> None:
        pfn = page_cache_pfn(s)
        s["mem_map"]["flags"][pfn] |= 1 << 4  # type: ignore[index]

    def count_up(s: dict[str, object]) -> None:
        pfn = page_cache_pfn(s)
        s["mem_map"]["_count"][pfn] = 0  # type: ignore[index]

    def oracle_byte(s: dict[str, object]) -> None:
        data = bytearray(machine(s)["mem"]["data"])  # type: ignore[index]
        pfns = machine(s)["mem"]["pfns"]  # type: ignore[index]
        pfn = page_cache_pfn(s)
        for i in range(0, len(pfns), 4):
            if int.from_bytes(pfns[i : i + 4], "little") == pfn:
                data[i // 4 * 4096 + 10] ^= 0xFF
        machine(s)["mem"]["data"] = bytes(data)  # type: ignore[index]

    def prog(s: dict[str, object]) -> None:
        user(s)["ctx"]["prog_id"] = 99  # type: ignore[index]

    def pc(s: dict[str, object]) -> None:
        user(s)["ctx"]["pc"] = 10_000  # type: ignore[index]

    def unknown_op(s: dict[str, object]) -> None:
        tasks(s)[0]["kstack"][0]["op"] = "no_such_op"  # type: ignore[index]
        tasks(s)[0]["kstack"][0].pop("kind", None)  # type: ignore[index]

    def runqueue(s: dict[str, object]) -> None:
        s["kernel"]["runqueue"] = [4242]  # type: ignore[index]

    def waitq(s: dict[str, object]) -> None:
        s["kernel"]["waitqueues"]["x"] = [4242]  # type: ignore[index]

    def dup_pid(s: dict[str, object]) -> None:
        tasks(s).append(copy.deepcopy(tasks(s)[0]))

    def more_mms(s: dict[str, object]) -> None:
        mms = s["mm"]["mms"]  # type: ignore[index]
        for i in range(20):
            extra = copy.deepcopy(mms[0])
            extra["mm_id"] = 1000 + i
            extra["pgd"] = 500 + i
            mms.append(extra)

    return [
        ("RAM larger than its data", set_("machine.config.mem_bytes", 3 << 30)),
        ("RAM of 2**62 bytes", set_("machine.config.mem_bytes", 1 << 62)),
        ("mem_map of 2**40 pages", set_("mem_map.nframes", 1 << 40)),
        ("physmem of 2**40 frames", set_("machine.mem.nframes", 1 << 40)),
        ("TLB of 2**40 entries", set_("machine.mmu.tlb_entries", 1 << 40)),
        ("zone of 2**40 pages", set_("pgdat.zone.spanned_pages", 1 << 40)),
        ("swap map of 2**24 slots", set_("swap.swap_info.0.max", 1 << 24)),
        ("a clean page marked dirty", flag_dirty),
        ("nr_dirty off by one", lambda s: s["vmstat"].__setitem__(  # type: ignore[index]
            "nr_dirty", s["vmstat"]["nr_dirty"] + 1)),  # type: ignore[index]
        ("a cached page with no reference", count_up),
        ("a page-cache byte the oracle refuses", oracle_byte),
        ("a task running an unknown program", prog),
        ("a pc beyond the program", pc),
        ("an unknown kernel op", unknown_op),
        ("a run queue naming no task", runqueue),
        ("a wait queue naming no task", waitq),
        ("a pid twice", dup_pid),
        ("current set between events", set_("kernel.current", 4)),
        ("next_pid behind the pids", set_("kernel.next_pid", 1)),
        ("more mms than tasks", more_mms),
        ("an event seq from the future", set_("machine.clock.next_seq", 0)),
        ("a bad kernel release", set_("cfg.release", "2.4.0")),
        ("a dirty ratio of 500", set_("cfg.dirty_ratio", 500)),
        ("a radix index beyond 64 bits",
         set_("sb.s_inodes.0.mapping.page_tree.index.0", 2**64 - 1)),
        ("a zero page outside RAM", set_("zero_page", 1 << 30)),
        ("an rng state beyond 64 bits", set_("rng.state", -1)),
    ]


@pytest.mark.parametrize(("name", "change"), _state_mutations(),
                         ids=[n for n, _ in _state_mutations()])
def test_intact_files_with_a_wrong_state_are_refused_before_running(
        sources: list[bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        change: Callable[[dict[str, object]], None]) -> None:
    doc = _plain(sources[0])
    state = doc["state"]
    assert isinstance(state, dict)
    change(state)
    doc["state_hash"] = state_hash(state)
    path = tmp_path / "wrong.vmsnap"
    path.write_bytes(_pack(doc))
    tracemalloc.start()
    try:
        line = _refused(["resume", str(path), "--quiet"], capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert line.startswith("vmlab resume: wrong.vmsnap: "), line
    assert peak < MEMORY_BOUND, peak
    # the commands that only read describe it, or refuse it with one line; never crash
    good = tmp_path / "good.vmsnap"
    good.write_bytes(sources[0])
    for argv, ok in ((["snapshot", "info", str(path)], 0),
                     (["snapshot", "decode", str(path), "--section", "session"], 0),
                     (["snapshot", "diff", str(good), str(path)], 1)):
        with _watchdog(WATCHDOG_S):
            rc = main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        if rc == 2:
            assert err.count("\n") == 1 and out == ""
        else:
            assert rc == ok and err == "" and out


def test_the_damaged_set_is_big_enough(sources: list[bytes]) -> None:
    assert sum(1 for _ in damaged_files(sources)) >= MUTANTS_MIN
    assert os.name == "posix"  # the watchdog uses SIGALRM
