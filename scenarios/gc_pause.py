"""Building a machine with the cyclic garbage collector paused.

Booting a machine creates one ``struct page`` object per frame (a million for 4 GiB) and
restoring a snapshot creates as many again. With the collector running, each young
collection walks the new objects and the full collections that their number triggers walk
all of them, several times over: the collector took most of a big machine's boot. Nothing
built there is garbage, so the collector is paused while it runs, and the survivors are
then moved straight to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``), where
only the next full collection looks at them, once, instead of every young collection of the
run that follows.

Host-side only: the model never sees the collector, and results are unchanged.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; afterwards, file what it built under the
    oldest generation and restore the collector as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
