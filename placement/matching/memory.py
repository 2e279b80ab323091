"""Memory helpers shared by the engine and the services that build large object graphs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block that makes many small acyclic objects
    (records, dicts, rows): its repeated passes over the whole heap would otherwise cost a
    large share of the block's CPU. Restored as it was, even on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
