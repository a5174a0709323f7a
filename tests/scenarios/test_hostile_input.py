"""Hostile input: every way a scenario file or a command line once ended badly (a traceback,
a hang, a run without end, an echo of a megabyte) now ends in exit status 2 and one short
line on stderr, or runs within the documented limits (docs/scenarios.md, "Hostile input").

The command line runs in-process (``scenarios.cli.main.main``) so that an exception escaping
it fails the test with its traceback; the cases that could block for ever on a named pipe run
as a subprocess with a timeout.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import scenarios.host_memory as host_memory
from kernelmodel.check.check import check_invariants
from scenarios.cli.main import main
from scenarios.loader import ScenarioError, load_text
from scenarios.one_line import MAX_LINE
from scenarios.session import Session, SessionError

ROOT = Path(__file__).resolve().parents[2]

TASK = '\n[[tasks]]\nname = "t"\nprogram = ["sleep 1ms"]\n'


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], want: str) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    assert len(lines[0]) <= MAX_LINE + 40, len(lines[0])
    assert want in lines[0], lines[0]
    return lines[0]


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ---------------------------------------------------------------- malformed scenarios

MALFORMED = [
    ("integer past 4300 digits", "seed = 1" + "0" * 5000 + "\n" + TASK, "invalid TOML"),
    ("size string past 4300 digits", '[machine]\nmemory = "' + "1" * 5000 + 'KiB"\n' + TASK,
     "machine.memory: a number of 5,003 characters is too long"),
    ("number in a check", TASK + '[[expect]]\ncheck = "nr_dirty == ' + "9" * 5000 + '"\n',
     "expect[0].check"),
    ("long op number", '[[tasks]]\nprogram = ["loop ' + "9" * 5000 + '", "sync", "end"]\n',
     "too long"),
    ("nested arrays", "x = " + "[" * 5000 + "]" * 5000 + "\n" + TASK,
     "nested deeper than 32 levels"),
    ("nested inline tables", "x = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n" + TASK,
     "nested deeper than 32 levels"),
    ("dotted key of 100,000 parts", "x" + ".a" * 100_000 + " = 1\n" + TASK,
     "nested deeper than 32 levels"),
    ("disk of 1000TiB", '[machine]\ndisk = "1000TiB"\n' + TASK,
     "machine.disk: 1000TiB is larger than 2TiB"),
    ("disk of 2^70 bytes", f"[machine]\ndisk = {1 << 70}\n" + TASK,
     "machine.disk: a size of 71 bits is out of range"),
    ("swap past a swap entry", '[machine]\ndisk = "2TiB"\nswap = "100GiB"\n' + TASK,
     "machine.swap: 100GiB is larger than 64GiB"),
    ("sleep 1e400s", '[[tasks]]\nprogram = ["sleep 1e400s"]\n', "exponent is out of range"),
    ("sleep past 2^62 ns", '[[tasks]]\nprogram = ["sleep 5000000000s"]\n',
     "longer than the longest simulated time"),
    ("loop 99999999999999999999", '[[tasks]]\nprogram = ["loop 99999999999999999999", '
     '"sync", "end"]\n', "out of range (numbers stay below 2^64)"),
    ("loop past 32 bits", '[[tasks]]\nprogram = ["loop 4294967296", "sync", "end"]\n',
     "is not between 1 and 4294967295"),
    ("a file past MAX_LFS_FILESIZE", '[[files]]\npath = "f"\nsize = "9TiB"\n'
     'content = "sparse"\n' + TASK, "larger than the largest file"),
    ("a write past MAX_LFS_FILESIZE", '[[files]]\npath = "f"\nsize = "4KiB"\n[[tasks]]\n'
     'program = ["open f", "write f 0x7ffffffffff 4KiB"]\n', "beyond the largest file"),
    ("a write of 4GiB", '[[files]]\npath = "f"\nsize = "4KiB"\n[[tasks]]\n'
     'program = ["open f", "write f 0 4GiB"]\n', "SSIZE_MAX"),
    ("truncate to 2^63", '[[files]]\npath = "f"\nsize = "4KiB"\n[[tasks]]\n'
     'program = ["open f", "truncate f 0x8000000000000000"]\n', "beyond the largest file"),
    ("20k tasks", "[[tasks]]\nname = 't0'\nprogram = ['sleep 1ms']\n" + "".join(
        f"[[tasks]]\nname = 't{i}'\nprogram = 't0'\n" for i in range(1, 20_000)),
     "more than RLIMIT_NPROC (512"),
    ("dirty_ratio as a string", '[tunables]\ndirty_ratio = "40"\n' + TASK,
     'tunables.dirty_ratio: expected an integer, not a string ("40"): write dirty_ratio = 40'),
    ("seed as a string", 'seed = "7"\n' + TASK, 'seed: expected an integer, not a string'),
    ("memory with a space", '[machine]\nmemory = " 8MiB"\n' + TASK,
     'machine.memory: size " 8MiB" has spaces around it'),
    ("duration 1e400s", 'duration = "1e400s"\n' + TASK, "duration: "),
    ("a megabyte key", "[machine]\n" + "k" * 1_000_000 + " = 1\n" + TASK,
     '(1,000,000 characters)'),
    ("a key with a newline", '[machine]\n"a\\nb" = 1\n' + TASK, 'unknown key "a\\nb"'),
    ("a 2 MB file", "# " + "x" * (2 << 20) + "\n" + TASK, "larger than any scenario"),
]


@pytest.mark.parametrize(("what", "text", "want"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_scenario_exits_2_with_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  what: str, text: str, want: str) -> None:
    _one_line_exit_2(capsys, ["run", _write(tmp_path, text), "--quiet"], want)


def test_kernel_bug_at_boot_is_one_line() -> None:
    """A scenario that gets past the loader (here built by hand) but cannot boot: spawning
    more tasks than a 4 MiB machine has frames for page directories is a BUG in the model,
    reported as one SessionError line instead of a traceback."""
    scn = load_text('[machine]\nmemory = "4MiB"\n' + TASK)
    many = tuple(dataclasses.replace(scn.tasks[0], name=f"t{i}") for i in range(1500))
    with pytest.raises(SessionError) as exc:
        Session(dataclasses.replace(scn, tasks=many))
    assert str(exc.value).startswith("kernel BUG while booting: spawn: no memory for a new mm")


FORK_SELF = """
[machine]
memory = "16MiB"
[programs]
writer = ["fork writer"]
[[tasks]]
program = "writer"
[[expect]]
check = "invariants_ok"
"""

FORK_BOMB = """
[machine]
memory = "16MiB"
[programs]
bomb = ["fork bomb", "fork bomb", "sleep 10ms"]
[[tasks]]
program = "bomb"
"""


@pytest.mark.parametrize("text", [FORK_SELF, FORK_BOMB], ids=["fork-self", "fork-bomb"])
def test_fork_fails_with_eagain_at_threads_max(text: str) -> None:
    """A program that forks itself (allowed) stops at threads-max (16 MiB: 256 tasks) with
    fork returning -EAGAIN in the model, and the run ends on its own."""
    s = Session(load_text(text))
    assert s.kernel.max_threads == 256
    assert s.run() == "end"
    assert s.end_reason == "exited"
    assert len(s.kernel.tasks) == 256
    refused = [e for e in s.kernel.trace.since(0) if "fork: -EAGAIN" in e.s]
    assert refused
    assert check_invariants(s.kernel) == []


def test_machine_larger_than_host_memory_is_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_memory, "host_memory_available", lambda: 1 << 30)
    path = _write(tmp_path, '[machine]\nmemory = "3GiB"\n' + TASK)
    line = _one_line_exit_2(capsys, ["run", path, "--quiet"], "needs about 3.4GiB of host "
                                                               "memory, but only 1.0GiB")
    assert line.startswith("vmlab run: machine: this machine (memory 3GiB")


def test_host_memory_estimate_counts_every_part() -> None:
    small = load_text(TASK).machine
    assert host_memory.host_bytes_needed(small) == (64 << 20) + (64 << 20) + (64 << 20) // 10 \
        + (1 << 30) // 4096 + (128 << 20) // 4096 * 8
    host_memory.check_host_memory(small, available=1 << 40)
    with pytest.raises(host_memory.HostMemoryError):
        host_memory.check_host_memory(small, available=100 << 20)


def test_scenario_error_is_one_short_line() -> None:
    with pytest.raises(ScenarioError) as exc:
        load_text('[[tasks]]\nprogram = ["' + "z" * 100_000 + '"]\n')
    text = str(exc.value)
    assert "\n" not in text and len(text) <= MAX_LINE


# ---------------------------------------------------------------- command lines


def test_seed_of_40_digits(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(capsys, ["run", "default", "--seed", "9" * 40], "--seed: ")
    _one_line_exit_2(capsys, ["run", "default", "--seed", str(1 << 63)],
                     "--seed: 9223372036854775808 is outside 0..9223372036854775807")
    _one_line_exit_2(capsys, ["compare", "default", "--seed", "9" * 40], "--seed: ")


@pytest.mark.parametrize("until", ["1e400s", "5000000000s", "99999999999999999999"])
def test_until_out_of_range(capsys: pytest.CaptureFixture[str], until: str) -> None:
    _one_line_exit_2(capsys, ["run", "default", "--until", until], "--until: ")


def _link(tmp_path: Path, target: str, name: str) -> str:
    p = tmp_path / name
    p.symlink_to(target)
    return str(p)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
@pytest.mark.parametrize("command", [["run"], ["resume"], ["snapshot", "info"],
                                     ["snapshot", "decode"], ["tui"]])
def test_devices_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             device: str, command: list[str]) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    for target in (device, _link(tmp_path, device, "link.toml")):
        _one_line_exit_2(capsys, [*command, target], "a character device, not a")


def test_snapshot_diff_refuses_devices(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(capsys, ["snapshot", "diff", "/dev/zero", "/dev/zero"],
                     "/dev/zero: a character device, not a snapshot file")


def test_directories_and_sockets_are_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(capsys, ["resume", str(tmp_path)], "a directory, not a snapshot file")
    _one_line_exit_2(capsys, ["run", str(tmp_path) + "/"], "a directory, not a scenario file")
    sock_path = tmp_path / "s.toml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        _one_line_exit_2(capsys, ["run", str(sock_path)], "a socket, not a scenario file")
        _one_line_exit_2(capsys, ["snapshot", "info", str(sock_path)],
                         "a socket, not a snapshot file")


def test_oversized_snapshot_refused_before_reading(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.vmsnap"
    with open(big, "wb") as f:
        f.truncate(9 << 30)  # sparse: nothing is written, and nothing may be read
    _one_line_exit_2(capsys, ["resume", str(big)], "is larger than any snapshot file")


@pytest.mark.parametrize("command", [["run"], ["resume"], ["snapshot", "info"],
                                     ["snapshot", "decode"], ["tui"]])
def test_named_pipe_without_writer_is_refused_at_once(tmp_path: Path,
                                                      command: list[str]) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "scenarios.cli.main", *command, str(fifo)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1
    assert "a named pipe (FIFO), not a" in r.stderr


def test_snapshot_of_a_machine_larger_than_host_memory_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from scenarios.snapshot import save_snapshot

    s = Session.load("fsync-race-b")
    s.run(until_events=2)
    path = tmp_path / "s.vmsnap"
    save_snapshot(s, path)
    monkeypatch.setattr(host_memory, "host_memory_available", lambda: 32 << 20)
    _one_line_exit_2(capsys, ["resume", str(path)], "needs about 0.1GiB of host memory, but "
                                                     "only 0.0GiB is available")


def test_fork_fails_with_eagain_when_pids_run_out() -> None:
    """pids are below pid_max (32768) and never reused; the last few are left to kernel
    threads, so a fork that would take one of them fails with -EAGAIN."""
    from kernelmodel.kernel.config import PID_MAX
    from kernelmodel.kernel.sched import KTHREAD_PID_RESERVE

    s = Session(load_text(FORK_SELF))
    s.kernel.next_pid = PID_MAX - KTHREAD_PID_RESERVE - 3
    assert s.run() == "end" and s.end_reason == "exited"
    assert max(s.kernel.tasks) == PID_MAX - KTHREAD_PID_RESERVE - 1
    assert any("fork: -EAGAIN" in e.s for e in s.kernel.trace.since(0))
