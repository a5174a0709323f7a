"""Traces of real programs: conversion, relocation and replay (scenarios/trace, OP_REPLAY).

* the converter gives the same trace whatever the chunks the log arrives in, and
  ``vmlab trace record`` (streamed from valgrind) gives the bytes ``vmlab trace import`` gives
  for the log it kept;
* relocation keeps page identity: every distinct page of the trace is one distinct i386
  page, at the same offset, with the layout inside each region kept;
* with memory to spare and no fork, a replay takes exactly (distinct pages touched) +
  (pages whose first access is a read and that are written later) page faults;
* under memory pressure the replay swaps and every byte verifies;
* a snapshot taken mid-replay resumes to the same end as the uninterrupted run, and finds
  its trace again by the documented rule.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
from pathlib import Path

import pytest
from trace_support import (
    expected_faults,
    replay_toml,
    synthetic_log,
    write_scenario,
)

from scenarios.cli.main import main
from scenarios.session import Session
from scenarios.snapshot import SnapshotError, load_snapshot, save_snapshot
from scenarios.trace.format import (
    KINDS,
    TraceError,
    decode_trace,
    encode_trace,
    read_trace,
    write_trace,
)
from scenarios.trace.lackey import Converter
from scenarios.trace.library import load as load_trace
from scenarios.trace.regions import USER_END_PAGE, relocate

HAVE_VALGRIND = shutil.which("valgrind") is not None


def need_valgrind() -> None:
    """Skip without valgrind, except where it is required (CI sets VMLAB_REQUIRE_VALGRIND=1
    after installing it, so a missing valgrind fails there instead of hiding)."""
    if HAVE_VALGRIND:
        return
    if os.environ.get("VMLAB_REQUIRE_VALGRIND") == "1":
        pytest.fail("valgrind is required (VMLAB_REQUIRE_VALGRIND=1) but not installed")
    pytest.skip("valgrind is not installed")


def convert(log: bytes, chunks: list[int] | None = None) -> bytes:
    conv = Converter()
    pos = 0
    for n in chunks or [len(log)]:
        conv.feed(log[pos : pos + n])
        pos += n
    conv.feed(log[pos:])
    return encode_trace(conv.finish())


def make_trace(dirpath: Path, name: str = "synth.vmtrace", **kw: int) -> Path:
    conv = Converter()
    conv.feed(synthetic_log(**kw))
    path = dirpath / name
    write_trace(conv.finish(), path)
    return path


# ---- conversion -------------------------------------------------------------------------------


def test_conversion_does_not_depend_on_how_the_log_is_chunked() -> None:
    log = synthetic_log(seed=3)
    whole = convert(log)
    rng = random.Random(9)
    for _ in range(20):
        chunks = [rng.randint(1, 97) for _ in range(len(log) // 40)]
        assert convert(log, chunks) == whole
    t = decode_trace(whole, "synth")
    assert t.command == "synth --seed 3"
    assert t.accesses == sum(t.kinds[k] for k in KINDS)
    assert [r.name for r in t.regions] == ["text", "heap", "mmap.1", "stack"]


def test_a_log_without_trailing_newline_and_with_crlf_is_accepted() -> None:
    log = synthetic_log(seed=4)
    assert convert(log.rstrip(b"\n")) == convert(log)
    assert convert(log.replace(b"\n", b"\r\n")) == convert(log)


@pytest.mark.parametrize("bad", [b"hello world\n", b"I  zz,4\n", b" X 1000,4\n",
                                 b" L 1000,0\n", b" L 1000,5000\n", b"x" * 70000])
def test_a_foreign_log_is_refused_with_its_line_number(bad: bytes) -> None:
    conv = Converter()
    with pytest.raises(TraceError, match="line"):
        conv.feed(synthetic_log()[:200].rsplit(b"\n", 1)[0] + b"\n" + bad)
        conv.finish()


def test_an_empty_log_is_refused() -> None:
    conv = Converter()
    conv.feed(b"==1== Command: nothing\n")
    with pytest.raises(TraceError, match="no memory accesses"):
        conv.finish()


def test_import_and_info_on_the_command_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "synth.log"
    log.write_bytes(synthetic_log(seed=2))
    out = tmp_path / "synth.vmtrace"
    assert main(["trace", "import", str(log), str(out)]) == 0
    assert out.read_bytes() == convert(synthetic_log(seed=2))
    capsys.readouterr()
    assert main(["trace", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "synth --seed 2" in text
    assert "every distinct page of the trace is one distinct page of the replay" in text
    assert "stack" in text and "-> 0xbf" in text


# ---- relocation -------------------------------------------------------------------------------


def test_relocation_keeps_page_identity_offsets_and_region_layout(tmp_path: Path) -> None:
    t = read_trace(make_trace(tmp_path, heap_pages=40))
    placements = relocate(t.regions)
    loaded = load_trace(str(tmp_path / "synth.vmtrace"), ())
    mapping: dict[int, int] = {}
    i = 0
    runs = loaded.replay.runs
    acc = loaded.replay.acc
    for r, (page, n) in enumerate(zip(t.run_page, t.run_len, strict=True)):
        vpn = int.from_bytes(runs[8 * r : 8 * r + 4], "little")
        assert mapping.setdefault(page, vpn) == vpn
        for _ in range(n):
            offset = acc[2 * i] | (acc[2 * i + 1] & 0x0F) << 8
            assert offset == t.offset[i]  # the page offset is kept
            i += 1
    assert len(set(mapping.values())) == len(mapping)  # one i386 page per trace page
    for p in placements:
        assert p.base_page > 0 and p.base_page + p.region.npages <= USER_END_PAGE
        inside = [pg for pg in mapping if p.region.start_page <= pg < p.region.end_page]
        assert inside
        # the same delta for every page of a region: its layout is kept
        assert {mapping[pg] - pg for pg in inside} == {p.base_page - p.region.start_page}
    spans = sorted((p.base_page, p.base_page + p.region.npages) for p in placements)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_a_trace_that_fits_i386_keeps_its_addresses() -> None:
    conv = Converter()
    conv.feed(b"I  08048000,4\n S bfff0ff8,8\n L 0804a000,4\n")
    t = conv.finish()
    assert [(p.base_page, p.region.start_page) for p in relocate(t.regions)] == \
        [(r.start_page, r.start_page) for r in t.regions]


# ---- replay -----------------------------------------------------------------------------------


def test_replay_faults_exactly_once_per_page_plus_the_cow_of_read_first_pages(
        tmp_path: Path) -> None:
    path = make_trace(tmp_path, heap_pages=60)
    t = read_trace(path)
    pages, cow, total = expected_faults(t)
    assert cow > 5 and pages > 60
    s = Session.load(str(write_scenario(tmp_path, replay_toml("synth.vmtrace"))))
    before = s.metrics()
    s.run()
    m = s.metrics()
    assert m["pgfault"] - before["pgfault"] == total
    assert m["cow_faults"] == cow
    assert m["pswpout"] == 0
    assert m["cpu_accesses"] - before["cpu_accesses"] == t.accesses
    assert all(r.ok for r in s.evaluate_expectations())


def test_replay_repeat_and_speed(tmp_path: Path) -> None:
    path = make_trace(tmp_path, heap_pages=20)
    t = read_trace(path)
    _, _, total = expected_faults(t)
    times = {}
    for speed in (1, 40):
        ops = f'"replay synth.vmtrace repeat 3 speed {speed}", "verify"'
        s = Session.load(str(write_scenario(tmp_path, replay_toml("synth.vmtrace", ops=ops))))
        s.run()
        m = s.metrics()
        assert m["cpu_accesses"] == 3 * t.accesses
        assert m["pgfault"] == total  # the second and third pass find every page mapped
        assert all(r.ok for r in s.evaluate_expectations())
        times[speed] = m["sim_time_ns"]
    # 39 ns more per access, less the last slice (1 ms) the clock does not show at the exit
    assert times[40] - times[1] >= 39 * 3 * t.accesses - 1_000_000


def test_replay_under_memory_pressure_swaps_and_every_byte_verifies(tmp_path: Path) -> None:
    make_trace(tmp_path, heap_pages=1600, passes=3)
    text = replay_toml("synth.vmtrace", memory="4MiB", swap="16MiB",
                       extra='[[expect]]\ncheck = "pswpout > 0 and pswpin > 0"\n')
    s = Session.load(str(write_scenario(tmp_path, text)))
    s.run()
    m = s.metrics()
    assert m["pswpout"] > 0 and m["pswpin"] > 0
    assert m["data_verified"] == 1 and m["verify_failures"] == 0
    assert all(r.ok for r in s.evaluate_expectations()), s.evaluate_expectations()


def test_replay_assembles_to_region_mappings_then_one_replay_instruction(
        tmp_path: Path) -> None:
    from kernelmodel.include import syscall_abi as abi
    from machine.isa import OP_REPLAY, OP_SYSCALL
    from scenarios.assembler import assemble
    from scenarios.loader import load_path

    make_trace(tmp_path)
    scn = load_path(write_scenario(tmp_path, replay_toml(
        "synth.vmtrace", ops='"replay \\"synth.vmtrace\\" repeat 2 speed 3"')))
    a = assemble(scn)
    insns = a.programs[0].insns
    loaded = load_trace("synth.vmtrace", scn.trace_dirs)
    last = insns[-1]
    assert (last.op, last.b, last.c, last.s) == (OP_REPLAY, 2, 3, loaded.trace.checksum)
    assert last.trace is loaded.replay
    mmaps = [i for i in insns if i.op == OP_SYSCALL and i.a == abi.SYS_mmap2]
    assert [(i.b, i.c) for i in mmaps] == [(p.base, p.length) for p in loaded.placements]
    # the text region is a file on the disk at boot; the others are anonymous
    assert [i.s for i in mmaps] == [a.files[0][0], "", "", ""]
    assert a.files == [(f"trace-{loaded.trace.checksum[:12]}.text", loaded.placements[0].length)]


def test_replay_op_errors_are_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    make_trace(tmp_path)
    cases = {
        '"replay"': "missing TRACE",
        '"replay nosuch"': 'no built-in trace "nosuch"',
        '"replay nosuch.vmtrace"': "no trace file nosuch.vmtrace",
        '"replay synth.vmtrace repeat 0"': "not between 1 and",
        '"replay synth.vmtrace speed 2 speed 3"': "given twice",
        '"replay synth.vmtrace faster"': 'unexpected "faster"',
    }
    for ops, message in cases.items():
        p = write_scenario(tmp_path, replay_toml("synth.vmtrace", ops=ops), "bad.toml")
        assert main(["run", str(p), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


# ---- snapshots --------------------------------------------------------------------------------


def _finish(s: Session) -> tuple[str, dict[str, int]]:
    s.run()
    return s.state_hash(), s.metrics()


def test_a_snapshot_taken_mid_replay_resumes_to_the_same_end(tmp_path: Path) -> None:
    make_trace(tmp_path, heap_pages=300, passes=3)
    ops = '"replay synth.vmtrace repeat 4 speed 2000", "verify"'
    scn = write_scenario(tmp_path, replay_toml("synth.vmtrace", memory="4MiB", tasks=2,
                                               ops=ops))
    reference = _finish(Session.load(str(scn)))

    def mid_replay(s: Session) -> bool:
        return any(t.ctx is not None and t.ctx.op_started and t.ctx.cursor > 3000
                   for t in s.kernel.tasks.values())

    s = Session.load(str(scn))
    assert s.run(predicate=mid_replay) == "predicate"
    snap = tmp_path / "mid.vmsnap"
    save_snapshot(s, snap)
    assert _finish(load_snapshot(snap)) == reference
    # moved elsewhere with its trace beside it: found next to the snapshot
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(snap, other / "mid.vmsnap")
    shutil.copy(tmp_path / "synth.vmtrace", other / "synth.vmtrace")
    os.rename(tmp_path / "synth.vmtrace", tmp_path / "moved.vmtrace")
    assert _finish(load_snapshot(other / "mid.vmsnap")) == reference
    # not found anywhere, or a different trace under its name: one line
    with pytest.raises(SnapshotError, match=r"no trace file synth\.vmtrace"):
        load_snapshot(snap)
    make_trace(other, seed=99)
    with pytest.raises(SnapshotError, match="not the one this snapshot replays"):
        load_snapshot(other / "mid.vmsnap")


# ---- hostile trace files ----------------------------------------------------------------------


def _damaged(good: bytes) -> list[bytes]:
    import msgpack
    import zstandard

    from scenarios.trace.format import _HEADER, MAGIC, TRACE_VERSION, _payload

    rng = random.Random(5)
    out = [b"", b"VMTRACE", good[:12], good[:-1], good[: len(good) // 2], good + b"x",
           b"garbage" * 100, good[:8] + b"\x09\x00\x00\x00" + good[12:]]
    for _ in range(60):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    doc = msgpack.unpackb(_payload(good, "x"), raw=False)

    def pack(d: object) -> bytes:
        frame = zstandard.ZstdCompressor(write_checksum=True, write_content_size=True) \
            .compress(msgpack.packb(d, use_bin_type=True))
        return _HEADER.pack(MAGIC, TRACE_VERSION) + frame

    for key in list(doc):
        for value in (None, -1, "x", b"\x00" * 3, [1, 2], {"a": 1}, 2**70 if False else 10**18):
            d = dict(doc)
            d[key] = value
            out.append(pack(d))
        d = dict(doc)
        del d[key]
        out.append(pack(d))
    for mutate in ("regions_out", "runs_short", "kind_bad", "size_zero", "page_outside"):
        d = dict(doc)
        if mutate == "regions_out":
            d["regions"] = list(reversed(d["regions"]))
        elif mutate == "runs_short":
            d["run_len"] = d["run_len"][:-4]
        elif mutate == "kind_bad":
            d["kind"] = b"\x07" + d["kind"][1:]
        elif mutate == "size_zero":
            d["size"] = b"\x00\x00" + d["size"][2:]
        else:
            d["run_page"] = b"\xff" * 8 + d["run_page"][8:]
        out.append(pack(d))  # the checksum no longer matches the body
        from scenarios.trace.format import COLUMNS, body_checksum

        d["checksum"] = body_checksum([d[name] for name, _, _ in COLUMNS])
        out.append(pack(d))  # the checksum matches: the body checks must catch it
    out.append(pack([1, 2, 3]))
    out.append(_HEADER.pack(MAGIC, TRACE_VERSION) + zstandard.ZstdCompressor().compress(
        b"\x00" * 100))
    return out


def test_damaged_trace_files_are_refused_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_trace(tmp_path).read_bytes()
    bad_files = _damaged(good)
    assert len(bad_files) > 100
    scn = write_scenario(tmp_path, replay_toml("bad.vmtrace"))
    refused = 0
    for i, data in enumerate(bad_files):
        if data == good:
            continue
        (tmp_path / "bad.vmtrace").write_bytes(data)
        rc = main(["trace", "info", str(tmp_path / "bad.vmtrace")])
        captured = capsys.readouterr()
        if rc == 0:
            # a flip that left the file valid (e.g. inside the command text) is fine only if
            # it still decodes to a consistent trace
            read_trace(tmp_path / "bad.vmtrace")
            continue
        refused += 1
        assert rc == 2, (i, captured.err)
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
        rc = main(["run", str(scn), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1, (i, err)
    assert refused > 100


# ---- recording with valgrind ------------------------------------------------------------------


def test_record_streams_the_same_trace_import_makes_from_the_kept_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need_valgrind()
    out = tmp_path / "true.vmtrace"
    log = tmp_path / "true.log"
    assert main(["trace", "record", str(out), "--keep-log", str(log), "--", "true"]) == 0
    assert main(["trace", "import", str(log), str(tmp_path / "imported.vmtrace")]) == 0
    assert out.read_bytes() == (tmp_path / "imported.vmtrace").read_bytes()
    t = read_trace(out)
    assert t.command == "true" and t.accesses > 10_000
    assert t.regions[0].name == "text" and t.regions[-1].name == "stack"
    # and it replays with exactly the faults the trace predicts
    s = Session.load(str(write_scenario(tmp_path, replay_toml("true.vmtrace"))))
    s.run()
    assert s.metrics()["pgfault"] == expected_faults(t)[2]
    assert all(r.ok for r in s.evaluate_expectations())


def test_record_of_a_missing_command_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    need_valgrind()
    assert main(["trace", "record", str(tmp_path / "x.vmtrace"), "--",
                 "no-such-command-here"]) == 2
    err = capsys.readouterr().err
    assert "command not found" in err and err.count("\n") == 1
    assert not (tmp_path / "x.vmtrace").exists()


def test_record_without_valgrind_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["trace", "record", str(tmp_path / "x.vmtrace"), "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "valgrind is not installed" in err and err.count("\n") == 1
