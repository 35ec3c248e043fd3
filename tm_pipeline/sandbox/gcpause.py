"""Pause Python's cyclic garbage collector while building millions of acyclic objects.

Generation-2 collections rescan every live container, so building 1M trackings (or their
ground-truth rows) with the collector on spends much of its time collecting nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc(freeze_after: bool = False) -> Iterator[None]:
    """Disable the collector inside the block; `freeze_after` moves what was built out of its
    reach for good (long-lived store data), so later collections do not pause the server."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze_after:
            gc.freeze()
        if was_enabled:
            gc.enable()
