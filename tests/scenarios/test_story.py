"""The story: ``[[story]]`` validated by the loader, shown at its moment by the session,
printed by ``vmlab run``, kept by snapshots; every built-in has one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.cli.main import main
from scenarios.loader import ScenarioError, load_text
from scenarios.session import Session
from scenarios.snapshot import load_snapshot, save_snapshot
from tests.scenarios.fixtures.make_fixtures import fixture_path

BASE = """
name = "story"
duration = "10s"

[machine]
memory = "16MiB"

[[files]]
path = "log"
size = "1MiB"

[[tasks]]
name = "writer"
program = ["open log", "write log 0 4KiB x 64 random", "checkpoint dirtied", "fsync log",
           "checkpoint synced", "close log"]
"""

STORY = BASE + """
[[story]]
at = "start"
text = "the writer dirties 64 pages"

[[story]]
when = "nr_writeback > 0"
text = "writeback began"

[[story]]
at = "synced"
when = "nr_dirty == 0 and nr_writeback == 0"
text = "fsync returned, nothing dirty"

[[story]]
at = "synced"
when = "nr_dirty > 0"
text = "never shown: nothing is dirty after fsync"

[[story]]
at = "1ms"
text = "one millisecond"

[[story]]
at = "end"
when = "acked_bytes_lost == 0 and data_verified"
text = "nothing lost"
"""


def _error(extra: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        load_text(BASE + extra, source="s.toml")
    return str(exc.value)


@pytest.mark.parametrize("extra, want", [
    ('[[story]]\nat = "start"\n', 's.toml: story[0]: missing "text" (what to watch now'),
    ('[[story]]\ntext = "x"\n', "s.toml: story[0]: say when the text is shown: at = "),
    ('[[story]]\nat = "synched"\ntext = "x"\n',
     's.toml: story[0].at: "synched" is not "start", "end", a checkpoint a program records or '
     'a simulated time (300ms) (did you mean "synced"?)'),
    ('[[story]]\nat = "11s"\ntext = "x"\n',
     "s.toml: story[0].at: 11s is after the scenario's duration (10,000,000,000 ns)"),
    ('[[story]]\nat = "5KiB"\ntext = "x"\n', "s.toml: story[0].at: "),
    ('[[story]]\nwhen = "nr_dirtty > 0"\ntext = "x"\n',
     's.toml: story[0].when: unknown metric "nr_dirtty" (did you mean "nr_dirty"?)'),
    ('[[story]]\nwhen = "pgpgin == pgpgin@cold"\ntext = "x"\n',
     's.toml: story[0].when: no checkpoint named "cold"'),
    ('[[story]]\nwhen = "data_verified"\ntext = "x"\n',
     's.toml: story[0].when: "data_verified" is computed by the data oracle or the invariant '
     'checker, too costly to watch after every event; add at = "end" or a checkpoint'),
    ('[[story]]\nat = "end"\ntext = ""\n', "s.toml: story[0].text: the text is empty"),
    ('[[story]]\nat = "end"\ntext = "' + "x" * 601 + '"\n',
     "s.toml: story[0].text: 601 characters: a story text holds at most 600"),
    ('[[story]]\nat = "end"\ntext = "a\\u0007b"\n',
     "s.toml: story[0].text: control character U+0007 in the text"),
    ('[[story]]\nat = "end"\ntext = 3\n', "s.toml: story[0].text: expected a string, not "),
    ('[[story]]\nat = "end"\ntext = "x"\nwhy = "y"\n',
     's.toml: story[0]: unknown key "why" (expected one of: at, when, text)'),
    ('[story]\nat = "end"\ntext = "x"\n',
     "s.toml: story: expected an array of tables: write [[story]], not [story]"),
    ('[[story]]\nat = "end"\ntext = "x"\n' * 101, "s.toml: story: 101 entries: a story has at "
                                                  "most 100"),
])
def test_loader_refuses_bad_stories_in_one_line(extra: str, want: str) -> None:
    message = _error(extra)
    assert message.startswith(want), message
    assert "\n" not in message


def test_story_texts_come_at_their_moments_in_order() -> None:
    s = Session(load_text(STORY, source="s.toml"))
    assert [h.text for h in s.story] == ["the writer dirties 64 pages"]  # at boot
    assert s.story_text == "the writer dirties 64 pages"
    heard = []
    s.on_story(heard.append)
    assert s.run() == "end"
    texts = [h.text for h in s.story]
    assert texts == ["the writer dirties 64 pages", "writeback began", "one millisecond",
                     "fsync returned, nothing dirty", "nothing lost"]
    assert heard == s.story[1:]
    assert s.story_text == "nothing lost"
    by_text = {h.text: h for h in s.story}
    assert by_text["one millisecond"].time_ns >= 1_000_000
    synced = next(r for r in s.checkpoints if r.name == "synced")
    assert by_text["fsync returned, nothing dirty"].time_ns == synced.time_ns
    events = [h.event for h in s.story]
    assert events == sorted(events)


def test_story_is_the_same_however_the_run_is_sliced() -> None:
    whole = Session(load_text(STORY, source="s.toml"))
    whole.run()
    stepped = Session(load_text(STORY, source="s.toml"))
    while stepped.run(until_events=stepped.events + 7) != "end":
        pass
    assert stepped.story == whole.story


def test_until_does_not_show_the_end_texts() -> None:
    s = Session(load_text(STORY, source="s.toml"))
    s.run(until_checkpoint="dirtied")
    assert "nothing lost" not in [h.text for h in s.story]


def test_snapshot_keeps_the_story_as_it_stood(tmp_path: Path) -> None:
    s = Session(load_text(STORY, source="s.toml"))
    s.run(until_checkpoint="synced")
    path = tmp_path / "s.vmsnap"
    save_snapshot(s, str(path))
    back = load_snapshot(str(path))
    assert back.story == s.story
    assert back.story_text == "fsync returned, nothing dirty"
    back.run()
    s.run()
    assert back.story == s.story  # texts already shown are not shown again


def test_a_format_4_snapshot_has_shown_no_story() -> None:
    s = load_snapshot(str(fixture_path(4)))
    assert s.story == [] and s.story_text == ""


def test_run_prints_the_story_unless_quiet(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(STORY)
    out_json = tmp_path / "r.json"
    assert main(["run", str(path), "--json", str(out_json)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("story ")]
    assert len(lines) == 5
    assert lines[0].split() == ["story", "0s", "the", "writer", "dirties", "64", "pages"]
    assert lines[-1].endswith("  nothing lost")
    story = json.loads(out_json.read_text())["story"]
    assert [h["text"] for h in story][-1] == "nothing lost"
    assert main(["run", str(path), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", ["fsync-race-b", "page-cache-read"])
def test_a_builtin_shows_every_text_whose_condition_holds(name: str) -> None:
    s = Session.load(name)
    s.run()
    shown = {h.index for h in s.story}
    for i, item in enumerate(s.scenario.story):
        if item.when is None:
            assert i in shown, (name, item.describe())
    assert s.story_text == s.story[-1].text


@pytest.mark.parametrize("kernel, tail", [
    ("2.6.7", ["fsync waited over a second", "Nothing fsync acknowledged was lost"]),
    ("2.6.5", ["fsync returned at once", "Lost: the power cut took page 0"]),
])
def test_race_a_tells_what_each_kernel_did(kernel: str, tail: list[str]) -> None:
    s = Session.load("fsync-race-a", kernel=kernel)
    s.run()
    texts = [h.text for h in s.story]
    assert len(texts) == 4
    assert texts[0].startswith("Race A.") and texts[1].startswith("pdflush is stopped")
    assert all(t.startswith(w) for t, w in zip(texts[2:], tail, strict=True))


def test_conditions_read_the_same_values_as_metrics() -> None:
    from kernelmodel.include.vmstat import VMSTAT_NAMES
    from scenarios.expect import parse_check
    from scenarios.story import _DIRECT, _NOT_PLAIN, _reader

    s = Session(load_text(STORY, source="s.toml"))
    s.run(until_checkpoint="dirtied")
    s.step(20)
    names = [*_DIRECT, *(n for n in VMSTAT_NAMES if n not in _NOT_PLAIN)]
    check = parse_check(" and ".join(f"{n} >= 0" for n in names))
    read = _reader(check, frozenset(VMSTAT_NAMES))
    got = read(s.kernel)
    want = s.metrics()
    assert got == {n: want[n] for n in names}
    assert want["nr_pagecache"] > 0 and want["events"] > 0
