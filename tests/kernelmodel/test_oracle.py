"""Tests for kernelmodel/oracle/oracle.py: payload streams, boot contents, the expected-bytes model
against a plain bytearray, fsync acknowledgements, verification and the state round trip."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fs import boot_kernel

from kernelmodel.fs.fs import BLOCK_SECTORS, vl_create_file, vl_new_inode
from kernelmodel.lib.payload import PAYLOAD_GENERATOR, vl_payload_slice
from kernelmodel.lib.rng import vl_pattern_bytes
from kernelmodel.oracle.oracle import (
    BASE_PATTERN,
    BASE_RANDOM,
    BASE_ZERO,
    oracle_file_expected,
    oracle_file_size,
    oracle_file_truncate,
    oracle_file_write,
    oracle_fsync_acked,
    oracle_fsync_begin,
    oracle_read_mismatch,
    oracle_sync_acked,
    vl_base_page,
    vl_compare,
    vl_pattern_slice,
    vl_verify_durable,
    vl_verify_files,
)
from kernelmodel.oracle.state_generated import load_oracle

_SMALL = {"mem_mb": 4, "disk_mb": 16, "swap_mb": 4}


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 5000), st.integers(0, 3000))
def test_pattern_slice_is_a_window_of_the_stream(seed: int, start: int, length: int) -> None:
    assert vl_pattern_slice(seed, start, length) == vl_pattern_bytes(seed, start + length)[start:]


def test_base_pages() -> None:
    assert vl_base_page(BASE_ZERO, 5, 10000, 0) == bytes(4096)
    page = vl_base_page(BASE_PATTERN, 0x11, 8192, 1)
    assert page[:4] == (4096 ^ 0x11).to_bytes(4, "little")
    assert page[8:12] == (4104 ^ 0x11).to_bytes(4, "little")
    tail = vl_base_page(BASE_RANDOM, 9, 4096 + 10, 1)
    whole = vl_base_page(BASE_RANDOM, 9, 8192, 1)
    assert tail[:10] == whole[:10] and tail[10:] == bytes(4086)
    assert whole != vl_base_page(BASE_RANDOM, 9, 8192, 0) != vl_base_page(BASE_RANDOM, 8, 8192, 0)
    # the definition of a random page (stable across releases: scenario files rely on it)
    key = (9).to_bytes(8, "little") + (1).to_bytes(8, "little")
    assert whole == hashlib.shake_128(key).digest(4096)
    assert vl_base_page(BASE_RANDOM, 9, 4096, 1) == bytes(4096)


def test_compare() -> None:
    assert vl_compare(b"abcd", b"abcd", 4) == -1
    assert vl_compare(b"abcd", b"abXd", 4) == 2
    assert vl_compare(b"abcd", b"abXd", 2) == -1


_op = st.one_of(
    st.tuples(st.just("w"), st.integers(0, 40000), st.integers(1, 9000), st.integers(0, 99)),
    st.tuples(st.just("t"), st.integers(0, 45000), st.just(0), st.just(0)),
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["zero", "pattern", "random"]),
    st.integers(0, 20000),
    st.lists(_op, max_size=12),
)
def test_expected_bytes_follow_a_bytearray(
    content: str, size: int, ops: list[tuple[str, int, int, int]]
) -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", size, content, 77)
    ino = inode.i_ino
    npages = (size + 4095) // 4096
    model = bytearray(b"".join(oracle_file_expected(k, ino, i) for i in range(npages)))
    del model[size:]
    for kind, a, b, seed in ops:
        if kind == "w":
            # the write path's form: bytes [0, b) of a payload stream, named by its seed
            # (pages it covers whole are kept as that description, the others as bytes)
            data = vl_payload_slice(PAYLOAD_GENERATOR, seed, 0, b)
            oracle_file_write(k, ino, a, data, False, seed, 0)
            if a > len(model):
                model.extend(bytes(a - len(model)))
            model[a : a + b] = data
        else:
            oracle_file_truncate(k, ino, a)
            if a < len(model):
                del model[a:]
            else:
                model.extend(bytes(a - len(model)))
        assert oracle_file_size(k, ino) == len(model)
    npages = (len(model) + 4095) // 4096
    got = b"".join(oracle_file_expected(k, ino, i) for i in range(npages + 1))
    assert got[: len(model)] == bytes(model)
    assert got[len(model) :] == bytes(len(got) - len(model))
    back = load_oracle(k.oracle.to_state(k), k.machine.mem, k.machine.disk).files[ino]
    assert back.described == k.oracle.files[ino].described
    assert b"".join(back.expected(i) for i in range(npages + 1)) == got


def test_fsync_acks_only_pages_unchanged_since_begin() -> None:
    k = boot_kernel(**_SMALL)
    ino = vl_new_inode(k, "f").i_ino
    oracle_file_write(k, ino, 0, b"a" * 8192)
    token = oracle_fsync_begin(k, ino)
    oracle_file_write(k, ino, 4096, b"b" * 10)
    oracle_fsync_acked(k, ino, token)
    f = k.oracle.files[ino]
    assert list(f.acked) == [0]
    oracle_sync_acked(k, oracle_fsync_begin(k, ino))
    assert sorted(f.acked) == [0, 1]


def test_verify_durable_counts_lost_bytes_after_a_power_cut() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 8192, "random", 1)
    ino = inode.i_ino
    token = oracle_fsync_begin(k, ino)
    oracle_fsync_acked(k, ino, token)
    assert vl_verify_durable(k) == (0, [])
    # the disk loses block 1's data: every acknowledged byte there that was not zero is lost
    block = inode.i_blocks[1]
    k.machine.disk.write_sectors(block * BLOCK_SECTORS, bytes(4096))
    want = oracle_file_expected(k, ino, 1)
    lost, problems = vl_verify_durable(k)
    assert lost == sum(1 for x in want if x != 0) and len(problems) == 1
    # rewriting the page after the ack takes it out of the promise
    oracle_file_write(k, ino, 4096, b"x")
    assert vl_verify_durable(k)[0] == 0


def test_verify_files_finds_disk_damage_and_size_errors() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 5000, "pattern", 3)
    assert vl_verify_files(k) == []
    k.machine.disk.write_sectors(inode.i_blocks[1] * BLOCK_SECTORS, b"\xff" * 512)
    problems = vl_verify_files(k)
    assert len(problems) == 1 and "page 1: byte 0" in problems[0]
    inode.i_size = 1
    assert any("i_size 1" in p for p in vl_verify_files(k))


def test_read_mismatch_log_and_state_round_trip() -> None:
    k = boot_kernel(**_SMALL)
    ino = vl_create_file(k, "f", 5000, "random", 3).i_ino
    oracle_file_write(k, ino, 100, b"hello")
    oracle_fsync_acked(k, ino, oracle_fsync_begin(k, ino))
    oracle_read_mismatch(k, ino, 0, 10, 3)
    assert k.oracle.read_mismatches == 1 and "first bad byte at 3" in k.oracle.log[0]
    state = k.oracle.to_state(k)
    assert load_oracle(state, k.machine.mem, k.machine.disk).to_state(k) == state


def test_state_names_the_page_cache_frame_or_disk_block_holding_a_page() -> None:
    """A stored page equal to its uptodate page-cache page is stored as the frame; else, equal
    to its disk block, as the block's sectors; else as bytes. Restoring reads the places."""
    from test_swap_support import file_page

    from kernelmodel.include.page import PageUptodate

    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 3 * 4096, "random", 3)
    ino = inode.i_ino
    for index in range(3):
        oracle_file_write(k, ino, index * 4096, bytes([index + 1]) * 4096)
    cached = file_page(k, inode.i_mapping, 0)
    assert PageUptodate(cached)
    k.machine.mem.write(cached.pfn << 12, b"\x01" * 4096)
    sector = inode.i_blocks[1] * BLOCK_SECTORS
    k.machine.disk.write_sectors(sector, b"\x02" * 4096)
    state = k.oracle.to_state(k)
    f = state["files"][0]
    assert f["page_index"] == [0, 1, 2]
    assert f["in_frame"] == [0, cached.pfn] and f["on_disk"] == [1, sector]
    assert f["page_data"] == [b"\x03" * 4096]  # page 2's block still holds the boot contents
    back = load_oracle(state, k.machine.mem, k.machine.disk)
    assert back.files[ino].pages == k.oracle.files[ino].pages
    assert list(back.files[ino].pages) == [0, 1, 2]
    assert back.to_state(k) == state
    # damaged places are refused
    for key, bad, message in (("in_frame", [0, 1 << 30], "outside RAM"),
                              ("on_disk", [1, -8], "outside the disk"),
                              ("in_frame", [0, cached.pfn, 0, cached.pfn], "two places"),
                              ("on_disk", [], "does not list each stored page once"),
                              ("in_frame", [7, cached.pfn], "neither bytes nor place")):
        broken = {**state, "files": [{**f, key: bad}]}
        with pytest.raises(ValueError, match=message):
            load_oracle(broken, k.machine.mem, k.machine.disk)
