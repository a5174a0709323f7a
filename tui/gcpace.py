"""Paces Python's garbage collector with the dashboard's frames.

The model of a large machine holds millions of references (every page's expected words in
the data oracle, the swap map, the trace ring); a full collection of a 256 MiB machine under
swap load traverses them all and takes most of a second, and even a young-generation
collection that happens to run inside a model event stretches that event by tens of
milliseconds. Either freezes the screen and delays keys far beyond a frame.

While the dashboard runs, automatic collection is off. After each frame the pacer collects
the young generations, whose size is bounded by what one slice allocated, so the cost is
paid between frames in small steps. A full collection runs only when a session is dropped
(opening a scenario or loading a snapshot), when the user is waiting for a new model anyway.
The model itself leaves no cyclic garbage behind while it runs (measured: a full collection
after a whole swap-storm run finds nothing unreachable), so gen-2 garbage cannot build up.
``stop`` restores the collector as it was.

Nothing here touches the model.
"""

from __future__ import annotations

import gc
from typing import Final, final

#: The generation collected after each frame (0 and 1: the young generations).
YOUNG: Final = 1


@final
class GcPacer:
    """Turns automatic collection off while active and collects at chosen moments."""

    def __init__(self) -> None:
        #: True between start() and stop().
        self.active = False
        #: Whether the collector was enabled when start() was called.
        self.was_enabled = gc.isenabled()
        #: Young collections made (for tests).
        self.young_collections = 0
        #: Full collections made (for tests).
        self.full_collections = 0

    def start(self) -> None:
        """Take over: one full collection now, then no automatic collection."""
        if self.active:
            return
        self.was_enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        self.active = True

    def after_frame(self) -> None:
        """Collect the young generations (cheap: what one frame allocated)."""
        if self.active:
            gc.collect(YOUNG)
            self.young_collections += 1

    def full(self) -> None:
        """A full collection (a session was dropped: its model may be cyclic garbage)."""
        if self.active:
            gc.collect()
            self.full_collections += 1

    def stop(self) -> None:
        """Give the collector back as it was before start()."""
        if not self.active:
            return
        self.active = False
        if self.was_enabled:
            gc.enable()
