"""A snapshot as the text of a bug report: what it holds, what the checks say, how to see it.

``vmlab snapshot report FILE`` (and ``R`` in the dashboard) turns a snapshot into Markdown
that can be pasted into an issue beside the attached file:

* which vmlab wrote it and which reads it (version, behaviour version, compiled or not);
* the scenario and where it came from, the kernel profile and every design switch, the seed;
* the event and simulated time it was saved at, and why the run had ended if it had;
* each expectation as it stood (``scenarios.standing``);
* what the invariant checker, the data oracle and the durability check say at that point,
  on the restored kernel: unlike ``load_snapshot``, a report does not refuse a state the
  checks fail on (that state is usually the bug being reported), it lists the failures;
* the last N trace records the snapshot kept, and the state hash;
* the commands that reproduce it: ``vmlab resume FILE``, and the straight run
  ``vmlab run SCENARIO --seed S --until EVENTS`` that arrives at the same state hash; a
  scenario that is not a built-in is embedded as TOML to save under its name.

A file that is not a readable snapshot (bad magic, damaged, a state that does not match its
hash) is refused with one line, as everywhere else.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from scenarios.standing import expectations_so_far, summary
from scenarios.units import format_duration

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.session import Session

#: Trace records a report shows unless asked otherwise.
DEFAULT_LAST: Final = 20
#: Problems listed per check (the count is always given).
MAX_PROBLEMS: Final = 10


class ReportError(Exception):
    """The report cannot be made (unreadable snapshot, unwritable output); one line."""


@dataclass(frozen=True)
class Checks:
    """What the checks say of a restored kernel (empty lists: all is well)."""

    invariants: list[str]
    data: list[str]
    acked_bytes_lost: int
    durability: list[str]


def run_checks(k: Kernel) -> Checks:
    """The invariant checker, the data oracle and the durability check over ``k``.

    The checker's find_vma calls move each mm's ``mmap_cache``, which is state; it is put
    back afterwards, as ``kernelmodel.state.restore.vl_restore_problems`` does.
    """
    caches = [(mm, mm.mmap_cache) for mm in k.mm_registry.mms.values()]
    try:
        invariants = k.check_invariants()
        data = k.verify_data()
        lost, durability = k.verify_durable()
    finally:
        for mm, cache in caches:
            mm.mmap_cache = cache
    return Checks(list(invariants), list(data), lost, list(durability))


@dataclass(frozen=True)
class Opened:
    """A snapshot opened for a report: its map, the restored session, the checks."""

    path: str
    size: int
    format_version: int
    doc: dict[str, object]
    session: Session
    checks: Checks


def open_for_report(path: str) -> Opened:
    """Read, check and restore a snapshot without refusing a state the checks fail on.

    Raises:
        ReportError: the file is not a readable snapshot.
    """
    from scenarios.snapshot.errors import SnapshotError
    from scenarios.snapshot.fileformat import HEADER, read_file
    from scenarios.snapshot.load import session_from_snapshot
    from scenarios.snapshot.read import read_checked

    where = os.path.basename(path)
    try:
        data = read_file(path)
        checked = read_checked(data, where, verify_hash=False)
        session = session_from_snapshot(checked, where, run_checks=False)
    except SnapshotError as exc:
        raise ReportError(str(exc)) from None
    version = HEADER.unpack_from(data)[1]
    return Opened(path, len(data), version, checked.doc, session, run_checks(session.kernel))


def _is_builtin(session: Session) -> bool:
    """The scenario is exactly the built-in of its name (so the name reproduces it)."""
    from scenarios.library import builtin_names, load_builtin
    from scenarios.loader import ScenarioError
    from scenarios.snapshot.scenario import scenario_doc

    name = session.scenario.name
    if name not in builtin_names():
        return False
    try:
        return scenario_doc(load_builtin(name)) == scenario_doc(session.scenario)
    except ScenarioError:
        return False


def reproduce_commands(path: str, session: Session) -> tuple[list[str], bool]:
    """The commands that reproduce the snapshot, and whether the scenario is a built-in
    (otherwise the first straight-run command needs the embedded TOML saved as NAME.toml)."""
    builtin = _is_builtin(session)
    scenario = session.scenario.name if builtin else f"{session.scenario.name}.toml"
    from scenarios.profiles import DESIGNS, profile_spec

    spec = session.kernel_spec
    # the scenario's own kernel runs with no option; any other needs its profile, and each
    # switch that differs from that profile's own design needs its option too
    kernel = ""
    if spec != session.scenario.kernel:
        own = profile_spec(spec.profile)
        kernel = f" --kernel {spec.profile}" + "".join(
            f" --{d.switch} {getattr(spec, d.switch)}" for d in DESIGNS
            if getattr(spec, d.switch) != getattr(own, d.switch))
    base = os.path.basename(path)
    return [
        f"vmlab resume {base}",
        f"vmlab tui {base}",
        f"vmlab run {scenario} --seed {session.seed}{kernel} --until {session.events}",
    ], builtin


def _problems(title: str, problems: list[str], none: str) -> list[str]:
    if not problems:
        return [f"- **{title}:** {none}"]
    out = [f"- **{title}:** {len(problems):,} problem(s)"]
    out += [f"  - `{p}`" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        out.append(f"  - ... and {len(problems) - MAX_PROBLEMS:,} more")
    return out


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render(opened: Opened, last: int = DEFAULT_LAST) -> str:
    """The Markdown report of an opened snapshot, with the last ``last`` trace records."""
    from scenarios.behaviour import BEHAVIOUR_VERSION, behaviour_notice, describe
    from scenarios.cli.version import vmlab_version
    from scenarios.flavour import flavour
    from scenarios.profiles import DESIGNS
    from scenarios.snapshot.scenario import toml_text

    s = opened.session
    doc = opened.doc
    spec = s.kernel_spec
    k = s.kernel
    base = os.path.basename(opened.path)
    stored = doc.get("scenario")
    scn_doc = stored.get("doc") if isinstance(stored, dict) else None
    written_behaviour = s.behaviour_version
    out = [f"# vmlab bug report: {s.scenario.name} at event {s.events:,}", ""]
    out += [
        f"Snapshot `{base}` ({opened.size:,} bytes); attach it to the report.", "",
        "| | |", "|---|---|",
        f"| written by | vmlab {_cell(doc.get('vmlab_version'))}, snapshot format "
        f"{opened.format_version}, {describe(written_behaviour)} |",
        f"| read by | vmlab {vmlab_version()} ({flavour()}), behaviour version "
        f"{BEHAVIOUR_VERSION}, Python {platform.python_version()} ({platform.machine()}) |",
        f"| scenario | {_cell(s.scenario.name)} (source: `{_cell(s.scenario.source)}`): "
        f"{_cell(s.scenario.description)} |",
        f"| kernel | profile {spec.profile}: "
        + ", ".join(f"{d.switch}={getattr(spec, d.switch)}" for d in DESIGNS) + " |",
        f"| seed | {s.seed} |",
        f"| event | {s.events:,} |",
        f"| simulated time | {format_duration(s.sim_time_ns)} ({s.sim_time_ns:,} ns) |",
        f"| run ended | {_cell(s.end_reason) if s.end_reason else 'no (saved mid-run)'} |",
        f"| state hash | `{doc.get('state_hash')}` |",
        "",
    ]
    notice = behaviour_notice(written_behaviour, f"`{base}`")
    if notice is not None:
        out += [f"Note: {notice}.", ""]
    standing = expectations_so_far(s)
    out += [f"## Expectations so far ({summary(standing)})", ""]
    if standing:
        out += ["| outcome | expectation | at | detail |", "|---|---|---|---|"]
        out += [f"| {x.outcome} | {_cell(x.name)} | {_cell(x.at)} | {_cell(x.detail)} |"
                for x in standing]
    else:
        out.append("The scenario has no expectations.")
    c = opened.checks
    out += ["", "## Checks at this point", ""]
    out += _problems("invariant checker", c.invariants, "no violations")
    out += _problems("data oracle", c.data, "every file byte and user page holds what it must")
    lost = f"{c.acked_bytes_lost:,} acknowledged byte(s) not on the disk's medium" \
        if c.acked_bytes_lost else "every acknowledged byte is on the disk's medium"
    out += _problems("durability", c.durability, lost)
    if c.invariants or c.data:
        out += ["", "`vmlab resume` refuses a state the checks fail on; the straight run "
                "below reaches it."]
    records = k.trace.since(max(0, k.trace.next_seq - max(0, last))) if last > 0 else []
    out += ["", f"## Last {len(records)} trace records", ""]
    if records:
        out += ["```", f"{'seq':>8} {'time':>12} {'kind':<18} {'pid':>4} {'a':>10} {'b':>10} s"]
        for ev in records:
            out.append(f"{ev.seq:>8} {format_duration(ev.time):>12} {ev.kind:<18} "
                       f"{ev.pid:>4} {ev.a:>10} {ev.b:>10} {ev.s}")
        out.append("```")
    else:
        out.append("none kept")
    commands, builtin = reproduce_commands(opened.path, s)
    out += ["", "## Reproduce", "", "From the snapshot (paused in the dashboard, or headless "
            "to the end):", "", "```sh", commands[1], commands[0], "```", "",
            f"From the start (stops at event {s.events:,} and prints state hash "
            f"`{str(doc.get('state_hash'))[:16]}…`):", ""]
    if not builtin:
        out += [f"save the scenario below as `{s.scenario.name}.toml`, then", ""]
    out += ["```sh", commands[2], "```"]
    if isinstance(scn_doc, dict):
        out += ["", "<details><summary>the scenario as stored in the snapshot</summary>", "",
                "```toml", toml_text(scn_doc).rstrip("\n"), "```", "", "</details>"]
    return "\n".join(out) + "\n"


def report(path: str, last: int = DEFAULT_LAST) -> str:
    """The Markdown bug report of the snapshot at ``path``.

    Raises:
        ReportError: the file is not a readable snapshot.
    """
    return render(open_for_report(path), last)


def write_report(path: str, out: str, last: int = DEFAULT_LAST) -> str:
    """Write ``report(path)`` to ``out``; returns ``out``.

    Raises:
        ReportError: unreadable snapshot, or ``out`` cannot be written.
    """
    text = report(path, last)
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def report_path_beside(path: str) -> str:
    """Where the report of a snapshot goes beside it: ``storm.vmsnap`` -> ``storm.md``."""
    root, ext = os.path.splitext(path)
    return (root if ext else path) + ".md"


def write_report_beside(path: str, last: int = DEFAULT_LAST) -> str:
    """Write the report of the snapshot at ``path`` beside it; returns the report's path.

    Raises:
        ReportError: as ``write_report``.
    """
    return write_report(path, report_path_beside(path), last)
