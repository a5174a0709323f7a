"""A small scenario that faults, copies on write, writes back, fsyncs and reclaims, for the
fine-step and time-travel tests (fast in both builds)."""

from __future__ import annotations

from pathlib import Path

SMALL = """
name = "travel-small"
seed = 3
duration = "2s"
[machine]
memory = "4MiB"
disk = "64MiB"
swap = "8MiB"
[tunables]
dirty_background_ratio = 5
[[files]]
path = "log"
size = "256KiB"
content = "pattern"
[programs]
child = ["touch 0x4000_0000 128KiB write", "exit 0"]
[[tasks]]
name = "writer"
program = ["open log", "write log 0 4KiB x 48 random", "fsync log", "checkpoint synced",
           "mmap 0x4000_0000 1MiB anon private rw", "touch 0x4000_0000 1MiB write",
           "fork child", "touch 0x4000_0000 256KiB write", "sleep 50ms",
           "touch 0x4000_0000 1MiB read", "exit 0"]
[[tasks]]
name = "hog"
program = ["sleep 5ms", "mmap 0x5000_0000 3MiB anon private rw",
           "touch 0x5000_0000 3MiB write", "exit 0"]
"""


def small_scenario(tmp: Path) -> str:
    path = tmp / "travel-small.toml"
    path.write_text(SMALL)
    return str(path)
