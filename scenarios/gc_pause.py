"""Building a machine with the cyclic garbage collector paused.

Booting a machine creates one ``struct page`` object per frame (a million for 4 GiB) and
restoring a snapshot creates as many again. With the collector running, each young
collection walks the new objects and the full collections that their number triggers walk
all of them, several times over: the collector took most of a big machine's boot. Nothing
built there is garbage, so the collector is paused while it runs, and the survivors are
then moved straight to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``), where
only the next full collection looks at them, once, instead of every young collection of the
run that follows.

Running a model is the other case: every trace record lives until 1024 newer ones push it
out of the ring, so with the default young-generation threshold (700 allocations) nearly all
of them survive two young collections into the oldest generation, and the full collections
their number then triggers walk the whole machine, hundreds of thousands of objects, again
and again (an eighth to a fifth of a compiled swap storm's CPU time). ``collector_relaxed``
raises the young threshold for a run so that such records die before the collector ever
looks at them.

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


#: Young-generation threshold while a model runs (CPython's default is 700): well above the
#: trace ring's 1024 records times the few objects each event allocates.
RUN_THRESHOLD0 = 50_000


@contextmanager
def collector_relaxed() -> Iterator[None]:
    """Raise the collector's young threshold to ``RUN_THRESHOLD0`` for the block (a model
    running), then restore the thresholds as they were."""
    before = gc.get_threshold()
    gc.set_threshold(RUN_THRESHOLD0, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
