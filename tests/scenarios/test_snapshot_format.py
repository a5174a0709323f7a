"""The snapshot file format (scenarios/snapshot/): header and versions, migrations, the
columnar encoding, the scenario as plain data, and info, decode and diff."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zstandard
from forge_frames import frames_as_version_five, frames_as_version_six
from forge_kopsmm import frames_as_version_six as mm_ops_as_version_six
from hypothesis import given, settings
from hypothesis import strategies as st
from test_snapshot_support import (
    TINY_TOML,
    tiny_scenario,
    tiny_session,
    undescribe_oracles,
    writing_as_format_4,
)

from scenarios import snapshot as snap
from scenarios.behaviour import BEHAVIOUR_VERSION, UNRECORDED
from scenarios.cli.main import main
from scenarios.library import builtin_names, load_builtin
from scenarios.loader import load_text
from scenarios.schema import KernelSpec, Scenario
from scenarios.series import CounterSeries
from scenarios.session import Session
from scenarios.snapshot import (
    MAGIC,
    SNAPSHOT_VERSION,
    SnapshotError,
    decode,
    diff,
    load_snapshot,
    load_snapshot_bytes,
    read_snapshot_bytes,
    save_snapshot,
    scenario_doc,
    snapshot_bytes,
    snapshot_info,
)
from scenarios.snapshot.fileformat import compress
from scenarios.snapshot.migrations import readable_versions
from scenarios.snapshot.scenario import scenario_from_section, toml_text
from scenarios.state_codec import encode, ext_hook


@pytest.fixture(scope="module")
def tiny_snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """Two snapshots of the small scenario (at its "filled" checkpoint and 60 events on)."""
    d = tmp_path_factory.mktemp("snaps")
    s = tiny_session()
    s.run(until_checkpoint="filled")
    a = d / "filled.vmsnap"
    save_snapshot(s, a)
    s.run(until_events=s.events + 60)
    b = d / "later.vmsnap"
    save_snapshot(s, b)
    return a, b, a.read_bytes()


def _doc(data: bytes) -> dict[str, object]:
    """The raw msgpack map of a snapshot (ext types left as they are)."""
    payload = zstandard.ZstdDecompressor().decompress(data[12:])
    out = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    assert isinstance(out, dict)
    return out


def _encode(doc: dict[str, object], version: int) -> bytes:
    packed = msgpack.packb(doc, use_bin_type=True)
    return struct.pack("<8sI", MAGIC, version) + compress(packed)


# ---- header and versions ------------------------------------------------------------------------


def test_header_and_top_level_map(tiny_snapshots: tuple[Path, Path, bytes]) -> None:
    data = tiny_snapshots[2]
    assert data[:8] == b"VMLABSNP"
    assert struct.unpack_from("<I", data, 8)[0] == SNAPSHOT_VERSION
    params = zstandard.get_frame_parameters(data[12:])
    assert params.has_checksum
    assert params.content_size > 0
    doc = read_snapshot_bytes(data, "x")
    assert list(doc) == list(snap.TOP_KEYS)
    assert doc["format"] == "vmlab-snapshot"
    assert doc["version"] == SNAPSHOT_VERSION


def test_newer_version_is_refused_naming_the_version(
        tiny_snapshots: tuple[Path, Path, bytes], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(tiny_snapshots[2])
    struct.pack_into("<I", data, 8, SNAPSHOT_VERSION + 1)
    with pytest.raises(SnapshotError) as exc:
        load_snapshot_bytes(bytes(data), "new.vmsnap")
    msg = str(exc.value)
    assert f"snapshot format version {SNAPSHOT_VERSION + 1}" in msg
    assert f"reads format version {SNAPSHOT_VERSION + 1}" in msg
    path = tmp_path / "new.vmsnap"
    path.write_bytes(bytes(data))
    for argv in (["resume", str(path)], ["snapshot", "info", str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"version {SNAPSHOT_VERSION + 1}" in err


def _version_zero(data: bytes, check: bool = True) -> bytes:
    """A synthetic file of an imagined format 0: a format-2 state (``_as_version_two``;
    formats 1 and 2 differ only for pte-chain kernels and pending shared-mapping stores, which
    this one has neither of) under "kernel_state", no vmlab_version, and the state hash under
    "hash"."""
    doc, _ = _as_version_two(data, swapped=False, check=check)
    assert doc["state"]["cfg"]["rmap"] != "pte_chain"
    assert all(not f["mmap_pending"] for f in doc["state"]["oracle"]["files"])
    old: dict[str, object] = {"format": doc["format"], "version": 0,
                              "scenario": doc["scenario"], "session": doc["session"],
                              "kernel_state": doc["state"], "hash": doc["state_hash"]}
    return _encode(old, 0)


def _migrate_0_to_1(doc: dict[str, object]) -> dict[str, object]:
    """The test's migration: format 0 -> 1 (renamed keys, added vmlab_version)."""
    return {"format": doc["format"], "version": 1, "vmlab_version": "0.0.0",
            "scenario": doc["scenario"], "session": doc["session"],
            "state": doc["kernel_state"], "state_hash": doc["hash"]}


def test_older_version_without_migration_is_refused(
        tiny_snapshots: tuple[Path, Path, bytes]) -> None:
    with pytest.raises(SnapshotError, match="format version 0 is older than this vmlab"):
        load_snapshot_bytes(_version_zero(tiny_snapshots[2], check=False))


def test_older_version_goes_through_the_registered_migration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(snap.MIGRATIONS, 0, _migrate_0_to_1)
    # files before format 4 ran 2.6.6's reclaim and did not count nr_vmscan_write; before
    # format 5 they wrote with the first payload generator and described no oracle page
    s = writing_as_format_4(Session(_old_tiny(),
                                    kernel=KernelSpec(profile="2.6.7", vmscan="2.6.6")))
    s.run(until_checkpoint="filled")
    s.kernel.vmstat.nr_vmscan_write = 0
    undescribe_oracles(s)
    data = snapshot_bytes(s)
    original = load_snapshot_bytes(data)
    migrated = load_snapshot_bytes(_version_zero(data))
    assert migrated.state_hash() == original.state_hash()
    assert [r.name for r in migrated.checkpoints] == [r.name for r in original.checkpoints]
    assert readable_versions() == f"versions 0 to {SNAPSHOT_VERSION}"


def _frame_of(state: dict[str, Any], pfn: int) -> bytes:
    """RAM frame ``pfn`` of a plain state (machine.mem holds the non-zero frames)."""
    mem = state["machine"]["mem"]
    pfns = struct.unpack(f"<{len(mem['pfns']) // 4}I", mem["pfns"])
    if pfn not in pfns:
        return bytes(4096)
    i = pfns.index(pfn)
    return bytes(mem["data"][i * 4096:(i + 1) * 4096])


def _slot_of(state: dict[str, Any], sector: int) -> bytes:
    """Eight sectors of the disk of a plain state (the store's non-zero 4 KiB chunks)."""
    disk = state["machine"]["disk"]
    assert sector % 8 == 0, "swap slots are page-aligned on the disk"
    chunks = disk["chunks"]
    if sector // 8 not in chunks:
        return bytes(4096)
    i = chunks.index(sector // 8)
    return bytes(disk["chunk_data"][i * 4096:(i + 1) * 4096])


def as_version_four(doc: dict[str, Any], check: bool = True) -> dict[str, Any]:
    """A current snapshot map (as read: described pages filled in) as format 4 wrote it: no
    payload generator, no described oracle pages, no story and no series in the session
    section, with format 4's own state hash. ``check``: the cut must have written with the
    first generator and describe no oracle page (``writing_as_format_4``,
    ``undescribe_oracles``)."""
    state = doc["state"]
    lists = state["cfg"]["writeback"] == "lists"
    for task in state["kernel"]["tasks"]:
        task["kstack"] = frames_as_version_five(
            frames_as_version_six(mm_ops_as_version_six(task["kstack"]), lists))
    generator = state["oracle"].pop("generator")
    described = [f.pop("described") for f in state["oracle"]["files"]]
    described.append(state["mm_oracle"].pop("described"))
    assert not check or (generator == 1 and not any(described)), "a cut format 4 cannot hold"
    session = {k: v for k, v in doc["session"].items() if k not in ("story", "series")}
    return {**doc, "session": session, "version": 4, "state_hash": snap.state_digest(state)}


def as_version_three(doc: dict[str, Any]) -> dict[str, Any]:
    """A format-4 map (``as_version_four``) as format 3 wrote it: no behaviour_version, no
    described section."""
    return {**{k: v for k, v in doc.items() if k not in ("behaviour_version", "described")},
            "version": 3}


def _as_version_three(data: bytes, check: bool = True) -> dict[str, Any]:
    """A current snapshot's map rewritten as format 3 wrote it (``as_version_three``): no
    reclaim design and no
    swap-in design anywhere (format 3 ran 2.6.6's reclaim on every profile, so the cut must
    have run it too; the migration gives a file its profile's swap-in fault, so the cut must
    have that), no ``nr_vmscan_write`` counter (the cut must not have counted any) and no
    ``nr_mapped`` in kswapd's op, with format 3's own state hash. ``check=False``: any cut
    (for a file that is refused before its migration runs)."""
    from scenarios.profiles import SWAPIN

    doc: dict[str, Any] = as_version_four(read_snapshot_bytes(data, "x"), check)
    state = doc["state"]
    ops = [op for t in state["kernel"]["tasks"] for op in t["kstack"] if op["op"] == "kswapd"]
    dropped = (state["cfg"].pop("vmscan"), state["vmstat"].pop("nr_vmscan_write"),
               [op.pop("nr_mapped") for op in ops])
    assert not check or dropped == ("2.6.6", 0, [0])
    swapin = state["cfg"].pop("swapin")
    assert not check or swapin == SWAPIN[state["cfg"]["release"]]
    assert doc["scenario"]["kernel"].pop("vmscan") == "2.6.6" or not check
    assert doc["scenario"]["kernel"].pop("swapin") == swapin or not check
    doc["scenario"]["doc"]["kernel"].pop("vmscan")
    doc["scenario"]["doc"]["kernel"].pop("swapin")
    return as_version_three({**doc, "state_hash": snap.state_digest(state)})


def _as_version_two(data: bytes, swapped: bool = True,
                    check: bool = True) -> tuple[dict[str, Any], str]:
    """A current snapshot's map rewritten as format 2 wrote it: the format-3 form
    (``_as_version_three``) with every page of the oracles as bytes (no
    ``in_frame``/``on_disk`` places), with format 2's own state hash.
    Returns it and the current file's state hash. ``swapped``: the cut must have oracle
    pages in swap."""
    want = str(read_snapshot_bytes(data, "x")["state_hash"])
    doc = _as_version_three(data, check)
    state = doc["state"]
    for f in state["oracle"]["files"]:
        pages = dict(zip([i for i in f["page_index"]
                          if i not in f["in_frame"][::2] + f["on_disk"][::2]], f["page_data"],
                         strict=True))
        for kind, read in (("in_frame", _frame_of), ("on_disk", _slot_of)):
            places = f.pop(kind)
            for i in range(0, len(places), 2):
                pages[places[i]] = read(state, places[i + 1])
        f["page_data"] = [pages[i] for i in f["page_index"]]
    oracle = state["mm_oracle"]
    in_frame = oracle.pop("in_frame")
    on_disk = oracle.pop("on_disk")
    assert not check or (in_frame and (on_disk or not swapped)), \
        "the cut must hold oracle pages in RAM and swap"
    for i in range(0, len(in_frame), 2):
        oracle["page_ids"].append(in_frame[i])
        oracle["page_data"].append(_frame_of(state, in_frame[i + 1]))
    for i in range(0, len(on_disk), 2):
        oracle["page_ids"].append(on_disk[i])
        oracle["page_data"].append(_slot_of(state, on_disk[i + 1]))
    old = {**doc, "version": 2, "state_hash": snap.state_digest(state)}
    return old, want


def _as_version_one(data: bytes) -> tuple[bytes, str]:
    """A current 2.6.5 snapshot rewritten as format 1 wrote it: the format-2 form
    (``_as_version_two``), and swap-cache entries in ``private``, an anon_vma per anonymous
    vma beside the pte chains and no ``mmap_pending`` in the file oracle, with format 1's own
    state hash. Returns it and the current file's state hash."""
    doc, want = _as_version_two(data)
    state = doc["state"]
    assert isinstance(state, dict) and state["cfg"]["release"] == "2.6.5"
    mem_map = state["mem_map"]
    pfns = state["swapper_space"]["pfns"]
    assert pfns, "the cut must hold swap-cache pages"
    for pfn in pfns:
        assert mem_map["private"][pfn] == 0
        mem_map["private"][pfn] = mem_map["index"][pfn]
        mem_map["index"][pfn] = 0
    mm = state["mm"]
    anon = [v for v in mm["vmas"] if v["vm_file"] < 0]
    assert anon
    for i, vma in enumerate(anon):
        vma["anon_vma"] = 100 + i
    mm["anon_vmas"] = [{"anon_vma_id": 100 + i, "head": [v["vma_id"]]}
                       for i, v in enumerate(anon)]
    for f in state["oracle"]["files"]:
        assert f.pop("mmap_pending") == [], "a file the version-1 oracle could not express"
    old = {**doc, "version": 1, "state_hash": snap.state_digest(state)}
    return _encode(old, 1), want


def _old_tiny() -> Scenario:
    """The tiny scenario as a file from before format 4 names it: no reclaim design in its
    kernel table (so the 2.6.7 profile's own)."""
    return dataclasses.replace(tiny_scenario(), kernel=KernelSpec())


def _as_sampled_before_format_5(s: Session) -> Session:
    """``s`` with the series a file older than format 5 migrates to: empty, from its clock."""
    s.set_series(CounterSeries(start_ns=s.sim_time_ns))
    return s


def _swapping_session(kernel: str | KernelSpec) -> Session:
    """The tiny scenario (``_old_tiny``) swapping, with ``nr_vmscan_write`` cleared (formats
    before 4 did not count it, so their migration starts it at 0), written with the first
    payload generator and every oracle page held as bytes (as before format 5)."""
    s = writing_as_format_4(Session(_old_tiny(), kernel=kernel))
    s.run(until_checkpoint="filled")
    s.run(until_events=s.events + 60)  # the hog swaps, the child has forked
    assert s.kernel.vmstat.nr_vmscan_write > 0
    s.kernel.vmstat.nr_vmscan_write = 0
    undescribe_oracles(s)
    return s


def test_version_one_files_are_migrated_to_the_current_form() -> None:
    s = _swapping_session("2.6.5")
    current = snapshot_bytes(_as_sampled_before_format_5(s))
    old, want = _as_version_one(current)
    assert struct.unpack_from("<I", old, 8)[0] == 1
    migrated = load_snapshot_bytes(old, "old.vmsnap")
    assert migrated.state_hash() == want == s.state_hash()
    assert migrated.behaviour_version == UNRECORDED
    migrated.behaviour_version = BEHAVIOUR_VERSION
    assert snapshot_bytes(migrated) == current
    # a damaged version-1 file is refused, not laundered by the migration
    bad = read_snapshot_bytes(current, "x")
    bad = {**bad, "version": 1, "state_hash": "0" * 64}
    with pytest.raises(SnapshotError, match="cannot migrate from format version 1"):
        load_snapshot_bytes(_encode(bad, 1), "bad.vmsnap")


@pytest.mark.parametrize("kernel", ["2.6.5", "2.6.7"])
def test_version_three_files_are_migrated_to_the_current_form(kernel: str) -> None:
    """Format 3 did not name the swap-in fault's release: the migration gives a file its
    profile's, and the file loads into the very state, and saves as the very bytes, of now."""
    s = _swapping_session(KernelSpec(profile=kernel, vmscan="2.6.6"))  # as format 3 ran
    current = snapshot_bytes(_as_sampled_before_format_5(s))
    want = s.state_hash()
    doc = _as_version_three(current)
    migrated = load_snapshot_bytes(_encode(doc, 3), "old.vmsnap")
    assert migrated.kernel.cfg.swapin == ("2.6.6" if kernel == "2.6.5" else "2.6.7")
    assert migrated.state_hash() == want == s.state_hash()
    assert migrated.behaviour_version == UNRECORDED
    migrated.behaviour_version = BEHAVIOUR_VERSION
    assert snapshot_bytes(migrated) == current
    with pytest.raises(SnapshotError, match=r"cannot migrate from format version 3: .*state_hash"):
        load_snapshot_bytes(_encode({**doc, "state_hash": "0" * 64}, 3), "bad.vmsnap")


def test_version_two_files_are_migrated_to_the_current_form(tmp_path: Path) -> None:
    """Format 2 held every memory-oracle page as bytes: the migration finds the places
    again and the file loads into the very state, and saves as the very bytes, of now."""
    s = _swapping_session("2.6.6")
    current = snapshot_bytes(_as_sampled_before_format_5(s))
    files = read_snapshot_bytes(current, "x")["state"]["oracle"]["files"]  # type: ignore[index]
    assert any(f["in_frame"] for f in files), "the cut must hold file pages in the page cache"
    doc, want = _as_version_two(current)
    old = _encode(doc, 2)
    assert len(old) > len(current)
    migrated = load_snapshot_bytes(old, "old.vmsnap")
    assert migrated.state_hash() == want == s.state_hash()
    assert migrated.behaviour_version == UNRECORDED
    migrated.behaviour_version = BEHAVIOUR_VERSION
    assert snapshot_bytes(migrated) == current
    (tmp_path / "old.vmsnap").write_bytes(old)
    assert snapshot_info(tmp_path / "old.vmsnap")["state_hash"] == want
    # a version-2 file whose state does not match its hash is refused
    with pytest.raises(SnapshotError, match=r"cannot migrate from format version 2: .*state_hash"):
        load_snapshot_bytes(_encode({**doc, "state_hash": "0" * 64}, 2), "bad.vmsnap")


def test_version_three_files_keep_the_reclaim_they_ran(tmp_path: Path) -> None:
    """Format 3 ran 2.6.6's reclaim on every profile: a 2.6.7 file says so after migration
    (``vmscan = "2.6.6"``, the profile's own being 2.6.7's) and runs on exactly as it would
    have."""
    s = _swapping_session(KernelSpec(profile="2.6.7", vmscan="2.6.6"))
    current = snapshot_bytes(_as_sampled_before_format_5(s))
    old = _encode(_as_version_three(current), 3)
    migrated = load_snapshot_bytes(old, "old.vmsnap")
    assert migrated.kernel_spec == KernelSpec(profile="2.6.7", vmscan="2.6.6")
    assert migrated.kernel.cfg.vmscan == "2.6.6"
    assert migrated.state_hash() == s.state_hash()
    migrated.behaviour_version = BEHAVIOUR_VERSION  # format 3 recorded none
    assert snapshot_bytes(migrated) == current  # the scenario still names its own kernel
    (tmp_path / "old.vmsnap").write_bytes(old)
    assert snapshot_info(tmp_path / "old.vmsnap")["kernel"] == {
        "profile": "2.6.7", "writeback": "tags", "rmap": "anon_vma", "vmscan": "2.6.6",
        "swapin": "2.6.7"}
    s.run()
    migrated.run()
    assert migrated.state_hash() == s.state_hash()
    assert migrated.metrics() == s.metrics()
    # a version-3 file whose state does not match its hash is refused
    bad = {**_as_version_three(current), "state_hash": "0" * 64}
    with pytest.raises(SnapshotError, match=r"cannot migrate from format version 3: .*state_hash"):
        load_snapshot_bytes(_encode(bad, 3), "bad.vmsnap")


def test_a_migration_must_produce_the_next_version(
        tiny_snapshots: tuple[Path, Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(snap.MIGRATIONS, 0, lambda d: {**_migrate_0_to_1(d), "version": 7})
    with pytest.raises(SnapshotError, match="produced version 7, not 1"):
        load_snapshot_bytes(_version_zero(tiny_snapshots[2], check=False))


def test_header_and_content_versions_must_agree(tiny_snapshots: tuple[Path, Path, bytes]) -> None:
    doc = _doc(tiny_snapshots[2])
    doc["version"] = 0
    with pytest.raises(SnapshotError, match="the header says version 1"):
        read_snapshot_bytes(_encode(doc, 1), "x")


# ---- columnar encoding --------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1), st.text(max_size=5),
    st.binary(max_size=6),
)
_int_lists = st.lists(st.one_of(st.integers(-300, 300), st.integers(-(1 << 63), (1 << 64) - 1)),
                      min_size=0, max_size=20)
_rows = st.integers(1, 9).flatmap(
    lambda w: st.lists(st.lists(st.integers(-(1 << 40), 1 << 40), min_size=w, max_size=w),
                       max_size=12))
_blobs = st.integers(1, 5).flatmap(
    lambda n: st.lists(st.binary(min_size=n, max_size=n), max_size=12))
_trees = st.recursive(
    st.one_of(_scalars, _int_lists, _rows, _blobs, st.lists(st.booleans(), max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=12),
                            st.dictionaries(st.text(max_size=4), inner, max_size=6)),
    max_leaves=15,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=4), _trees, max_size=6))
def test_columnar_encoding_round_trips(tree: dict[str, object]) -> None:
    packed = encode(tree)
    back = msgpack.unpackb(packed, raw=False, strict_map_key=True, ext_hook=ext_hook)
    assert back == tree
    # what is hashed is the plain form, so a round trip must not change a single bit of it
    plain = msgpack.packb(tree, use_bin_type=True)
    assert msgpack.packb(back, use_bin_type=True) == plain
    # and the one-walk hash is the hash of the plain form
    assert snap.state_digest(tree) == hashlib.sha256(plain).hexdigest()


def test_columnar_encoding_is_used_for_long_lists() -> None:
    ints = list(range(1000))
    enc = msgpack.unpackb(encode({"a": ints, "b": [b"abcd"] * 10, "c": [[1, 2]] * 10,
                                        "d": [True] * 10, "e": [1, "x"] * 10}))
    assert isinstance(enc["a"], msgpack.ExtType) and enc["a"].code == snap.EXT_INTS
    assert enc["a"].data[0] == 2  # 16-bit values
    assert isinstance(enc["b"], msgpack.ExtType) and enc["b"].code == snap.EXT_BYTES
    assert isinstance(enc["c"], msgpack.ExtType) and enc["c"].code == snap.EXT_ROWS
    assert enc["d"] == [True] * 10  # bools stay bools
    assert enc["e"] == [1, "x"] * 10


def test_large_byte_strings_and_headers_hash_like_msgpack() -> None:
    big = bytes(range(256)) * 300
    tree: dict[str, object] = {
        "blob": big, "blobs": [big, b"x", big], "small": b"abc", "mid": bytes(300),
        "many": {f"k{i}": i for i in range(70_000)}, "list": list(range(70_000)),
        "nested": [[i, "s"] for i in range(20)], "tuple": (1, 2, (3, 4)),
        "empty": {}, "none": [], "long": bytes(70_000),
        # a list of byte strings only, some large (as RAM frames and oracle pages are)
        "pages": [big, big, b"", bytes(300), bytes(70_000), big], "page_tuple": (big, b"y"),
    }
    plain = msgpack.packb(tree, use_bin_type=True)
    assert snap.state_digest(tree) == hashlib.sha256(plain).hexdigest()
    back = msgpack.unpackb(encode(tree), raw=False, ext_hook=ext_hook)
    assert msgpack.packb(back, use_bin_type=True) == plain


@pytest.mark.parametrize("code,data", [
    (snap.EXT_INTS, b""), (snap.EXT_INTS, b"\x03abc"), (snap.EXT_INTS, b"\x04abc"),
    (snap.EXT_BYTES, b"\x00\x00\x00\x00ab"), (snap.EXT_BYTES, b"\x03\x00\x00\x00abcd"),
    (snap.EXT_BYTES, b"ab"), (snap.EXT_ROWS, b"\x00\x01\x05"), (snap.EXT_ROWS, b"\x03\x01\x05"),
    (snap.EXT_ROWS, b"\x09\x01" + bytes(9)), (99, b"x"),
])
def test_bad_ext_types_are_value_errors(code: int, data: bytes) -> None:
    with pytest.raises(ValueError):
        ext_hook(code, data)


# ---- the scenario as plain data -----------------------------------------------------------------


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_scenarios_survive_the_plain_data_form(name: str) -> None:
    scn = load_builtin(name)
    doc = scenario_doc(scn)
    again = load_text(toml_text(doc), source=scn.source)
    assert scenario_doc(again) == doc
    assert again.checkpoint_names() == scn.checkpoint_names()
    assert [e.check.text for e in again.expectations] == [e.check.text for e in scn.expectations]


def test_awkward_strings_survive_the_plain_data_form() -> None:
    text = TINY_TOML.replace(
        'description = "A small',
        'description = "quotes \\" backslash \\\\ tab \\t del \\u007f é 😀 A small')
    scn = load_text(text, source="odd.toml")
    again = scenario_from_section({"doc": scenario_doc(scn), "source": "odd.toml"})
    assert again.description == scn.description
    assert "\x7f" in again.description and "😀" in again.description


def test_a_scenario_the_loader_refuses_is_refused() -> None:
    doc = scenario_doc(tiny_scenario())
    doc["machine"] = {**doc["machine"], "memroy": 1}  # type: ignore[dict-item]
    with pytest.raises(SnapshotError, match=re.escape('scenario section: snap-tiny.toml: '
                                                      'machine: unknown key "memroy"')):
        scenario_from_section({"doc": doc, "source": "snap-tiny.toml"})


# ---- info, decode, diff -------------------------------------------------------------------------


def test_info(tiny_snapshots: tuple[Path, Path, bytes]) -> None:
    info = snapshot_info(tiny_snapshots[0])
    s = load_snapshot(tiny_snapshots[0])
    assert info["scenario"] == "snap-tiny"
    assert info["kernel"] == {"profile": "2.6.7", "writeback": "tags", "rmap": "anon_vma",
                              "vmscan": "2.6.6", "swapin": "2.6.7"}
    assert info["events"] == s.events
    assert info["sim_time_ns"] == s.sim_time_ns
    assert info["state_hash"] == s.state_hash()
    assert info["checkpoints"] == ["filled"]
    counters = info["counters"]
    assert isinstance(counters, dict)
    metrics = s.kernel.metrics()
    for name in ("nr_free_pages", "nr_dirty", "pswpout", "pgfault", "disk_requests",
                 "head_travel_sectors"):
        assert counters[name] == metrics[name], name


def test_info_command(tiny_snapshots: tuple[Path, Path, bytes],
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "info", str(tiny_snapshots[0])]) == 0
    out = capsys.readouterr().out
    assert "scenario:         snap-tiny (snap-tiny.toml)" in out
    assert ("kernel:           2.6.7 (writeback=tags, rmap=anon_vma, vmscan=2.6.6, "
            "swapin=2.6.7)") in out
    assert "checkpoints hit:  filled" in out
    assert "state hash:" in out and "nr_free_pages" in out
    assert main(["snapshot", "info", str(tiny_snapshots[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"] == "snap-tiny"


def test_decode_is_json_and_sections_narrow_it(tiny_snapshots: tuple[Path, Path, bytes],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    whole = json.loads(decode(tiny_snapshots[0]))
    assert list(whole) == list(snap.TOP_KEYS)
    mem = whole["state"]["machine"]["mem"]
    assert mem["data"]["$bytes"] > 0 and len(mem["data"]["sha256"]) == 64
    tasks = json.loads(decode(tiny_snapshots[0], "state.kernel.tasks"))
    assert [t["name"] for t in tasks][:3] == ["pdflush", "pdflush", "kswapd0"]
    first = json.loads(decode(tiny_snapshots[0], "state.kernel.tasks.3"))
    assert first["name"] == "writer"
    full = json.loads(decode(tiny_snapshots[0], "state.machine.mem", full_bytes=True))
    assert "base64" in full["data"]
    assert main(["snapshot", "decode", str(tiny_snapshots[0]), "--section", "session"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints"][0]["name"] == "filled"
    assert main(["snapshot", "decode", str(tiny_snapshots[0]), "--section", "state.nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith('vmlab snapshot: no section "nope" in state (it has: machine, cfg,')
    assert err.count("\n") == 1


def test_diff_of_a_snapshot_with_itself_is_empty(tiny_snapshots: tuple[Path, Path, bytes],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = diff(tiny_snapshots[0], tiny_snapshots[0])
    assert result.equal
    assert result.lines[-1] == "equal: the snapshots hold the same state"
    assert main(["snapshot", "diff", str(tiny_snapshots[0]), str(tiny_snapshots[0])]) == 0
    capsys.readouterr()


def test_diff_speaks_kernel(tiny_snapshots: tuple[Path, Path, bytes],
                            capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = tiny_snapshots
    result = diff(a, b)
    assert not result.equal
    text = "\n".join(result.lines)
    assert "counters:" in text and "events" in text
    assert "pages:" in text
    assert any(" → " in line and line.strip()[0].isdigit() and " pages " in line
               for line in result.lines)
    assert "tasks:" in text
    assert main(["snapshot", "diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"A: {a}: snap-tiny (snap-tiny.toml), kernel 2.6.7 ")


def test_diff_counts_pages_by_transition() -> None:
    s = tiny_session()
    s.run(until_events=100)
    a = read_snapshot_bytes(snapshot_bytes(s), "a")
    b = read_snapshot_bytes(snapshot_bytes(s), "b")
    state = b["state"]
    assert isinstance(state, dict)
    mem_map = state["mem_map"]
    assert isinstance(mem_map, dict)
    flags = list(mem_map["flags"])
    dirty = 1 << 4
    changed = [pfn for pfn, f in enumerate(flags) if not f & dirty][:5]
    for pfn in changed:
        flags[pfn] |= dirty
    mem_map["flags"] = flags
    b["state_hash"] = "0" * 64
    result = snap.diff_docs(a, b)
    assert "  5 pages gained PG_dirty" in result.lines
    assert not result.equal


def test_load_snapshot_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        load_snapshot(tmp_path / "missing.vmsnap")
    with pytest.raises(SnapshotError, match="cannot write"):
        save_snapshot(tiny_session(), tmp_path / "no" / "dir" / "x.vmsnap")
