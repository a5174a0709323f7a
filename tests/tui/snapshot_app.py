"""The fixed entry point of the dashboard's tests: a small machine paused at a fixed event.

``make_app()`` boots tests/tui/tiny.toml (4 MiB of RAM, so the frame map and the SVG snapshots
stay small), dispatches PAUSED_AT events through the same driver the dashboard uses, and
returns the app paused, with no frame timer and no build flavour in the top bar, so every
screenshot of it is the same on every machine, compiled or not.

Run it by hand with ``python -m tests.tui.snapshot_app`` to see what the snapshots show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from scenarios.session import Session
from tui.app import VmlabApp

TINY: Final = Path(__file__).with_name("tiny.toml")
#: Event 30: the writer is in fsync waiting on writeback, the toucher and its child share
#: anonymous pages, and the disk has a queue.
PAUSED_AT: Final = 30


def make_session() -> Session:
    """A fresh boot of the tiny scenario."""
    return Session.load(str(TINY))


def make_app(events: int = PAUSED_AT, tick: bool = False) -> VmlabApp:
    """The dashboard on the tiny scenario, paused after ``events`` events."""
    app = VmlabApp(make_session(), running=False, flavour="", tick=tick)
    app.driver.step(events)
    return app


if __name__ == "__main__":
    make_app(tick=True).run()
