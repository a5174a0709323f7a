"""Forged snapshots: a hand-edited state with a recomputed hash is refused when one of its
fields contradicts the structures that should agree with it, with the first contradiction
named, and accepted when it contradicts nothing.

The fields are those only ``kernelmodel.check.check_fields`` looks at: the links of a page on no
list, ``free_order``, ``private``, ``pte_direct``, ``list_id`` and the block bitmap.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scenarios.loader import load_text
from scenarios.session import Session
from scenarios.snapshot import (
    SnapshotError,
    load_snapshot_bytes,
    snapshot_bytes,
)
from tests.scenarios.forge_support import State, forge, mem_map, zone

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
           "touch 0x4000_0000 64KiB write", "fsync f", "read f 0 16KiB", "close f"]
[[expect]]
check = "data_verified and invariants_ok"
"""



@pytest.fixture(scope="module")
def source() -> bytes:
    s = Session(load_text(TOML, source="forged.toml"))
    s.run(until_events=6)
    # Every byte stored: the forger re-hashes the state as written, and a compact state's
    # described pages hash only once the reader has filled them in.
    return snapshot_bytes(s, compact=False)


def _idle_node(s: State) -> int:
    """A page on no list, not free: links -1 and no special fields."""
    z, m = zone(s), mem_map(s)
    for i in range(len(z["free_order"])):
        if z["lru_next"][i] == -1 and z["free_order"][i] == -1 and m["flags"][i] == 0 \
                and m["_count"][i] > 0:
            return i
    raise AssertionError("no idle page in the source state")


def _lru_prev(s: State) -> None:
    zone(s)["lru_prev"][_idle_node(s)] = 1 << 62


def _free_order(s: State) -> None:
    zone(s)["free_order"][_idle_node(s)] = -2


def _private(s: State) -> None:
    mem_map(s)["private"][_idle_node(s)] = 5


def _pte_direct(s: State) -> None:
    mem_map(s)["pte_direct"][_idle_node(s)] = 0x1000


def _list_id(s: State) -> None:
    mem_map(s)["list_id"][_idle_node(s)] = 3


def _bitmap(s: State) -> None:
    sb = s["sb"]
    assert isinstance(sb, dict)
    bitmap = bytearray(sb["s_bitmap"])
    block = bitmap.index(0, 1)
    bitmap[block] = 1
    sb["s_bitmap"] = bytes(bitmap)
    # the free count agrees: only an owner is missing
    sb["s_free_blocks"] = int(sb["s_free_blocks"]) - 1


FORGERIES = [
    ("lru_prev = 2^62 on a page on no list", _lru_prev, "on no list but its lru links are -1, "
                                                         "4611686018427387904"),
    ("free_order = -2", _free_order, "free_order -2 is not -1 or 0..10"),
    ("private on a plain page", _private, "private 5 without PG_swapcache"),
    ("pte_direct without PG_direct", _pte_direct, "pte_direct 0x1000 without PG_direct"),
    ("list_id under tag writeback", _list_id, "list_id 3 with writeback=tags"),
    ("a block no inode holds marked in use", _bitmap, "marked in use but no inode holds it"),
]


@pytest.mark.parametrize(("what", "change", "want"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_contradictory_state_is_refused_naming_it(source: bytes, what: str,
                                                  change: Callable[[State], None],
                                                  want: str) -> None:
    with pytest.raises(SnapshotError) as exc:
        load_snapshot_bytes(forge(source, change), "forged.vmsnap")
    assert want in str(exc.value), str(exc.value)
    assert "\n" not in str(exc.value)


def test_self_consistent_forgery_is_accepted(source: bytes) -> None:
    """A different random-number state contradicts nothing: it loads and runs to the end."""
    def reseed(s: State) -> None:
        s["rng"] = {"state": 987654321}

    session = load_snapshot_bytes(forge(source, reseed), "reseeded.vmsnap")
    assert session.run() == "end"
    assert session.metrics()["invariants_ok"] == 1
