"""Every example in the ``--help`` texts runs as written.

The examples of each text (the lines under "examples:" that start with ``vmlab``; two or
more spaces end the command and start its comment) run in order in one fresh directory, so
a later example finds the files an earlier one wrote, exactly as a reader trying them would.
An example passes when it exits 0 and prints no complaint of vmlab's own on stderr (a
``--snapshot-at`` past the end of the run, for one). Exit status 1 is a result, not an error,
in two cases: ``snapshot diff`` (the snapshots differ) and a run stopped early with
``--until`` (the end expectations are judged where it stopped). The dashboard examples run
headless and quit once it is up.

The snapshot workflow's texts (``resume``, ``snapshot``) run in the fast suite; the others
(whole runs of several scenarios, ``compare`` and ``bench`` among them) in the slow one.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli.main import EPILOG, SUBCOMMANDS, main
from scenarios.flavour import flavour

#: Help texts whose examples take a few seconds (the rest are marked slow).
FAST_TEXTS = ("resume", "snapshot")


def help_texts() -> dict[str, str]:
    """Every help text with examples: 'vmlab --help' and each subcommand's."""
    texts = {"vmlab": EPILOG}
    for name, (module, _) in SUBCOMMANDS.items():
        doc = importlib.import_module(f"scenarios.cli.{module}").__doc__ or ""
        texts[name] = doc
    return {k: v for k, v in texts.items() if "examples:" in v}


def examples(text: str) -> list[str]:
    """The commands under "examples:" (without their comments)."""
    out: list[str] = []
    lines = text.split("examples:", 1)[1].splitlines()
    joined: list[str] = []
    for line in lines:  # a line ending in a backslash goes on on the next, as in a shell
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
        else:
            joined.append(line)
    for line in joined:
        if not line.strip():
            continue
        if not line.startswith("  "):
            break
        command = re.split(r"\s{2,}", line.strip())[0]
        if command == "vmlab" or command.startswith("vmlab ") or command.startswith("valgrind "):
            out.append(command)
    return out


def _served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """'vmlab serve' checks its arguments and boots its target, then would serve until
    Ctrl-C: here it returns at once (tests/serve serves for real). Returns the options it
    would have served with."""
    serve_mod = importlib.import_module("tui.serve")
    served: list[Any] = []
    monkeypatch.setattr(serve_mod, "serve", served.append)
    return served


def _headless_dashboard(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run the dashboard headless: up, two frames, quit. Returns the apps it ran."""
    from tui.app import VmlabApp

    ran: list[Any] = []
    original: Callable[..., Any] = VmlabApp.run

    def run(self: VmlabApp, *args: object, **kwargs: object) -> Any:
        async def pilot(p: Any) -> None:
            await p.pause()
            await p.pause()
            ran.append(self)
            self.exit()

        return original(self, headless=True, size=(120, 40), auto_pilot=pilot)

    monkeypatch.setattr(VmlabApp, "run", run)
    return ran


def _run_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> int:
    monkeypatch.chdir(tmp_path)
    apps = _headless_dashboard(monkeypatch)
    served = _served(monkeypatch)
    ran = 0
    for command in examples(help_texts()[name]):
        if command.startswith("valgrind "):  # the text shows recording by hand
            done = subprocess.run(shlex.split(command), capture_output=True, check=False)
            assert done.returncode == 0, f"{command}: exit status {done.returncode}"
            continue
        argv = shlex.split(command)[1:]
        if argv[:1] == ["serve"]:
            before = len(served)
        dashboards = len(apps)
        if argv[:1] == ["bench"] and flavour() != "compiled":
            # 'vmlab bench' measures the compiled build beside the pure one: from sources
            # alone it says so in one line
            assert main(argv) == 2
            assert "compiled" in capsys.readouterr().err
            continue
        code = main(argv)
        out = capsys.readouterr()
        result_1 = argv[:2] == ["snapshot", "diff"] or "--until" in argv
        allowed = (0, 1) if result_1 else (0,)
        assert code in allowed, f"{command}: exit status {code}\n{out.err}"
        complaints = [line for line in out.err.splitlines() if line.startswith("vmlab")]
        assert not complaints, f"{command}: {complaints}"
        if not argv or argv[0] == "tui":
            assert len(apps) == dashboards + 1, f"{command}: the dashboard did not come up"
        if argv[:1] == ["serve"]:
            assert len(served) == before + 1, f"{command}: nothing was served"
        ran += 1
    return ran


def test_every_help_text_has_examples() -> None:
    texts = help_texts()
    assert {"vmlab", "run", "resume", "snapshot", "tui", "compare"} <= set(texts)
    for name, text in texts.items():
        assert examples(text), name


@pytest.mark.parametrize("name", FAST_TEXTS)
def test_help_examples_run_as_written(name: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_examples(name, tmp_path, monkeypatch, capsys) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in help_texts() if n not in FAST_TEXTS))
def test_slow_help_examples_run_as_written(name: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    if name == "trace" and shutil.which("valgrind") is None:
        if os.environ.get("VMLAB_REQUIRE_VALGRIND") == "1":
            pytest.fail("valgrind is required (VMLAB_REQUIRE_VALGRIND=1) but not installed")
        pytest.skip("the trace examples record with valgrind, which is not installed")
    assert _run_examples(name, tmp_path, monkeypatch, capsys) > 0
