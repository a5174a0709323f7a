"""Snapshots of every released format version load through the migration chain, and the
behaviour version tells a resumed run from another model apart.

The fixtures (tests/scenarios/fixtures/, written by ``make_fixtures``) are one moment of a
small scenario as each format version wrote it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX, PAYLOAD_GENERATOR
from scenarios.behaviour import BEHAVIOUR_VERSION, UNRECORDED, behaviour_notice
from scenarios.cli.main import main
from scenarios.snapshot import (
    SNAPSHOT_VERSION,
    load_snapshot,
    read_snapshot_bytes,
    snapshot_bytes,
    snapshot_info,
)
from tests.scenarios.fixtures.make_fixtures import EVENTS, fixture_path, fixture_session

VERSIONS = list(range(1, SNAPSHOT_VERSION + 1))


@pytest.fixture(scope="module")
def fresh_hash() -> str:
    return fixture_session().state_hash()


def test_every_released_format_has_a_fixture() -> None:
    for version in VERSIONS:
        data = fixture_path(version).read_bytes()
        assert data[:8] == b"VMLABSNP"
        assert struct.unpack_from("<I", data, 8)[0] == version
    assert not fixture_path(SNAPSHOT_VERSION + 1).exists()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fixture_loads_and_runs_to_the_end(version: int) -> None:
    s = load_snapshot(fixture_path(version))
    assert s.events == EVENTS and s.kernel_spec.profile == "2.6.5"
    if version < 4:  # formats before the field: the behaviour is not recorded
        assert s.behaviour_version == UNRECORDED
    # formats before 5 wrote with the first payload generator, and the resumed run goes on
    # with it (the v4 fixture is compact: its described pages filled in with it too)
    assert s.kernel.oracle.generator == (PAYLOAD_GEN_SPLITMIX if version < 5 else
                                         PAYLOAD_GENERATOR)
    s.run()
    assert s.end_reason == "exited"
    results = s.evaluate_expectations()
    assert results and all(r.ok for r in results), results


def test_old_formats_migrate_to_one_and_the_same_state() -> None:
    """Formats 1 to 3 hold the very same moment: migrated, they are one state."""
    hashes = {load_snapshot(fixture_path(v)).state_hash() for v in VERSIONS if v < 4}
    assert len(hashes) == 1


def test_the_current_format_fixture_is_this_model(fresh_hash: str) -> None:
    """The newest fixture was written at this behaviour version, and this model still
    reaches its state: if this fails, a change altered the model's results; bump
    BEHAVIOUR_VERSION (scenarios/behaviour.py) and run
    ``python -m tests.scenarios.fixtures.make_fixtures``."""
    s = load_snapshot(fixture_path(SNAPSHOT_VERSION))
    assert s.behaviour_version == BEHAVIOUR_VERSION, "regenerate the current fixture"
    assert s.state_hash() == fresh_hash, "the model's behaviour changed: bump BEHAVIOUR_VERSION"
    # Saved again, it is the same document. The one field allowed to differ is the version
    # string of the vmlab that wrote it: "0.1.0" from an install, "0+unknown" from a source
    # tree, so the compressed bytes may differ while the content may not.
    again = read_snapshot_bytes(snapshot_bytes(s), "saved again")
    stored = read_snapshot_bytes(fixture_path(SNAPSHOT_VERSION).read_bytes(), "fixture")
    again.pop("vmlab_version")
    stored.pop("vmlab_version")
    assert again == stored


def test_resuming_another_behaviour_version_says_so_in_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = fixture_path(3)
    assert main(["resume", str(old)]) == 0
    err = capsys.readouterr().err
    notice = behaviour_notice(UNRECORDED, old.name)
    assert notice is not None
    assert err == f"vmlab resume: {notice}\n"
    assert "may go on differently" in err
    # the same state at this behaviour version resumes silently
    assert main(["resume", str(fixture_path(SNAPSHOT_VERSION))]) == 0
    assert capsys.readouterr().err == ""
    # saving a restored session keeps the version its past came from
    s = load_snapshot(old)
    s.step(3)
    again = tmp_path / "again.vmsnap"
    again.write_bytes(snapshot_bytes(s))
    assert snapshot_info(again)["behaviour_version"] == UNRECORDED
    assert behaviour_notice(BEHAVIOUR_VERSION, "x") is None
