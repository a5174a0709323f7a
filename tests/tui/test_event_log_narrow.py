"""The event log at 80x24: its pane is 48 columns, and the detail must still show."""

from __future__ import annotations

from tui.view_io import EventRec, event_detail
from tui.widgets.event_log import NARROW, event_segments


def _text(ev: EventRec, width: int) -> str:
    return "".join(seg.text for seg in event_segments(ev, width))


def test_a_narrow_log_packs_its_columns_so_the_detail_shows() -> None:
    ev = EventRec(seq=7, time=87_429_494, kind="reclaim_page", pid=3, a=0x5C8, b=1, s="",
                  comm="hog", file="", pfn=0x5C8)
    detail = event_detail(ev)
    assert detail
    wide = _text(ev, 120)
    narrow = _text(ev, 48)
    # wide: fixed columns (time, task with its name, kind) before the detail
    assert wide.index(detail) == 10 + 1 + 12 + 1 + 15 + 1
    assert " hog " in wide
    # narrow: the columns lose their padding; the detail starts early enough that most of
    # it is inside 48 columns
    assert narrow.startswith("0.087429s 3 hog reclaim_page ")
    assert narrow.index(detail) <= 29
    assert _text(ev, NARROW) == wide and _text(ev, NARROW - 1) == narrow
