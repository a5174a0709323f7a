"""The built-in scenarios (``scenarios/builtin/*.toml``) and name-or-path resolution.

Built-ins are package data, found with ``importlib.resources`` so that they work from a
checkout, a wheel or a zip. A scenario argument is a path when it names an existing file,
ends in ``.toml`` or contains a path separator; otherwise it is a built-in name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from scenarios.expect import suggest
from scenarios.loader import ScenarioError, load_path, load_text, read_path
from scenarios.schema import Scenario

SUFFIX = ".toml"


def _builtin_dir() -> Traversable:
    return resources.files("scenarios").joinpath("builtin")


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(
        entry.name[: -len(SUFFIX)]
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(SUFFIX) and entry.is_file()
    )


def builtin_text(name: str) -> str:
    """The TOML text of built-in ``name``.

    Raises:
        ScenarioError: there is no such built-in (with a did-you-mean).
    """
    entry = _builtin_dir().joinpath(name + SUFFIX)
    if not entry.is_file():
        names = builtin_names()
        raise ScenarioError(name, "", f"no built-in scenario or file of that name"
                                      f"{suggest(name, names)}; 'vmlab scenarios' lists them")
    return entry.read_text(encoding="utf-8")


def load_builtin(name: str) -> Scenario:
    """Load and validate built-in ``name``.

    Raises:
        ScenarioError: unknown name, or the built-in is invalid (a bug the tests catch).
    """
    return load_text(builtin_text(name), source=name + SUFFIX, default_name=name)


def list_builtin() -> list[tuple[str, str]]:
    """(name, description) of every built-in scenario, sorted by name."""
    return [(name, load_builtin(name).description) for name in builtin_names()]


def is_path(name_or_path: str) -> bool:
    """True when the argument names a file rather than a built-in."""
    return (
        name_or_path.endswith(SUFFIX)
        or os.sep in name_or_path
        or "/" in name_or_path
        or os.path.isfile(name_or_path)
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Load a scenario file, or a built-in by name.

    Raises:
        ScenarioError: the file or name does not resolve, or the scenario is invalid.
    """
    if is_path(name_or_path):
        return load_path(name_or_path)
    return load_builtin(name_or_path)


@dataclass(frozen=True)
class ScenarioText:
    """A scenario's TOML text with the names the loader reports it under.

    What ``vmlab sweep`` hands its workers: plain text travels to another process or another
    machine, where a file path or a built-in of a different version would not.
    """

    text: str
    source: str
    default_name: str

    def load(self) -> Scenario:
        """Parse and validate the text, as ``load_scenario`` would.

        Raises:
            ScenarioError: the scenario is invalid.
        """
        return load_text(self.text, source=self.source, default_name=self.default_name)


def scenario_text(name_or_path: str) -> ScenarioText:
    """The text of a scenario file, or of a built-in by name (``load_scenario``'s rules).

    Raises:
        ScenarioError: the file cannot be read, or there is no such built-in.
    """
    if is_path(name_or_path):
        p = Path(name_or_path)
        return ScenarioText(read_path(p), p.name, p.stem)
    return ScenarioText(builtin_text(name_or_path), name_or_path + SUFFIX, name_or_path)
