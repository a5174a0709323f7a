"""The scenario section: a scenario as the plain data of a TOML document, and back.

A snapshot stores the scenario it runs (so its remaining expectations still run after a
resume) as the document the loader accepts; reading it validates it with the loader, and it
must come back unchanged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from scenarios.snapshot.errors import SnapshotError
from scenarios.snapshot.fields import field_dict, field_list, field_str
from scenarios.state_codec import I64_MAX, I64_MIN

if TYPE_CHECKING:
    from scenarios.schema import Scenario, StoryItem


def scenario_doc(scn: Scenario) -> dict[str, object]:
    """The scenario as the plain data of a TOML document the loader accepts."""
    m = scn.machine
    t = scn.tunables
    files: list[object] = []
    for f in scn.files:
        entry: dict[str, object] = {"path": f.path, "size": f.size, "content": f.content}
        if f.seed is not None:
            entry["seed"] = f.seed
        files.append(entry)
    doc: dict[str, object] = {
        "name": scn.name,
        "description": scn.description,
        "seed": scn.seed,
        "duration": f"{scn.duration_ns}ns",
        "kernel": {"profile": scn.kernel.profile, "writeback": scn.kernel.writeback,
                   "rmap": scn.kernel.rmap, "vmscan": scn.kernel.vmscan,
                   "swapin": scn.kernel.swapin},
        "machine": {"memory": m.memory, "disk": m.disk, "swap": m.swap,
                    "tlb_entries": m.tlb_entries, "elevator": m.elevator},
        "tunables": {"dirty_background_ratio": t.dirty_background_ratio,
                     "dirty_ratio": t.dirty_ratio,
                     "dirty_writeback_centisecs": t.dirty_writeback_centisecs,
                     "dirty_expire_centisecs": t.dirty_expire_centisecs,
                     "swappiness": t.swappiness},
        "files": files,
        "programs": {name: [op.text for op in prog.ops] for name, prog in scn.programs.items()},
        "tasks": [{"name": task.name, "program": task.program} for task in scn.tasks],
        "expect": [{"name": e.name, "at": e.at, "check": e.check.text}
                   for e in scn.expectations],
    }
    if scn.story:  # absent when empty, so scenarios stored before [[story]] load back equal
        doc["story"] = [_story_entry(item) for item in scn.story]
    return doc


def _story_entry(item: StoryItem) -> dict[str, object]:
    entry: dict[str, object] = {}
    if item.at_text:
        entry["at"] = item.at_text
    if item.when is not None:
        entry["when"] = item.when.text
    entry["text"] = item.text
    return entry


def _toml_value(value: object, where: str) -> str:
    """A TOML scalar, or an inline array of scalars."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value < I64_MIN or value > I64_MAX:
            raise ValueError(f"{where}: integer out of range")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        if any(isinstance(v, (list, dict)) for v in value):
            raise ValueError(f"{where}: nested arrays are not part of a scenario")
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ValueError(f"{where}: unexpected {type(value).__name__}")


def _toml_table(lines: list[str], header: str, table: dict[str, object], where: str) -> None:
    lines.append(header)
    for key, value in table.items():
        if isinstance(value, dict):
            raise ValueError(f"{where}.{key}: unexpected table")
        lines.append(f"{json.dumps(key)} = {_toml_value(value, f'{where}.{key}')}")


def toml_text(doc: dict[str, object]) -> str:
    """The TOML text of a scenario document (top-level values, tables, arrays of tables)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    arrays: list[tuple[str, list[dict[str, object]]]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value, key)}")
    for key, table in tables:
        _toml_table(lines, f"[{json.dumps(key)}]", table, key)
    for key, items in arrays:
        for i, item in enumerate(items):
            _toml_table(lines, f"[[{json.dumps(key)}]]", item, f"{key}[{i}]")
    return "\n".join(lines) + "\n"


def _trace_dirs(section: dict[str, object], near: str) -> tuple[str, ...]:
    """Where the scenario's replay traces are looked up on restore: the directories stored
    with it (its file's directory when it was loaded), then ``near`` (the snapshot's)."""
    dirs: list[str] = []
    if "trace_dirs" in section:
        for d in field_list(section, "trace_dirs", "scenario"):
            if not isinstance(d, str):
                raise SnapshotError("scenario section: trace_dirs must be strings")
            dirs.append(d)
    if near and near not in dirs:
        dirs.append(near)
    return tuple(dirs)


def scenario_from_section(section: dict[str, object], near: str = "") -> Scenario:
    """Validate the stored scenario with the loader; it must come back unchanged."""
    from scenarios.loader import ScenarioError, load_text

    doc = field_dict(section, "doc", "scenario")
    source = field_str(section, "source", "scenario")
    try:
        text = toml_text(doc)
    except ValueError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    try:
        scn = load_text(text, source=source, default_name="scenario",
                        trace_dirs=_trace_dirs(section, near))
    except ScenarioError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    if scenario_doc(scn) != doc:
        raise SnapshotError("scenario section: the scenario does not load back as it was stored")
    return scn
