"""Boot configuration: the release profile's design switches, the sysctl tunables and the seed
(the kernel command line and /proc/sys of 2.6.5-2.6.7; the switches are the model's own).

``KernelConfig`` is what ``start_kernel`` (init/main.py) is given; ``validate`` names the
first bad field in one line.
"""

from __future__ import annotations

from typing import Final

RELEASES: Final = ("2.6.5", "2.6.6", "2.6.7")
WRITEBACK_MODES: Final = ("tags", "lists")
RMAP_MODES: Final = ("anon_vma", "pte_chain", "anonmm")
#: Reclaim designs: 2.6.6's mm/vmscan.c (vmscan.py) or 2.6.7's rewrite (vmscan_267.py).
VMSCAN_MODES: Final = ("2.6.6", "2.6.7")
#: do_swap_page's release: "2.6.6" (2.6.5 and 2.6.6: a write that cannot share the page
#: takes a second fault into do_wp_page) or "2.6.7" (rmap 11: COW broken inside the fault).
SWAPIN_MODES: Final = ("2.6.6", "2.6.7")

#: PID_MAX_DEFAULT (include/linux/threads.h): pids are below 32768.
PID_MAX: Final = 0x8000


def vl_release_vmscan(release: str) -> str:
    """The reclaim design a release shipped: 2.6.7 rewrote mm/vmscan.c; 2.6.5 and 2.6.6 run
    the 2.6.6 structure (2.6.5's few differences are keyed on the release)."""
    return "2.6.7" if release == "2.6.7" else "2.6.6"


def vl_release_swapin(release: str) -> str:
    """The do_swap_page a release shipped: 2.6.7's breaks COW inside the fault; 2.6.5 has
    2.6.6's."""
    return "2.6.7" if release == "2.6.7" else "2.6.6"


class KernelConfig:
    """Boot parameters: the release profile's switches, sysctl tunables and the seed."""

    def __init__(
        self,
        release: str = "2.6.7",
        writeback: str = "tags",
        rmap: str = "anon_vma",
        vmscan: str | None = None,
        swap_bytes: int = 128 << 20,
        seed: int = 0,
        dirty_background_ratio: int = 10,
        dirty_ratio: int = 40,
        dirty_writeback_centisecs: int = 500,
        dirty_expire_centisecs: int = 3000,
        swappiness: int = 60,
        timeslice_ns: int = 1_000_000,
        debug_checks: bool = False,
        poison: bool = False,
        l1_cache_bytes: int = 128,
        threads_max: int = 0,
        swapin: str | None = None,
    ) -> None:
        self.release: str = release  # state
        self.writeback: str = writeback  # state
        self.rmap: str = rmap  # state
        #: The reclaim design; None: the release's own (2.6.7's for 2.6.7, else 2.6.6's).
        self.vmscan: str = vmscan if vmscan is not None else vl_release_vmscan(release)  # state
        #: Which release's do_swap_page runs (SWAPIN_MODES; memory.py); None: the release's
        #: own (2.6.5 shares 2.6.6's).
        self.swapin: str = swapin if swapin is not None else vl_release_swapin(release)  # state
        self.swap_bytes: int = swap_bytes  # state
        self.seed: int = seed  # state
        self.dirty_background_ratio: int = dirty_background_ratio  # state
        self.dirty_ratio: int = dirty_ratio  # state
        self.dirty_writeback_centisecs: int = dirty_writeback_centisecs  # state
        self.dirty_expire_centisecs: int = dirty_expire_centisecs  # state
        self.swappiness: int = swappiness  # state
        self.timeslice_ns: int = timeslice_ns  # state
        self.debug_checks: bool = debug_checks  # state
        self.poison: bool = poison  # state
        self.l1_cache_bytes: int = l1_cache_bytes  # state
        #: /proc/sys/kernel/threads-max; 0: fork_init's default for the machine's memory.
        self.threads_max: int = threads_max  # state: if_set

    def validate(self) -> None:
        """Raise ValueError with one line naming the first bad field."""
        if self.release not in RELEASES:
            known = ", ".join(RELEASES)
            raise ValueError(f"kernel.release: unknown {self.release!r} (expected one of {known})")
        if self.writeback not in WRITEBACK_MODES:
            raise ValueError(f"kernel.writeback: expected one of {', '.join(WRITEBACK_MODES)}")
        if self.rmap not in RMAP_MODES:
            raise ValueError(f"kernel.rmap: expected one of {', '.join(RMAP_MODES)}")
        if self.vmscan not in VMSCAN_MODES:
            raise ValueError(f"kernel.vmscan: expected one of {', '.join(VMSCAN_MODES)}")
        if self.swapin not in SWAPIN_MODES:
            raise ValueError(f"kernel.swapin: expected one of {', '.join(SWAPIN_MODES)}")
        if self.swap_bytes < 0 or self.swap_bytes % 4096 != 0:
            raise ValueError("machine.swap: must be a non-negative multiple of 4 KiB")
        for name, value, lo, hi in (
            ("dirty_background_ratio", self.dirty_background_ratio, 0, 100),
            ("dirty_ratio", self.dirty_ratio, 0, 100),
            ("swappiness", self.swappiness, 0, 100),
            ("dirty_writeback_centisecs", self.dirty_writeback_centisecs, 0, 1 << 31),
            ("dirty_expire_centisecs", self.dirty_expire_centisecs, 0, 1 << 31),
        ):
            if value < lo or value > hi:
                raise ValueError(f"tunables.{name}: {value} is outside {lo}..{hi}")
        if self.timeslice_ns <= 0:
            raise ValueError("kernel.timeslice: must be positive")
        if self.l1_cache_bytes not in (16, 32, 64, 128):
            raise ValueError("kernel.l1_cache_bytes: expected 16, 32, 64 or 128")
        if self.threads_max < 0 or self.threads_max > PID_MAX:
            raise ValueError(f"kernel.threads_max: {self.threads_max} is outside 0..{PID_MAX}")

    def vl_check_state(self) -> None:
        """The loader's check: a saved configuration is validated as a scenario's is."""
        self.validate()
