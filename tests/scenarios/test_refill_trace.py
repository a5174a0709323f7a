"""``refill_page`` and ``activate`` records: every move between the active and the inactive
list is written, at the moment the page is on its new list, and the page step stops there."""

from __future__ import annotations

import pytest

from kernelmodel.include.page import PageActive, PageLRU
from kernelmodel.include.vmstat import REFILL_DEACTIVATED, REFILL_KEPT_ACTIVE, TraceEvent
from scenarios.session import Session

#: A file read twice (its pages go active), then a hog: reclaim ages the file's pages (not
#: mapped: deactivated) and the hog's (mapped: kept active until the swap tendency says so).
_AGING = """
name = "aging"
seed = 5
duration = "2s"
[machine]
memory = "4MiB"
disk = "64MiB"
swap = "8MiB"
[[files]]
path = "data"
size = "2MiB"
content = "pattern"
[[tasks]]
name = "reader"
program = ["open data", "read data 0 2MiB", "read data 0 2MiB", "sleep 500ms",
           "read data 0 2MiB", "exit 0"]
[[tasks]]
name = "hog"
program = ["sleep 300ms", "mmap 0x5000_0000 3MiB anon private rw",
           "touch 0x5000_0000 3MiB write", "touch 0x5000_0000 3MiB read", "exit 0"]
"""

_WHYS = {REFILL_DEACTIVATED: {"not mapped", "mapped, not referenced"},
         REFILL_KEPT_ACTIVE: {"mapped", "referenced", "anon, no swap"}}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("refill") / "aging.toml"
    path.write_text(_AGING)
    return str(path)


@pytest.mark.parametrize("profile", ["2.6.5", "2.6.6", "2.6.7"])
def test_every_move_between_the_lists_is_a_record_of_the_page_on_its_new_list(
        scenario: str, profile: str) -> None:
    s = Session.load(scenario, kernel=profile)
    k = s.kernel
    seen: dict[str, int] = {"deactivated": 0, "kept active": 0, "activate": 0}

    def look(ev: TraceEvent) -> None:
        if ev.kind == "refill_page":
            page = k.mem_map.pages[ev.a]
            decision, why = ev.s.split(": ", 1)
            assert why in _WHYS[ev.b], ev
            assert PageLRU(page) and PageActive(page) == (ev.b == REFILL_KEPT_ACTIVE), ev
            seen[decision] += 1
        elif ev.kind == "activate":
            page = k.mem_map.pages[ev.a]
            assert PageLRU(page) and PageActive(page), ev
            seen["activate"] += 1

    k.trace.vl_hook = look
    s.run()
    assert seen["deactivated"] == k.vmstat.pgdeactivate > 0
    assert seen["kept active"] > 0
    # pgactivate also counts shrink_list's activations (reclaim_page records)
    assert 0 < seen["activate"] <= k.vmstat.pgactivate


def test_the_page_step_stops_at_the_pages_refill_record(scenario: str) -> None:
    s = Session.load(scenario)
    first: list[TraceEvent] = []

    def look(ev: TraceEvent) -> None:
        if ev.kind == "refill_page" and ev.b == REFILL_DEACTIVATED and not first:
            first.append(ev)

    s.kernel.trace.vl_hook = look
    s.run()
    target = first[0]
    again = Session.load(scenario)
    stops: list[int] = []
    while again.position.records <= target.seq:
        if again.step_until("page", pfn=target.a) == "end":
            break
        rec = again.suspended_at
        if rec is not None:
            stops.append(rec.seq)
    assert target.seq in stops
    assert again.suspended_at is not None and again.suspended_at.s == target.s
