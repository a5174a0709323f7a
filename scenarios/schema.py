"""A validated scenario as plain frozen dataclasses.

The loader (``scenarios.loader``) builds these from a TOML file and checks everything it can
before anything runs: units, names, cross references, loop balance. The assembler
(``scenarios.assembler``) turns the parsed ``Op`` records into machine instructions.

Invariants of a ``Scenario`` the loader returned:
    * every task's program is a key of ``programs``; every ``fork`` names a program;
    * every file an op names is in ``files`` or opened with ``create`` by some program;
    * loops are balanced and checkpoint names are unique within a program;
    * every expectation's ``at`` is "end" or a checkpoint some program records, and its check
      names only known metrics;
    * ``break``/``await``/``continue`` name a task of ``tasks``, a forked program or a kernel
      thread, and a point of ``kernelmodel.kernel.kernel.PREEMPT_POINTS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from scenarios.expect import Check

MiB: Final = 1 << 20
GiB: Final = 1 << 30

#: ``offset`` value of a read or write at the file position (``pos`` in the op).
POS: Final = -1

DEFAULT_DURATION_NS: Final = 60_000_000_000

#: MAX_LFS_FILESIZE with 4 KiB pages and 32-bit longs, (PAGE_CACHE_SIZE << 31) - 1: the
#: largest file size, truncate length and end of a read, write or file mapping (8 TiB - 1).
MAX_FILE_SIZE: Final = (4096 << 31) - 1
#: The longest read or write: a count above SSIZE_MAX (2^31 - 1 on i386) is -EINVAL.
MAX_RW_BYTES: Final = (1 << 31) - 1
#: The most repetitions of ``loop N``: a 32-bit counter, as an i386 register holds.
MAX_LOOP_COUNT: Final = (1 << 32) - 1
DEFAULT_PROFILE: Final = "2.6.7"


@dataclass(frozen=True, kw_only=True)
class KernelSpec:
    """Which kernel runs: a release profile and the design switches it implies
    (``scenarios.profiles.DESIGNS``)."""

    profile: str = DEFAULT_PROFILE
    writeback: str = "tags"
    rmap: str = "anon_vma"
    vmscan: str = ""
    """The reclaim design; "" (the default) means the profile's own, filled in on creation,
    so a spec never runs another release's reclaim unless it says so."""
    swapin: str = ""
    """The release whose do_swap_page runs; "" (the default) means the profile's own, filled
    in on creation."""

    def __post_init__(self) -> None:
        # the profile's own designs come from the one table, scenarios.profiles.DESIGNS (which
        # imports this module, hence the import here); a profile it does not know (refused
        # later, by the loader) gets the first design, as the kernel's own default does
        from scenarios.profiles import design

        for switch in ("vmscan", "swapin"):
            if not getattr(self, switch):
                d = design(switch)
                object.__setattr__(self, switch, d.profile.get(self.profile, d.names[0]))


@dataclass(frozen=True, kw_only=True)
class MachineSpec:
    """The emulated hardware (``[machine]``)."""

    memory: int = 64 * MiB
    disk: int = 1 * GiB
    swap: int = 128 * MiB
    tlb_entries: int = 64
    elevator: str = "deadline"


@dataclass(frozen=True, kw_only=True)
class TunablesSpec:
    """/proc/sys/vm knobs (``[tunables]``), with the 2.6.6 defaults."""

    dirty_background_ratio: int = 10
    dirty_ratio: int = 40
    dirty_writeback_centisecs: int = 500
    dirty_expire_centisecs: int = 3000
    swappiness: int = 60


@dataclass(frozen=True, kw_only=True)
class FileSpec:
    """A file on disk at boot (``[[files]]``); its pages are not in the page cache."""

    path: str
    size: int
    content: str = "zero"
    seed: int | None = None
    """Seed of ``random``/``pattern`` content; None: derived from the run's seed and path."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A process started at boot (``[[tasks]]``) running the named program."""

    name: str
    program: str


# --------------------------------------------------------------------------- program ops


@dataclass(frozen=True, kw_only=True)
class Op:
    """One parsed program op; ``text`` is the string as written in the scenario."""

    text: str


@dataclass(frozen=True, kw_only=True)
class MmapOp(Op):
    """``mmap ADDR LEN anon|FILE [offset OFF] [shared|private] [ro|rw]``."""

    addr: int
    length: int
    path: str  # "" for anonymous memory
    offset: int = 0
    shared: bool = False
    writable: bool = True


@dataclass(frozen=True, kw_only=True)
class MunmapOp(Op):
    """``munmap ADDR LEN``."""

    addr: int
    length: int


@dataclass(frozen=True, kw_only=True)
class MprotectOp(Op):
    """``mprotect ADDR LEN none|r|ro|rw|rx|rwx``: ``prot`` holds the PROT_* bits."""

    addr: int
    length: int
    prot: int


@dataclass(frozen=True, kw_only=True)
class TouchOp(Op):
    """``touch ADDR LEN read|write [stride N]``."""

    addr: int
    length: int
    write: bool
    stride: int = 4096


@dataclass(frozen=True, kw_only=True)
class ReplayOp(Op):
    """``replay TRACE [repeat N] [speed F]``: map the trace's regions and replay its accesses."""

    trace: str
    """A built-in trace name or a path to a .vmtrace file (``scenarios.trace.library``)."""
    repeat: int = 1
    speed: int = 1
    """Simulated ns charged per access."""


@dataclass(frozen=True, kw_only=True)
class StoreOp(Op):
    """``store ADDR VALUE``."""

    addr: int
    value: int


@dataclass(frozen=True, kw_only=True)
class LoadOp(Op):
    """``load ADDR [expect VALUE]``."""

    addr: int
    expect: int | None = None


@dataclass(frozen=True, kw_only=True)
class OpenOp(Op):
    """``open PATH [create] [trunc]``."""

    path: str
    create: bool = False
    trunc: bool = False


@dataclass(frozen=True, kw_only=True)
class CloseOp(Op):
    """``close PATH``."""

    path: str


@dataclass(frozen=True, kw_only=True)
class ReadOp(Op):
    """``read PATH OFF LEN [x COUNT [random|seq]]``; ``offset`` is ``POS`` for ``pos``."""

    path: str
    offset: int
    length: int
    count: int = 1
    random: bool = False


@dataclass(frozen=True, kw_only=True)
class WriteOp(Op):
    """``write PATH OFF LEN [x COUNT [random|seq]]``; ``offset`` is ``POS`` for ``pos``."""

    path: str
    offset: int
    length: int
    count: int = 1
    random: bool = False


@dataclass(frozen=True, kw_only=True)
class FsyncOp(Op):
    """``fsync PATH`` or ``fdatasync PATH``."""

    path: str
    datasync: bool = False


@dataclass(frozen=True, kw_only=True)
class SyncOp(Op):
    """``sync``."""


@dataclass(frozen=True, kw_only=True)
class TruncateOp(Op):
    """``truncate PATH LEN`` (ftruncate of the open file)."""

    path: str
    length: int


@dataclass(frozen=True, kw_only=True)
class UnlinkOp(Op):
    """``unlink PATH``."""

    path: str


@dataclass(frozen=True, kw_only=True)
class MsyncOp(Op):
    """``msync ADDR LEN [sync|async]``."""

    addr: int
    length: int
    sync: bool = True


@dataclass(frozen=True, kw_only=True)
class FadviseOp(Op):
    """``fadvise PATH ADVICE``: posix_fadvise over the whole file (ADVICE: dontneed, ...)."""

    path: str
    advice: str


@dataclass(frozen=True, kw_only=True)
class ForkOp(Op):
    """``fork PROGRAM``: the child runs PROGRAM."""

    program: str


@dataclass(frozen=True, kw_only=True)
class WaitOp(Op):
    """``wait``: sleep until every child has exited."""


@dataclass(frozen=True, kw_only=True)
class ExitOp(Op):
    """``exit [CODE]``."""

    code: int = 0


@dataclass(frozen=True, kw_only=True)
class SleepOp(Op):
    """``sleep DURATION`` (nanosleep)."""

    ns: int


@dataclass(frozen=True, kw_only=True)
class ComputeOp(Op):
    """``compute DURATION``: CPU time without memory accesses."""

    ns: int


@dataclass(frozen=True, kw_only=True)
class LoopOp(Op):
    """``loop N``: run the ops up to the matching ``end`` N times."""

    count: int


@dataclass(frozen=True, kw_only=True)
class EndOp(Op):
    """``end``: closes the innermost ``loop``."""


@dataclass(frozen=True, kw_only=True)
class CheckpointOp(Op):
    """``checkpoint NAME``: a named point a run can stop at and expectations can refer to."""

    name: str


@dataclass(frozen=True, kw_only=True)
class VerifyOp(Op):
    """``verify``: run the data oracle over the task's memory now."""


@dataclass(frozen=True, kw_only=True)
class BreakOp(Op):
    """``break TASK at POINT``: arm a one-shot breakpoint at a kernel preemption point."""

    task: str
    point: str


@dataclass(frozen=True, kw_only=True)
class AwaitOp(Op):
    """``await TASK [at POINT]``: sleep until a task named TASK is stopped (at POINT)."""

    task: str
    point: str = ""


@dataclass(frozen=True, kw_only=True)
class ContinueOp(Op):
    """``continue TASK``: resume the tasks named TASK that a breakpoint stopped."""

    task: str


@dataclass(frozen=True, kw_only=True)
class PowerCutOp(Op):
    """``powercut``: the disk loses power; the run ends at the ``power_cut`` checkpoint."""


#: The checkpoint ``powercut`` records (kernelmodel.kernel.kernel.POWER_CUT_CHECKPOINT).
POWER_CUT: Final = "power_cut"


# --------------------------------------------------------------------------- the scenario


@dataclass(frozen=True, kw_only=True)
class Program:
    """A named list of ops; ``where`` locates it in the file for messages."""

    name: str
    ops: tuple[Op, ...]
    where: str


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """``[[expect]]``: a check evaluated at the end of the run or at a checkpoint."""

    name: str
    at: str
    check: Check
    where: str


#: ``StoryItem.point`` values besides a checkpoint name: the run's first and last moments.
STORY_START: Final = "start"
STORY_END: Final = "end"


@dataclass(frozen=True)
class StoryItem:
    """``[[story]]``: a short text shown when its moment comes.

    The moment is ``point`` (``STORY_START``, ``STORY_END`` or a checkpoint's first hit), or
    the first event that reaches ``time_ns`` of simulated time, or, with neither, the first
    event after which ``when`` holds. With a point or a time, ``when`` (if any) must also hold
    then, or the text is never shown.
    """

    text: str
    where: str
    point: str = ""
    time_ns: int = -1
    when: Check | None = None
    at_text: str = ""
    """``at`` as written in the file ("" when absent); a snapshot stores the scenario with it."""

    def describe(self) -> str:
        """When the text is shown, in words (``checkpoint "synced"``, ``nr_dirty > 0``)."""
        if self.point == STORY_START:
            moment = "the start"
        elif self.point == STORY_END:
            moment = "the end"
        elif self.point:
            moment = f'checkpoint "{self.point}"'
        elif self.time_ns >= 0:
            moment = self.at_text
        else:
            return self.when.text if self.when is not None else ""
        return f"{moment} if {self.when.text}" if self.when is not None else moment


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A validated scenario, ready to assemble and run."""

    name: str
    description: str
    source: str
    kernel: KernelSpec
    seed: int
    duration_ns: int
    machine: MachineSpec
    tunables: TunablesSpec
    files: tuple[FileSpec, ...]
    tasks: tuple[TaskSpec, ...]
    programs: dict[str, Program] = field(default_factory=dict)
    expectations: tuple[Expectation, ...] = ()
    story: tuple[StoryItem, ...] = ()
    """The narration (``[[story]]``), in the file's order."""
    trace_dirs: tuple[str, ...] = ()
    """Where ``replay`` looks for trace files given by a relative path (the scenario file's
    directory); not part of the scenario's text."""

    def replay_traces(self) -> list[str]:
        """The trace of every ``replay`` op, in declaration order, once each."""
        seen: dict[str, None] = {}
        for prog in self.programs.values():
            for op in prog.ops:
                if isinstance(op, ReplayOp):
                    seen.setdefault(op.trace, None)
        return list(seen)

    def checkpoint_names(self) -> list[str]:
        """Every checkpoint name recorded by some program, in declaration order, once each.

        A ``powercut`` op records ``power_cut``.
        """
        seen: dict[str, None] = {}
        for prog in self.programs.values():
            for op in prog.ops:
                if isinstance(op, CheckpointOp):
                    seen.setdefault(op.name, None)
                elif isinstance(op, PowerCutOp):
                    seen.setdefault(POWER_CUT, None)
        return list(seen)

    def file_sizes(self) -> dict[str, int]:
        """Boot-time size of each ``[[files]]`` path."""
        return {f.path: f.size for f in self.files}
