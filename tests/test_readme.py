"""The README's Python API example runs as written, and its two set-up commands stay first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_starts_with_the_two_setup_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert "vmlab run default" in blocks[0] or blocks[0].rstrip().endswith("vmlab")
    assert "pip install -e '.[test]'" in blocks[1] and "pytest" in blocks[1]


def test_python_api_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = _python_blocks()
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "state hash:" in out
    assert "data verified: 1" in out
    assert "FAIL" not in out
