"""Will the machine fit in this host's memory? Asked before a scenario boots.

A scenario may ask for up to 4 GiB of RAM, a 2 TiB disk and 64 GiB of swap; the emulator
holds the RAM as real bytes and keeps per-frame, per-block and per-slot bookkeeping, so a
large machine needs that much host memory. Rather than let the host swap or the process die
of ``MemoryError`` halfway through booting, the need is estimated and compared with what the
host has available (``MemAvailable`` in /proc/meminfo) before anything is allocated.

The estimate, measured on the Python sources: RAM x 1.1 (the bytes and ``mem_map``), one
byte per 4 KiB disk block (the filesystem's block bitmap), 8 bytes per swap slot, and 64 MiB
for the interpreter and the model's code. Where /proc/meminfo is missing the check is skipped.
"""

from __future__ import annotations

from typing import Final

from scenarios.schema import MachineSpec
from scenarios.units import format_size

#: What a booted interpreter with the model loaded takes before any machine exists.
BASE_BYTES: Final = 64 << 20
MEMINFO: Final = "/proc/meminfo"


class HostMemoryError(Exception):
    """The machine needs more host memory than is available (one line)."""


def host_bytes_needed(machine: MachineSpec) -> int:
    """Host memory the emulator needs for ``machine`` (an estimate; see the docstring)."""
    return (BASE_BYTES + machine.memory + machine.memory // 10 + machine.disk // 4096
            + (machine.swap // 4096) * 8)


def host_memory_available(meminfo: str = MEMINFO) -> int | None:
    """``MemAvailable`` of /proc/meminfo in bytes, or None when it cannot be read."""
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_host_memory(machine: MachineSpec, available: int | None = None) -> None:
    """Refuse a machine that needs more host memory than is available.

    Args:
        machine: the scenario's machine.
        available: bytes available; None: read them from the host now.

    Raises:
        HostMemoryError: with the estimate and what is available.
    """
    have = host_memory_available() if available is None else available
    need = host_bytes_needed(machine)
    if have is not None and need > have:
        raise HostMemoryError(
            f"machine: this machine (memory {format_size(machine.memory)}, disk "
            f"{format_size(machine.disk)}, swap {format_size(machine.swap)}) needs about "
            f"{_gib(need)} of host memory, but only {_gib(have)} is available; make it smaller "
            f"or free memory")


def _gib(nbytes: int) -> str:
    return f"{nbytes / (1 << 30):.1f}GiB"
