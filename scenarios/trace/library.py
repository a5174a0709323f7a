"""Finding and loading the trace a ``replay`` op names, ready for the CPU.

``replay NAME`` names a built-in trace (package data ``scenarios/traces/NAME.vmtrace``)
when NAME has no ``/`` and does not end in ``.vmtrace``; otherwise a trace file: an absolute
path, or a path relative to the scenario file's directory (then the current directory).

A snapshot stores the directories the scenario's traces were looked up in and, in each
replay instruction, the trace's checksum; on restore the same rule runs over those
directories and then the snapshot file's own directory, and the file found must have the
stored checksum.

Loading decodes the file (``scenarios.trace.format``), relocates its regions
(``scenarios.trace.regions``) and builds the ``machine.replay.ReplayTrace`` the CPU runs;
loaded traces are cached by file identity, so a session and its snapshot checks share one.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from machine.replay import ReplayTrace, vl_pack_accesses, vl_pack_runs
from scenarios.trace.format import Trace, TraceError, decode_trace, read_trace
from scenarios.trace.regions import Placement, page_map, relocate

SUFFIX: Final = ".vmtrace"
_CACHE_MAX: Final = 8


@dataclass(frozen=True)
class LoadedTrace:
    """A trace file, its i386 placement and its replay form."""

    where: str
    """How messages name it: ``built-in NAME`` or the path."""
    trace: Trace
    placements: list[Placement]
    replay: ReplayTrace


_cache: dict[tuple[object, ...], LoadedTrace] = {}


def _builtin_dir() -> Traversable:
    return resources.files("scenarios").joinpath("traces")


def builtin_trace_names() -> list[str]:
    """Names of the built-in traces, sorted."""
    d = _builtin_dir()
    if not d.is_dir():
        return []
    return sorted(e.name[: -len(SUFFIX)] for e in d.iterdir()
                  if e.name.endswith(SUFFIX) and e.is_file())


def is_builtin_name(name: str) -> bool:
    return "/" not in name and os.sep not in name and not name.endswith(SUFFIX)


def resolve(name: str, dirs: tuple[str, ...]) -> str:
    """The file ``name`` refers to (see the module docstring); ``builtin:NAME`` for a
    built-in.

    Raises:
        TraceError: nothing of that name exists.
    """
    if is_builtin_name(name):
        names = builtin_trace_names()
        if name in names:
            return f"builtin:{name}"
        listed = ", ".join(names) if names else "none"
        raise TraceError(f'no built-in trace "{name}" (built-in traces: {listed}; a trace '
                         f'file is named by a path ending in {SUFFIX})')
    if os.path.isabs(name):
        if os.path.isfile(name):
            return name
        raise TraceError(f"no trace file {name}")
    tried: list[str] = []
    for d in (*dirs, os.getcwd()):
        p = os.path.join(d, name)
        if p in tried:
            continue
        if os.path.isfile(p):
            return os.path.abspath(p)
        tried.append(p)
    raise TraceError(f"no trace file {name} (looked in {', '.join(tried)})")


def build_replay(trace: Trace, placements: list[Placement]) -> ReplayTrace:
    """The CPU's form of ``trace`` with its regions placed by ``placements``."""
    import bisect

    starts, ends, deltas = page_map(placements)
    run_vpn = array("I", bytes(4 * trace.runs))
    for i, page in enumerate(trace.run_page):
        j = bisect.bisect_right(starts, page) - 1
        if j < 0 or page >= ends[j]:  # pragma: no cover - decode_trace checked it
            raise TraceError(f"run on page {page:#x} outside every region")
        run_vpn[i] = page + deltas[j]
    return ReplayTrace(trace.checksum, vl_pack_runs(run_vpn, trace.run_len),
                       vl_pack_accesses(trace.offset, trace.size, trace.kind))


def load(name: str, dirs: tuple[str, ...]) -> LoadedTrace:
    """Find, read, relocate and prepare the trace ``name`` (cached by file identity).

    Raises:
        TraceError: not found, unreadable, damaged, or too large for i386.
    """
    found = resolve(name, dirs)
    if found.startswith("builtin:"):
        key: tuple[object, ...] = (found,)
        where = f"built-in trace {name}"
    else:
        try:
            st = os.stat(found)
        except OSError as exc:
            raise TraceError(f"cannot read {found}: {exc.strerror or exc}") from None
        key = (found, st.st_mtime_ns, st.st_size, st.st_ino)
        where = found
    hit = _cache.get(key)
    if hit is not None:
        return hit
    if found.startswith("builtin:"):
        data = _builtin_dir().joinpath(name + SUFFIX).read_bytes()
        trace = decode_trace(data, name + SUFFIX)
    else:
        trace = read_trace(found)
    placements = relocate(trace.regions)
    loaded = LoadedTrace(where, trace, placements, build_replay(trace, placements))
    if len(_cache) >= _CACHE_MAX:
        _cache.pop(next(iter(_cache)))
    _cache[key] = loaded
    return loaded
