"""Forged snapshots, second round: hand-edited states with a recomputed hash that contradict
nothing the earlier checks looked at, each refused now with the first contradiction named
in one line (``SnapshotContradiction`` from the loader, exit 2 from the CLI).

Each forgery here restored without complaint before the struct page fields were checked
against every structure that should agree with them (check_fields), the filesystem's
metadata against itself (check_fs) and the disk against the data the oracle says a sync made
durable (check_durable). The forgeries of test_snapshot_forged.py (links of a page on no
list, free_order -2, ...) were already refused and stay there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios.cli.main import main
from scenarios.loader import load_text
from scenarios.session import Session
from scenarios.snapshot import (
    SnapshotContradiction,
    load_snapshot_bytes,
    snapshot_bytes,
)
from tests.scenarios.forge_support import State, forge, mem_map, zone

# A file written, fsynced (acknowledged) and read back (its pages cached), anonymous memory
# touched, then the checkpoint the sources stop at.
TOML = """
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
program = ["open f", "write f 0 8KiB", "mmap 0x4000_0000 64KiB anon private rw",
           "touch 0x4000_0000 64KiB write", "fsync f", "read f 0 16KiB", "checkpoint synced",
           "sleep 1ms", "close f"]
"""


PG_locked = 0
PG_writeback = 13
PG_private = 12
PG_direct = 16
PG_anon = 20


def _source(kernel: str) -> bytes:
    s = Session(load_text(TOML, source="forged.toml"), kernel=kernel)
    assert s.run(until_checkpoint="synced") == "checkpoint"
    return snapshot_bytes(s, compact=False)


@pytest.fixture(scope="module")
def sources() -> dict[str, bytes]:
    return {"2.6.7": _source("2.6.7"), "2.6.5": _source("2.6.5")}


def _sb(s: State) -> dict[str, object]:
    return s["sb"]  # type: ignore[return-value]


def _inode(s: State, path: str) -> dict[str, object]:
    ino = _sb(s)["s_names"][path]  # type: ignore[index]
    for inode in _sb(s)["s_inodes"]:  # type: ignore[attr-defined]
        if inode["i_ino"] == ino:
            return inode  # type: ignore[no-any-return]
    raise AssertionError(f"no inode {ino}")


def _first(s: State, want: Callable[[int], bool]) -> int:
    for pfn in range(len(mem_map(s)["flags"])):
        if want(pfn):
            return pfn
    raise AssertionError("no such page in the source state")


def _free_page(s: State) -> int:
    return _first(s, lambda pfn: zone(s)["free_order"][pfn] >= 0)


def _kernel_page(s: State) -> int:
    """An allocated page with no flags and on no list (a page table, say)."""
    m = mem_map(s)
    return _first(s, lambda pfn: m["flags"][pfn] == 0 and m["_count"][pfn] > 0
                  and zone(s)["free_order"][pfn] == -1 and m["_mapcount"][pfn] == 0)


def _anon_page(s: State) -> int:
    return _first(s, lambda pfn: mem_map(s)["flags"][pfn] & (1 << PG_anon) != 0)


def _set_flag(s: State, pfn: int, bit: int) -> None:
    mem_map(s)["flags"][pfn] |= 1 << bit


def _locked_free_page(s: State) -> None:
    _set_flag(s, _free_page(s), PG_locked)


def _private_with_pg_private(s: State) -> None:
    pfn = _kernel_page(s)
    _set_flag(s, pfn, PG_private)
    mem_map(s)["private"][pfn] = 5


def _direct_without_chains(s: State) -> None:
    pfn = _anon_page(s)
    _set_flag(s, pfn, PG_direct)
    mem_map(s)["pte_direct"][pfn] = 0x1000


def _list_id_on_anon_page(s: State) -> None:
    mem_map(s)["list_id"][_anon_page(s)] = 2  # dirty_pages, of no mapping


def _count_zero_allocated(s: State) -> None:
    mem_map(s)["_count"][_kernel_page(s)] = 0


def _writeback_without_bio(s: State) -> None:
    """A page under writeback (nr_writeback counts it) whose write nobody submitted."""
    _set_flag(s, _kernel_page(s), PG_writeback)
    s["vmstat"]["nr_writeback"] += 1  # type: ignore[index, operator]


def _dirtied_when_under_tags(s: State) -> None:
    mem_map(s)["dirtied_when"][_kernel_page(s)] = 1


def _cursor_outside(s: State) -> None:
    """The allocation cursor past the last block (ext2_new_block keeps it on a data block)."""
    sb = _sb(s)
    sb["s_next_block"] = int(sb["s_nblocks"]) + 7  # type: ignore[call-overload]


def _free_count(s: State) -> None:
    sb = _sb(s)
    sb["s_free_blocks"] = int(sb["s_free_blocks"]) + 1  # type: ignore[call-overload]


def _poke_disk(s: State, block: int, offset: int, xor: int) -> None:
    """XOR one byte of disk block ``block`` (the disk keeps its non-zero 4 KiB chunks, one
    per block, in block order)."""
    disk = s["machine"]["disk"]  # type: ignore[index]
    chunks: list[int] = disk["chunks"]
    data = bytearray(disk["chunk_data"])
    if block not in chunks:
        at = sum(1 for c in chunks if c < block)
        chunks.insert(at, block)
        data[at * 4096 : at * 4096] = bytes(4096)
    at = chunks.index(block)
    data[at * 4096 + offset] ^= xor
    disk["chunk_data"] = bytes(data)


def _disk_block(s: State) -> None:
    """One byte of the disk block of f's page 0, which fsync acknowledged and the page cache
    still holds (so the oracle names the frame and every earlier check read the frame)."""
    inode = _inode(s, "f")
    blocks = dict(zip(inode["block_index"], inode["block_no"], strict=True))  # type: ignore[call-overload]
    _poke_disk(s, blocks[0], 7, 0xFF)


FORGERIES = [
    ("PG_locked on a page in a free block", "2.6.7", _locked_free_page,
     "in a free block but has PG_locked"),
    ("private with PG_private, which no page has", "2.6.7", _private_with_pg_private,
     "PG_private, which this model never sets"),
    ("PG_direct and pte_direct without pte chains", "2.6.7", _direct_without_chains,
     "PG_direct with rmap=anon_vma"),
    ("list_id on an anonymous page", "2.6.5", _list_id_on_anon_page,
     "list_id 2 but the page is on list 0 of its mapping"),
    ("count 0 on an allocated page", "2.6.7", _count_zero_allocated,
     "count 0 but in no free block"),
    ("PG_writeback without a bio", "2.6.7", _writeback_without_bio,
     "PG_writeback but in no bio in flight"),
    ("dirtied_when under tags", "2.6.7", _dirtied_when_under_tags,
     "dirtied_when 1 with writeback=tags"),
    ("the allocation cursor outside the data blocks", "2.6.7", _cursor_outside,
     "is not a data block"),
    ("s_free_blocks disagrees with the bitmap", "2.6.7", _free_count,
     "but the bitmap has"),
    ("acknowledged data not in its disk block", "2.6.7", _disk_block,
     "page 0: acknowledged by a sync, but byte 7 differs in disk block"),
    ("acknowledged data not in its disk block (2.6.5)", "2.6.5", _disk_block,
     "page 0: acknowledged by a sync, but byte 7 differs in disk block"),
]


@pytest.mark.parametrize(("what", "kernel", "change", "want"), FORGERIES,
                         ids=[f[0] for f in FORGERIES])
def test_contradiction_is_refused_naming_it(sources: dict[str, bytes], what: str, kernel: str,
                                            change: Callable[[State], None], want: str) -> None:
    with pytest.raises(SnapshotContradiction) as exc:
        load_snapshot_bytes(forge(sources[kernel], change), "forged.vmsnap")
    text = str(exc.value)
    assert want in text, text
    assert "\n" not in text and text.startswith("forged.vmsnap: ")


def test_the_sources_load_and_a_consistent_forgery_is_accepted(sources: dict[str, bytes]
                                                               ) -> None:
    """No false refusal: the sources as written, and a byte changed in a free block of the
    disk (no file holds it, no oracle page names it), load and run to the end."""
    def free_block(s: State) -> None:
        bitmap = _sb(s)["s_bitmap"]
        assert isinstance(bitmap, bytes)
        _poke_disk(s, bitmap.index(0, 1), 0, 0x5A)

    for data in sources.values():
        for session in (load_snapshot_bytes(data, "as-written.vmsnap"),
                        load_snapshot_bytes(forge(data, free_block), "free-block.vmsnap")):
            assert session.run() == "end"
            assert session.metrics()["invariants_ok"] == 1
            assert session.metrics()["data_verified"] == 1


def test_cli_refuses_a_contradiction_with_one_line(sources: dict[str, bytes], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "forged.vmsnap"
    path.write_bytes(forge(sources["2.6.7"], _disk_block))
    assert main(["resume", str(path), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "acknowledged by a sync" in err, err
