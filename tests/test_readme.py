"""The README's Python API example runs as written, and its two set-up commands stay first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    """The README's Python examples, but the fine-step one (tested on its own below)."""
    return [b for b in _all_python_blocks() if "step_until" not in b]


def _all_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_fine_step_example_runs_and_says_what_it_prints(
        capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = [b for b in _all_python_blocks() if "step_until" in b]
    scope: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), scope)
    printed = capsys.readouterr().out.strip()
    assert f"# {printed}" in code  # the comment shows the record it prints
    s = scope["s"]
    from scenarios.session import Session

    assert isinstance(s, Session)
    straight = Session.load("fork-cow")
    straight.run(until_events=3)
    assert s.state_hash() == straight.state_hash()


def test_readme_starts_with_the_two_setup_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert "vmlab run default" in blocks[0] or blocks[0].rstrip().endswith("vmlab")
    assert "pip install -e '.[test]'" in blocks[1] and "pytest" in blocks[1]


def test_python_api_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = _python_blocks()[0]
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "state hash:" in out
    assert "data verified: 1" in out
    assert "FAIL" not in out


def test_snapshot_api_example_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[1], str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "saved " in out and "resumed run ended alike" in out
    assert (tmp_path / "storm.vmsnap").exists()


def test_bug_report_walkthrough_commands_are_the_real_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walkthrough's figures (the report's straight-run command, the file size) are what
    the commands give."""
    from scenarios.cli.main import main
    from scenarios.snapshot.report import report

    text = README.read_text()
    assert "vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap" in text
    monkeypatch.chdir(tmp_path)
    assert main(["run", "swap-storm", "--snapshot-at", "1s", "--snapshot-out", "storm.vmsnap",
                 "--quiet"]) == 0
    straight = re.search(r"^vmlab run swap-storm .*$", report("storm.vmsnap"), re.M)
    assert straight is not None and f"`{straight.group(0)}`" in text
    size = (tmp_path / "storm.vmsnap").stat().st_size
    assert 120_000 <= size <= 180_000, "the README says about 150 KB"
