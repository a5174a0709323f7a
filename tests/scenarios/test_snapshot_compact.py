"""Compact snapshots: file data that follows from the scenario's writes and boot files is
stored as those (scenarios/snapshot/described.py); ``--full`` stores every byte; both load
into the same state."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest

from kernelmodel.lib.payload import PAYLOAD_GENERATOR, PAYLOAD_GENERATORS, vl_payload_slice
from scenarios.cli.main import main
from scenarios.loader import load_text
from scenarios.session import Session
from scenarios.snapshot import (
    SnapshotError,
    load_snapshot_bytes,
    read_snapshot_bytes,
    snapshot_bytes,
    snapshot_info,
)
from scenarios.snapshot.described import recipe_bytes
from scenarios.snapshot.fileformat import compress
from scenarios.state_codec import encode, ext_hook

WRITES = """
name = "compact-writes"
description = "random writes over a random boot file, partly written back"
seed = 9
duration = "5s"

[machine]
memory = "8MiB"
disk = "32MiB"
swap = "8MiB"

[[files]]
path = "data"
size = "2MiB"
content = "random"

[[tasks]]
name = "writer"
program = "writer"

[programs]
writer = [
  "open data",
  "read data 0 2MiB",
  "write data 0 4KiB x 256 random",
  "fsync data",
  "write data 0 4KiB x 64 random",
  "close data",
]
"""


@pytest.fixture(scope="module")
def session() -> Session:
    s = Session(load_text(WRITES, source="compact-writes.toml", default_name="x"))
    s.run()
    return s


def _described(data: bytes) -> dict[str, object]:
    doc = read_snapshot_bytes(data, "x")["described"]
    assert isinstance(doc, dict)
    return doc


def test_compact_and_full_hold_the_same_state(session: Session) -> None:
    compact = snapshot_bytes(session)
    full = snapshot_bytes(session, compact=False)
    assert len(compact) * 4 < len(full)
    described = _described(compact)
    assert described["mem"]["pages"] and described["disk"]["pages"]  # type: ignore[index]
    assert _described(full) == {}
    for data, is_compact in ((compact, True), (full, False)):
        restored = load_snapshot_bytes(data)
        assert restored.state_hash() == session.state_hash()
        assert snapshot_bytes(restored, compact=is_compact) == data
    # boot-file pages and written pages are both recipes
    kinds = {r[0] for r in described["recipes"]}  # type: ignore[index, union-attr]
    assert kinds == {0, 1}


def _recoded(data: bytes, change: object) -> bytes:
    """The raw map of a snapshot, changed by ``change(doc)``, encoded again (the described
    pages stay zeroed, as in the file)."""
    import zstandard

    payload = zstandard.ZstdDecompressor().decompress(data[12:])
    doc = msgpack.unpackb(payload, raw=False, strict_map_key=True,
                          ext_hook=ext_hook)
    change(doc)  # type: ignore[operator]
    return data[:12] + compress(encode(doc))


def test_a_description_that_lies_is_refused(session: Session) -> None:
    data = snapshot_bytes(session)
    assert load_snapshot_bytes(_recoded(data, lambda d: None)).state_hash() == \
        session.state_hash()

    def other_seed(d: dict) -> None:  # type: ignore[type-arg]
        write = next(r for r in d["described"]["recipes"] if r[0] == 0)
        write[1] += 1

    def bytes_under(d: dict) -> None:  # type: ignore[type-arg]
        mem = d["state"]["machine"]["mem"]
        k = d["described"]["mem"]["pages"][0]
        blob = bytearray(mem["data"])
        blob[k * 4096] = 1
        mem["data"] = bytes(blob)

    def bad_recipe(d: dict) -> None:  # type: ignore[type-arg]
        d["described"]["recipes"][0] = [7, 1, 2]

    def out_of_range(d: dict) -> None:  # type: ignore[type-arg]
        d["described"]["disk"]["pages"][-1] = 10**9

    def too_many(d: dict) -> None:  # type: ignore[type-arg]
        d["described"]["recipes"] *= 10_000

    def more_pages_than_ram(d: dict) -> None:  # type: ignore[type-arg]
        d["described"]["mem"]["pages"] = list(range(10**6))

    for change, message in ((other_seed, "does not match|differs from the saved"),
                            (too_many, "more recipes than described pages"),
                            (more_pages_than_ram, "more described pages than the state"),
                            (bytes_under, "not stored as zeros"),
                            (bad_recipe, "not a recipe"),
                            (out_of_range, "out of range")):
        with pytest.raises(SnapshotError, match=message):
            load_snapshot_bytes(_recoded(data, change), "bad.vmsnap")


def test_recipes_are_checked() -> None:
    for generator in PAYLOAD_GENERATORS:
        assert len(recipe_bytes([0, 5, 4096], generator)) == 4096
        assert recipe_bytes([0, 5, 4096], generator) != recipe_bytes([0, 5, 8192], generator)
        assert recipe_bytes([0, 5, 4096], generator) == vl_payload_slice(generator, 5, 4096, 4096)
    assert recipe_bytes([0, 5, 4096], 1) != recipe_bytes([0, 5, 4096], 2)
    for bad in ([0, -1, 0], [1, 9, 1, 4096, 0], [1, 2, 1, 4096, 1], [0, 1], ["0", 1, 2]):
        with pytest.raises(ValueError):
            recipe_bytes(bad, PAYLOAD_GENERATOR)
    with pytest.raises(ValueError, match="unknown payload generator"):
        recipe_bytes([0, 5, 4096], 3)


def test_full_and_compact_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "w.toml"
    toml.write_text(WRITES)
    a, b = tmp_path / "a.vmsnap", tmp_path / "b.vmsnap"
    base = ["run", str(toml), "--quiet", "--snapshot-at", "1s"]
    assert main([*base, "--snapshot-out", str(a)]) == 0
    assert main([*base, "--snapshot-out", str(b), "--full"]) == 0
    assert a.stat().st_size * 4 < b.stat().st_size
    assert main(["snapshot", "diff", str(a), str(b)]) == 0
    capsys.readouterr()
    for argv in (["run", str(toml), "--full"],
                 [*base, "--snapshot-out", str(a), "--full", "--compact"]):
        with pytest.raises(SystemExit) if "--compact" in argv else _no_raise():
            assert main(argv) == 2
        assert capsys.readouterr().err.count("\n") == 1
    info = snapshot_info(a)
    assert info["described_pages"] > 0
    sections = [s["section"] for s in info["space"]]  # type: ignore[union-attr, index]
    assert "state.machine.disk" in sections and "described" in sections
    assert sum(s["compressed"] for s in info["space"]) > 0  # type: ignore[union-attr, misc]
    assert main(["snapshot", "info", str(a)]) == 0
    out = capsys.readouterr().out
    assert f"space ({info['described_pages']:,} pages" in out
    assert main(["snapshot", "info", str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["described_pages"] == 0


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.slow
def test_writeback_order_at_its_end_is_under_two_megabytes() -> None:
    """The 64 MiB writeback-order run: 14.5 MB stored full, well under 2 MB compact."""
    s = Session.load("writeback-order")
    s.run()
    compact = snapshot_bytes(s)
    assert len(compact) < 2_000_000
    assert len(snapshot_bytes(s, compact=False)) > 10_000_000
    assert load_snapshot_bytes(compact).state_hash() == s.state_hash()
